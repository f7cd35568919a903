import { ANCHOR_WORDS } from './anchor-event.js';
import type { FoundPromise, PolicyPromises } from './find-promises.js';

/**
 * The draft YAML `retention draft` prints: every candidate commented out, so the whole
 * text parses as an empty document and nothing runs until a person uncomments a rule.
 * Lines starting `# ` are YAML once uncommented; lines starting `##` are notes.
 */
export function renderDraft(file: string, found: PolicyPromises): string {
  const retention = found.promises.filter((p) => p.kind === 'retention');
  const deadlines = found.promises.filter((p) => p.kind === 'deadline');
  const out: string[] = [
    `## retention draft: candidate rules from ${file}`,
    `## ${retention.length} retention period(s), ${deadlines.length} answer deadline(s), ${found.undecided.length} promise(s) that need a human decision.`,
    '## Nothing here is enabled: every candidate is commented out. For each one, read the quoted',
    '## sentence, fill in the TODOs (store, table, anchor column), then uncomment it. Periods are',
    "## the policy's own words; where the text gives none, none is invented.",
    '#',
  ];
  const ids = new Map<string, number>();
  if (retention.length === 0) out.push('## No retention period with a number was found.');
  else out.push('# rules:');
  retention.forEach((p, i) => {
    out.push(`## ${i + 1}. ${describe(p)}: "${p.period}"`);
    out.push(`#   - id: ${uniqueId(ids, p)}`);
    out.push('#     store: TODO');
    out.push('#     table: TODO');
    out.push(`#     anchor: TODO  ## the column holding ${p.anchor ? `the date of ${ANCHOR_WORDS[p.anchor]}` : 'the date the period counts from (the sentence does not say)'}`);
    if (typeof p.duration === 'string') out.push(`#     retain: ${p.duration}`);
    else out.push(`#     retain: TODO  ## ${p.duration.workingDays} working days: ISO-8601 has no working days; choose calendar days that cover them`);
    out.push('#     action: delete  ## or anonymize, as the policy allows');
    out.push(`#     source: ${quote(p)}`);
  });
  if (deadlines.length > 0) {
    out.push('#');
    out.push('## Answer deadlines, for the `requests:` section (`due:` the time to answer, `extension:` the');
    out.push('## longest extension); copy the ones that apply:');
    for (const p of deadlines) {
      out.push(`## - ${describe(p)}: "${p.period}"`);
      out.push(`##     due: ${dueText(p.duration)}`);
      out.push(`##     source: ${quote(p)}`);
    }
  }
  if (found.undecided.length > 0) {
    out.push('#');
    out.push('## Needs a human decision: these sentences promise to keep or delete data but give no period.');
    out.push('## Choose one (and say why in `source`), or record that none applies:');
    for (const u of found.undecided) out.push(`## - (${u.reason}) ${JSON.stringify(u.section ? `${u.section}: ${u.sentence}` : u.sentence)}`);
  }
  if (found.setAside.length > 0) {
    out.push('#');
    out.push('## Numbers with a unit read and set aside as not periods:');
    for (const s of found.setAside) out.push(`## - "${s.text}" (${s.reason}): ${JSON.stringify(s.sentence)}`);
  }
  return `${out.join('\n')}\n`;
}

/** "login-log, counted from the payment" and the like. */
function describe(p: FoundPromise): string {
  const what = p.category ?? (p.kind === 'deadline' ? 'a request' : 'data of a kind the sentence does not name');
  const from = p.anchor ? `counted from ${ANCHOR_WORDS[p.anchor]}` : 'counted from an event the sentence does not name';
  return `${what}, ${from}`;
}

/** `source:` as YAML: the section heading (when found) and the sentence, quoted. */
const quote = (p: FoundPromise): string => JSON.stringify(p.section ? `${p.section}: ${p.sentence}` : p.sentence);

/** `photo-180-days`, `login-log-6-months`; a second one with the same name gets `-2`. */
function uniqueId(seen: Map<string, number>, p: FoundPromise): string {
  const unit = p.amount === 1 ? p.unit.replace(/s$/, '') : p.unit;
  const base = `${p.category ?? 'data'}-${p.amount}-${unit}`;
  const n = (seen.get(base) ?? 0) + 1;
  seen.set(base, n);
  return n === 1 ? base : `${base}-${n}`;
}

/**
 * A deadline as `requests:` takes it: whole days or working days. One in hours (PT72H)
 * would be refused there, so it is left for the reader to turn into days.
 */
function dueText(duration: string | { workingDays: number }): string {
  if (typeof duration !== 'string') return `{ workingDays: ${duration.workingDays} }`;
  return duration.includes('T') ? `TODO  ## ${duration}: a request deadline is whole days; choose the days that cover it` : duration;
}
