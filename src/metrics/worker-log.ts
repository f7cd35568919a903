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
}

/**
 * `RETENTION_LOG_LEVEL` (else `LOG_LEVEL`, else info) and `RETENTION_LOG_FORMAT` (else
 * pretty when stdout is a terminal, JSON lines otherwise: what a log collector reads).
 * A value that is not one of them is a UserError naming the variable (exit 2).
 */
export function logSettings(env: NodeJS.ProcessEnv, stdoutIsTerminal: boolean): LogSettings {
  const [levelVariable, levelText] = env.RETENTION_LOG_LEVEL?.trim()
    ? ['RETENTION_LOG_LEVEL', env.RETENTION_LOG_LEVEL.trim()]
    : env.LOG_LEVEL?.trim()
      ? ['LOG_LEVEL', env.LOG_LEVEL.trim()]
      : [null, 'info'];
  const level = levelText.toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UserError(`${levelVariable}: ${JSON.stringify(levelText)} is not a log level (${LOG_LEVELS.join(', ')})`);
  }
  const formatText = env.RETENTION_LOG_FORMAT?.trim();
  const format = formatText ? formatText.toLowerCase() : stdoutIsTerminal ? 'pretty' : 'json';
  if (!(LOG_FORMATS as readonly string[]).includes(format)) {
    throw new UserError(`RETENTION_LOG_FORMAT: ${JSON.stringify(formatText)} is not a log format (${LOG_FORMATS.join(', ')})`);
  }
  return { level: level as LogLevel, format: format as LogFormat };
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
