#!/usr/bin/env node
// The `retention` command as installed (package.json `bin`: dist/src/cli/bin.js, built by
// `npm run build`). scripts/retention.mjs runs this same file from the sources, through tsx.
import { main } from './main.js';

// Set from what main returns, never on top of it: a command reports its exit code by
// throwing a UserError with one (erase's 4), which main turns into its return value.
process.exitCode = await main(process.argv.slice(2));
