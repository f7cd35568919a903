#!/usr/bin/env node
// `retention` for development: runs the TypeScript sources through tsx (a devDependency),
// so what runs is what is checked in, with no build to forget. The tests and `npm run
// retention` use it. The installed command is the built one (package.json `bin`,
// dist/src/cli/bin.js, from `npm run build`), which starts without compiling anything.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/bin.ts');
