import { appendFileSync } from 'node:fs';
import { inject } from 'vitest';
import { formatResults, type ScenarioResult } from './scenario-result.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** JSON-lines file the fault suite's global setup collects results in (test:faults only). */
    faultsReport?: string;
  }
}

/**
 * Prints the scenario's line and hands it to the suite's summary (when run through
 * `npm run test:faults`, whose global setup collects the lines).
 */
export function recordScenario(result: ScenarioResult): void {
  console.log(`\n${formatResults([result])}\n`);
  const file = inject('faultsReport');
  if (file) appendFileSync(file, `${JSON.stringify(result)}\n`);
}
