import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_AUDIT_KEY } from '../../helpers/audit-key-setup.js';
import { stopOnExit } from './exit-guard.js';
import { GiveUp, waitFor } from './wait-for.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(REPO_ROOT, 'scripts', 'retention.mjs');

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartOptions {
  /** Names the log files: `<logDir>/<name>.stdout.log`. */
  name: string;
  logDir: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * One real `retention` CLI process (`node scripts/retention.mjs ...`), as an operator or a
 * service manager would start it. Output goes to log files (kept for diagnostics) and is
 * kept in memory so a scenario can wait for a log line. Only processes started here are
 * ever signalled, by their own pid.
 */
export class RetentionProcess {
  readonly name: string;
  readonly args: readonly string[];
  readonly exited: Promise<ExitStatus>;
  readonly #child: ChildProcess;
  readonly #stdout: string[] = [];
  #stderr = '';
  #partial = '';
  #status: ExitStatus | null = null;

  private constructor(args: readonly string[], options: StartOptions) {
    this.name = options.name;
    this.args = args;
    this.#child = spawn(process.execPath, [CLI, ...args], {
      cwd: REPO_ROOT,
      // Every command that appends to or verifies the audit log needs the audit key.
      env: { RETENTION_AUDIT_KEY: TEST_AUDIT_KEY, ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = createWriteStream(join(options.logDir, `${options.name}.stdout.log`));
    const err = createWriteStream(join(options.logDir, `${options.name}.stderr.log`));
    this.#child.stdout?.on('data', (chunk: Buffer) => {
      out.write(chunk);
      const text = this.#partial + chunk.toString();
      const lines = text.split('\n');
      this.#partial = lines.pop() ?? '';
      this.#stdout.push(...lines);
    });
    this.#child.stderr?.on('data', (chunk: Buffer) => {
      err.write(chunk);
      this.#stderr = (this.#stderr + chunk.toString()).slice(-50_000);
    });
    const forget = stopOnExit(() => this.#child.kill('SIGKILL'));
    this.exited = new Promise<ExitStatus>((resolve) => {
      this.#child.once('exit', (code, signal) => {
        forget();
        if (this.#partial) this.#stdout.push(this.#partial);
        this.#partial = '';
        this.#status = { code, signal };
        closeAll([out, err]).then(() => resolve({ code, signal }), () => resolve({ code, signal }));
      });
    });
  }

  static start(args: readonly string[], options: StartOptions): RetentionProcess {
    return new RetentionProcess(args, options);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get running(): boolean {
    return this.#status === null;
  }

  /** Complete stdout lines so far. */
  stdoutLines(): readonly string[] {
    return this.#stdout;
  }

  stdout(): string {
    return this.#stdout.join('\n') + (this.#partial ? `\n${this.#partial}` : '');
  }

  stderr(): string {
    return this.#stderr;
  }

  /** The worker's pino log: stdout lines that parse as JSON objects. */
  logEntries(): { msg?: string; err?: string; [key: string]: unknown }[] {
    const entries = [];
    for (const line of this.#stdout) {
      if (!line.startsWith('{')) continue;
      try {
        entries.push(JSON.parse(line) as { msg?: string; err?: string });
      } catch {
        // not a log line
      }
    }
    return entries;
  }

  /** Waits for a log entry with this message; fails early if the process exits first. */
  async waitForLog(msg: string, timeoutMs: number, after = 0): Promise<void> {
    await waitFor(
      () => {
        if (this.logEntries().slice(after).some((e) => e.msg === msg)) return true;
        if (!this.running) throw new ExitedError(this, `exited before logging "${msg}"`);
        return false;
      },
      { what: `${this.name} to log "${msg}"`, timeoutMs },
    ).catch((error: unknown) => {
      throw error instanceof ExitedError ? error : new Error(`${(error as Error).message}\n${this.describe()}`);
    });
  }

  /** Sends `signal` and waits for the process to exit. */
  async kill(signal: NodeJS.Signals): Promise<ExitStatus> {
    if (this.running) this.#child.kill(signal);
    return this.exited;
  }

  /** Waits for the process to exit on its own, SIGKILLing it after `timeoutMs`. */
  async finish(timeoutMs: number): Promise<ExitStatus> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const result = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') {
      await this.kill('SIGKILL');
      throw new Error(`${this.name} did not finish within ${timeoutMs} ms\n${this.describe()}`);
    }
    return result;
  }

  /** The command, its exit and the tail of its output, for failure messages. */
  describe(): string {
    const status = this.#status ? `exited code=${this.#status.code} signal=${this.#status.signal}` : 'running';
    return [
      `--- ${this.name}: retention ${this.args.join(' ')} (${status})`,
      `stdout (tail):\n${this.#stdout.slice(-15).join('\n')}`,
      `stderr (tail):\n${this.#stderr.slice(-3_000)}`,
    ].join('\n');
  }
}

class ExitedError extends GiveUp {
  constructor(process: RetentionProcess, what: string) {
    super(`${process.name} ${what}\n${process.describe()}`);
  }
}

function closeAll(streams: WriteStream[]): Promise<void[]> {
  return Promise.all(streams.map((s) => new Promise<void>((resolve) => s.end(() => resolve()))));
}
