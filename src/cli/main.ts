import { Command, CommanderError } from 'commander';
import { UserError } from '../errors.js';
import { redactText } from '../redact.js';
import { packageVersion } from './package-version.js';

/** A subcommand as `--help` lists it, and where its options and action are. */
interface Subcommand {
  name: string;
  description: string;
  /** Imports the command's module; its `define` adds the options, subcommands and action. */
  load(): Promise<(command: Command) => void>;
}

/**
 * Every subcommand, in the order `--help` lists them. A command's module is imported only
 * when argv names that command: `retention --help` imports none, `retention check` only
 * check.ts and what it needs. Importing them all up front took ~390 ms on the built CLI
 * (bullmq ~190 ms, the AWS SDK ~120 ms, ioredis ~80 ms, zod ~65 ms, mysql2 ~50 ms, pg ~40 ms,
 * each measured alone), which is more than the 150 ms `--help` may take in all.
 */
const SUBCOMMANDS: readonly Subcommand[] = [
  {
    name: 'check',
    description: 'validate the config and check every rule against the live databases and Redis; changes nothing',
    load: async () => (await import('./check.js')).defineCheck,
  },
  {
    name: 'plan',
    description: 'preview: how many rows each rule would delete or anonymize now (or at --now); changes nothing',
    load: async () => (await import('./plan.js')).definePlan,
  },
  {
    name: 'run',
    description: "sweep now: queue the sweeps on the workers' queue and work it until they finish",
    load: async () => (await import('./run.js')).defineRun,
  },
  {
    name: 'worker',
    description: 'the background service: schedules every rule and works sweeps until SIGTERM or SIGINT',
    load: async () => (await import('./worker.js')).defineWorker,
  },
  {
    name: 'sweeps',
    description: 'list sweeps recorded in the state database (most recent last); `sweeps cancel ID` ends a running one',
    load: async () => (await import('./sweeps.js')).defineSweeps,
  },
  { name: 'audit', description: 'read, verify and checkpoint the audit log', load: async () => (await import('./audit.js')).defineAudit },
  {
    name: 'erase',
    description: 'open an erasure request for one person and carry it out in every rule that declares a subject',
    load: async () => (await import('./erase.js')).defineErase,
  },
  {
    name: 'requests',
    description: 'list erasure requests with their deadlines and days left; `requests extend ID` extends one once',
    load: async () => (await import('./requests.js')).defineRequests,
  },
  {
    name: 'receipt',
    description: 'print the receipt of an erasure request: what was removed where, when, by whom, and the audit entries proving it',
    load: async () => (await import('./receipt.js')).defineReceipt,
  },
  {
    name: 'hold',
    description: "legal holds: keep a subject's items (in every rule, or one) or a whole rule from sweeps until released",
    load: async () => (await import('./hold.js')).defineHold,
  },
  {
    name: 'replay',
    description: 'after restoring a backup: erase again the people erased since it was taken, and sweep again the rules swept since',
    load: async () => (await import('./replay.js')).defineReplay,
  },
  {
    name: 'draft',
    description: "read a privacy policy's text and print draft rules (all commented out) for its retention promises, for a person to review",
    load: async () => (await import('./draft.js')).defineDraft,
  },
  {
    name: 'init',
    description: 'inspect a PostgreSQL database and write a starter config: its tables as commented-out candidate rules (retain: TODO) and personal-looking columns as an inventory proposal; nothing enabled',
    load: async () => (await import('./init.js')).defineInit,
  },
  {
    name: 'coverage',
    description: 'find personal data no rule covers: unlisted personal-looking columns, inventory entries without a rule, rules on missing tables (PostgreSQL stores only); exits 1 on a gap',
    load: async () => (await import('./coverage.js')).defineCoverage,
  },
  {
    name: 'sunset',
    description: 'service sunset: --plan lists what the inventory marks as personal data and what would happen to it; --execute --confirm TOKEN deletes or anonymizes it in every store, holds respected',
    load: async () => (await import('./sunset.js')).defineSunset,
  },
  {
    name: 'status',
    description: 'per rule last sweep, next run, lag, blocked and holds; requests, queue and audit chain; exits 1 when a promise is not being kept',
    load: async () => (await import('./status.js')).defineStatus,
  },
  {
    name: 'forecast',
    description: 'how many items each rule will remove in each of the coming weeks (default 8), from their anchors; changes nothing',
    load: async () => (await import('./forecast.js')).defineForecast,
  },
  {
    name: 'dashboard',
    description: 'serve a read-only web page of rules, sweeps, lag, blocked sweeps, requests, holds, the audit chain, the forecast and the queues (Bull Board), behind $RETENTION_DASHBOARD_TOKEN, on 127.0.0.1 unless --host says otherwise',
    load: async () => (await import('./dashboard.js')).defineDashboard,
  },
];

/**
 * The subcommand argv names: its first word (the program itself takes only options without
 * values, --help and --version), or the one after `help` (`retention help run`).
 */
function subcommandIn(argv: readonly string[]): string | undefined {
  const words = argv.filter((a) => !a.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}

/** The `retention` admin command. Returns the exit code instead of exiting, for tests. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('retention')
    .description('Keeps the retention promises of a privacy policy: scheduled, audited deletion and anonymization.')
    .version(packageVersion())
    .exitOverride()
    .showHelpAfterError(false);
  try {
    // Every subcommand is listed (for --help and "did you mean"); only the one named is defined in full.
    const named = subcommandIn(argv);
    for (const sub of SUBCOMMANDS) {
      const command = program.command(sub.name).description(sub.description);
      if (sub.name === named) (await sub.load())(command);
    }
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
