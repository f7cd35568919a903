import type { PolicyWorld } from './policy-world.js';

interface ListedEntry {
  entry: { event: string; ruleId?: string; dryRun?: boolean; incident?: { found: number; held?: number } };
}

/**
 * The never-store incidents `retention audit list --json` reports, by rule: the number of
 * items each rule's sweeps found present (their closing entries' `incident.found`).
 * Rules whose sweeps found nothing are absent.
 */
export async function incidentsByRule(world: PolicyWorld): Promise<Record<string, number>> {
  const listed = await world.cli(['audit', 'list', '--json', '--limit', '1000']);
  if (listed.code !== 0) throw new Error(`audit list exited ${listed.code}: ${listed.stderr}`);
  const out: Record<string, number> = {};
  for (const { entry } of JSON.parse(listed.stdout) as ListedEntry[]) {
    if (entry.incident && entry.ruleId) out[entry.ruleId] = (out[entry.ruleId] ?? 0) + entry.incident.found;
  }
  return out;
}
