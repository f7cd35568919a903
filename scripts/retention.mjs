#!/usr/bin/env node
// The `retention` command. Runs the TypeScript sources through tsx, so there is no build
// step to forget and what runs is always what is checked in.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
