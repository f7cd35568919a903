import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { REPO_ROOT } from './retention-process.js';
import { formatResults, missingScenarios, type ScenarioResult } from './scenario-result.js';
import { reliabilityDoc } from './reliability-doc.js';

/**
 * Global setup of `npm run test:faults`: collects every scenario's result line, prints the
 * summary table at the end and, for a run of the whole full suite, writes it to
 * docs/reliability.md (failures included: the document says what the product does today).
 */
export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'retention-faults-report-'));
  const file = join(dir, 'results.jsonl');
  writeFileSync(file, '');
  project.provide('faultsReport', file);
  const started = new Date();
  return () => {
    try {
      const results = readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as ScenarioResult);
      if (results.length === 0) return;
      console.log(`\nFault-injection suite (${process.env.FAULTS_FULL === '1' ? 'full' : 'short'}):\n${formatResults(results)}\n`);
      const full = process.env.FAULTS_FULL === '1';
      const missing = missingScenarios(results);
      if (full && missing.length === 0) {
        const target = join(REPO_ROOT, 'docs', 'reliability.md');
        writeFileSync(target, reliabilityDoc(results, started) + handWritten(target));
        console.log(`summary written to ${target}`);
      } else if (full) {
        console.log(`docs/reliability.md not updated: this run did not include ${missing.join(', ')}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/**
 * The part of docs/reliability.md written by hand (the hardening guarantees, from its
 * heading to the end), kept when the suite rewrites the generated part above it.
 */
export const HAND_WRITTEN_HEADING = '## Hardening: what is guaranteed against deleting the wrong thing';

function handWritten(target: string): string {
  const existing = existsSync(target) ? readFileSync(target, 'utf8') : '';
  const at = existing.indexOf(HAND_WRITTEN_HEADING);
  return at === -1 ? '' : `\n${existing.slice(at)}`;
}
