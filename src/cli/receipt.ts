import type { Command } from 'commander';
import { requireAuditKey } from '../audit/audit-key.js';
import { UserError } from '../errors.js';
import { buildReceipt, type Receipt } from '../people/receipt.js';
import { subjectDigest } from '../people/subject-digest.js';
import { formatTable } from './format-table.js';
import { withStateOnly } from './with-state.js';
import { CONFIG_OPTION, readConfig, type ConfigOption } from './load-runtime.js';

interface ReceiptOptions extends ConfigOption {
  json?: boolean;
  subject?: string;
}

/** `retention receipt`'s options and action; main.ts names and describes it, and imports this file only when the command runs. */
export function defineReceipt(receipt: Command): void {
  receipt
    .argument('<request>', 'the request id (req-...)')
    .option(...CONFIG_OPTION)
    .option('--subject <id>', 'check that the receipt is about this person (recomputes the keyed digest)')
    .option('--json', 'print the receipt as JSON')
    .action(async (id: string, options: ReceiptOptions) => {
      await withStateOnly(readConfig(options), async (runtime) => {
        const receipt = await buildReceipt(runtime.state, id);
        if (!receipt) throw new UserError(`no request ${JSON.stringify(id)} in ${runtime.state.schema} (a request's record is removed when it reaches requests.keep; the ledger keeps only a digest)`);
        if (options.subject !== undefined) {
          const digest = subjectDigest(requireAuditKey(runtime.auditKey), options.subject);
          if (digest !== receipt.subject) throw new UserError(`request ${id} is not about the subject given (its digest differs)`, { exitCode: 1 });
        }
        if (options.json) console.log(JSON.stringify(receipt));
        else printReceipt(receipt);
      });
    });
}

/** The receipt as text: the request, then one line per rule, then the audit entries cited. */
export function printReceipt(receipt: Receipt): void {
  console.log(`request ${receipt.requestId}: ${receipt.status}${receipt.waitingReason ? ` (${receipt.waitingReason})` : ''}`);
  console.log(`  subject digest ${receipt.subject}`);
  console.log(`  received ${receipt.receivedAt}, due ${receipt.dueAt}${receipt.extended ? ` (extended from ${receipt.originalDueAt}: ${receipt.extended.reason ?? ''})` : ''}`);
  if (receipt.completedAt) console.log(`  completed and verified ${receipt.verifiedAt ?? receipt.completedAt}`);
  console.log(
    formatTable(
      ['rule', 'store', 'target', 'action', 'status', 'items', 'cascaded', 'done', 'by', 'audit'],
      receipt.rules.map((r) => [
        r.rule,
        r.store,
        r.target,
        r.action,
        r.status,
        r.rows,
        r.cascaded ? Object.entries(r.cascaded).map(([t, n]) => `${t}: ${n}`).join(', ') : '',
        r.doneAt ?? '',
        r.doneBy ?? '',
        r.entries.map((e) => `#${e.seq}`).join(' '),
      ]),
    ),
  );
  console.log('audit entries (check with `retention audit verify`):');
  for (const e of receipt.entries) console.log(`  #${e.seq} ${e.at} ${e.event} rows=${e.rows} hash=${e.hash}`);
}
