#!/usr/bin/env node
// Runs dependency-cruiser with .dependency-cruiser.cjs over src/ and jobs/ and fails on a
// forbidden import. Through its API rather than the `depcruise` binary: the binary of the
// installed version refuses Node 20 (its engines say ^22), the API runs on it unchanged.
import { createRequire } from 'node:module';
import { cruise, format } from 'dependency-cruiser';

const require = createRequire(import.meta.url);
const config = require('../.dependency-cruiser.cjs');
const targets = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['src', 'jobs'];

const result = await cruise(
  targets,
  { ...config.options, validate: true, ruleSet: { forbidden: config.forbidden } },
  undefined,
  { tsConfig: config.options.tsConfig },
);
const report = await format(result.output, { outputType: 'err' });
process.stdout.write(report.output);
const { error, warn, totalCruised } = result.output.summary;
if (error === 0) console.log(`layers: ${totalCruised} modules, no forbidden import (${warn} warnings)`);
process.exit(error > 0 ? 1 : 0);
