import { pino, type DestinationStream, type Level, type Logger } from 'pino';
import { UserError } from '../errors.js';

/** pino's levels, and `silent`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = Level | 'silent';
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** How the worker logs: read from the environment, checked before anything starts. */
export interface LogSettings {
  level: LogLevel;
  format: LogFormat;
  /** What was ignored (a generic `LOG_LEVEL` that is no level), to log once the log exists. */
  warnings?: string[];
}

/** Other names of a level, as other tools spell them. */
const LEVEL_ALIASES: Record<string, LogLevel> = { warning: 'warn' };

/** `text` as a pino level (any case, `warning` for warn), or null. */
function parseLevel(text: string): LogLevel | null {
  const level = text.toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  return LEVEL_ALIASES[level] ?? null;
}

/**
 * `RETENTION_LOG_LEVEL` (else `LOG_LEVEL`, else info) and `RETENTION_LOG_FORMAT` (else
 * pretty when stdout is a terminal, JSON lines otherwise: what a log collector reads).
 * A bad `RETENTION_LOG_LEVEL` or `RETENTION_LOG_FORMAT` is a UserError naming the variable
 * (exit 2). A bad `LOG_LEVEL` is ignored with a warning (`warnings`): the variable is
 * generic, set for other programs in the same environment, and must not stop this one.
 */
export function logSettings(env: NodeJS.ProcessEnv, stdoutIsTerminal: boolean): LogSettings {
  const warnings: string[] = [];
  let level: LogLevel = 'info';
  const own = env.RETENTION_LOG_LEVEL?.trim();
  const generic = env.LOG_LEVEL?.trim();
  if (own) {
    const parsed = parseLevel(own);
    if (!parsed) throw new UserError(`RETENTION_LOG_LEVEL: ${JSON.stringify(own)} is not a log level (${LOG_LEVELS.join(', ')})`);
    level = parsed;
  } else if (generic) {
    const parsed = parseLevel(generic);
    if (parsed) level = parsed;
    else warnings.push(`LOG_LEVEL: ${JSON.stringify(generic)} is not a log level (${LOG_LEVELS.join(', ')}); ignored, logging at info (RETENTION_LOG_LEVEL sets this worker's level)`);
  }
  const formatText = env.RETENTION_LOG_FORMAT?.trim();
  const format = formatText ? formatText.toLowerCase() : stdoutIsTerminal ? 'pretty' : 'json';
  if (!(LOG_FORMATS as readonly string[]).includes(format)) {
    throw new UserError(`RETENTION_LOG_FORMAT: ${JSON.stringify(formatText)} is not a log format (${LOG_FORMATS.join(', ')})`);
  }
  return { level, format: format as LogFormat, ...(warnings.length > 0 ? { warnings } : {}) };
}

/**
 * The worker's logger: JSON lines on stdout (or `destination`), or pino-pretty's readable
 * lines for a terminal. pino-pretty is imported only then, and runs in this thread (no
 * transport worker), so what the bundle leaves external loads as usual.
 */
export async function createWorkerLog(settings: LogSettings, destination?: DestinationStream): Promise<Logger> {
  const options = { name: 'retention-worker', level: settings.level };
  if (settings.format === 'json') return destination ? pino(options, destination) : pino(options);
  const { default: pretty } = await import('pino-pretty');
  // Colours only on a terminal (pino-pretty's own default), never into a given stream.
  return pino(options, pretty({ translateTime: 'SYS:standard', ignore: 'pid,hostname', sync: true, ...(destination ? { colorize: false, destination } : {}) }));
}
