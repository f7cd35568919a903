/**
 * Errors a user can fix (bad config, unknown table, unreachable service). The CLI prints
 * only their message, never a stack trace, and exits non-zero. Anything else is a bug or
 * an unexpected failure and is printed in full.
 */
export class UserError extends Error {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number;

  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UserError';
    this.exitCode = options.exitCode ?? 2;
  }
}

/** One problem found in a config, with the place it was found (`rules[2].retain`). */
export interface ConfigProblem {
  path: string;
  message: string;
  /**
   * `warning`: worth a person's attention but not wrong (`check` prints it and still
   * succeeds; commands that act ignore it). Absent means an error.
   */
  severity?: 'warning';
}

/** True for a problem that blocks: anything not marked as a warning. */
export const isError = (problem: ConfigProblem): boolean => problem.severity !== 'warning';

/** A config that failed validation; carries every problem, not just the first. */
export class ConfigError extends UserError {
  readonly file: string;
  readonly problems: readonly ConfigProblem[];

  constructor(file: string, problems: readonly ConfigProblem[]) {
    super(ConfigError.format(file, problems));
    this.name = 'ConfigError';
    this.file = file;
    this.problems = problems;
  }

  static format(file: string, problems: readonly ConfigProblem[]): string {
    const lines = problems.map((p) => `${file}: ${p.path ? `${p.path}: ` : ''}${p.message}`);
    const head = problems.length === 1 ? '' : `${problems.length} problems in ${file}:\n`;
    return head + lines.join('\n');
  }
}
