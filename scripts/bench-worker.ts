import { appendFileSync } from 'node:fs';
import { main } from '../src/cli/main.js';
import { onStatement } from './bench-probe.js';
import { BENCH_STATEMENTS } from './bench-data.js';

/**
 * `retention worker` exactly as the CLI runs it, plus the benchmark's statement probe: each
 * DELETE/UPDATE on the benchmark's tables is appended to $BENCH_STATEMENT_LOG as a JSON line.
 */
const log = process.env.BENCH_STATEMENT_LOG;
if (log) onStatement(BENCH_STATEMENTS, (timing) => appendFileSync(log, `${JSON.stringify(timing)}\n`));
process.exitCode = await main(process.argv.slice(2));
