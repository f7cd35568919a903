import { Command, CommanderError } from 'commander';
import { UserError } from '../errors.js';
import { redactText } from '../redact.js';
import { registerAudit } from './audit.js';
import { registerErase } from './erase.js';
import { registerReceipt } from './receipt.js';
import { registerReplay } from './replay.js';
import { registerRequests } from './requests.js';
import { registerCheck } from './check.js';
import { registerHold } from './hold.js';
import { registerPlan } from './plan.js';
import { registerRun } from './run.js';
import { registerSweeps } from './sweeps.js';
import { registerWorker } from './worker.js';

/** The `retention` admin command. Returns the exit code instead of exiting, for tests. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('retention')
    .description('Keeps the retention promises of a privacy policy: scheduled, audited deletion and anonymization.')
    .exitOverride()
    .showHelpAfterError(false);
  registerCheck(program);
  registerPlan(program);
  registerRun(program);
  registerWorker(program);
  registerSweeps(program);
  registerAudit(program);
  registerErase(program);
  registerRequests(program);
  registerReceipt(program);
  registerHold(program);
  registerReplay(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof UserError) {
      // A mistake the user can fix: the message says what and where; no stack trace.
      console.error(`retention: ${redactText(error.message)}`);
      return error.exitCode;
    }
    console.error('retention: unexpected failure (a bug, or a service failing in an unexpected way):');
    console.error(redactText(error instanceof Error ? (error.stack ?? error.message) : String(error)));
    return 1;
  }
}
