import { databaseNow } from '../state/database-now.js';
import type { Command } from 'commander';
import { DateTime } from 'luxon';
import { UserError } from '../errors.js';
import { forecastRules, type Forecast, type RuleForecast } from '../report/forecast.js';
import { DEFAULT_FORECAST_WEEKS, MAX_FORECAST_WEEKS } from '../report/forecast-weeks.js';
import { formatTable } from './format-table.js';
import { CONFIG_OPTION, readConfig, selectRules, type ConfigOption } from './load-runtime.js';
import { parseInstant } from './parse-instant.js';
import { withStateOnly } from './with-state.js';

interface ForecastOptions extends ConfigOption {
  weeks?: string;
  now?: string;
  rule?: string;
  json?: boolean;
}

/** Week columns per table: a quarter, so a two-year forecast stays readable on a terminal. */
const WEEKS_PER_TABLE = 13;

/** The years --now may name (as `plan --now`): expiry must stay within years PostgreSQL reads. */
const NOW_YEARS = { from: 1900, to: 2999 };

/** `retention forecast`'s options and action; main.ts names and describes it, and imports this file only when the command runs. */
export function defineForecast(forecast: Command): void {
  forecast
    .option(...CONFIG_OPTION)
    .option('--weeks <n>', `how many weeks ahead, 1 to ${MAX_FORECAST_WEEKS} (default ${DEFAULT_FORECAST_WEEKS})`)
    .option('--rule <id>', 'only this rule')
    .option('--now <iso>', 'forecast from this instant instead of the state database clock, e.g. 2027-01-01T00:00:00Z')
    .option('--json', 'print JSON: {"now", "pendingAt", "weeks": [{"week", "start", "end"}], "rules": [{"id", "pending", "weeks", "total", ...}]}')
    .action(async (options: ForecastOptions) => {
      // Checked before anything is opened: a bad value is a usage error that touches nothing.
      const weeks = parseWeeks(options.weeks);
      const config = readConfig(options);
      const rules = selectRules(config, options.rule);
      const given = options.now === undefined ? null : parseNow(options.now, config.timezone);
      let result: Forecast | undefined;
      await withStateOnly(config, async (runtime) => {
        const now = given ?? (await databaseNow(runtime.state.db.pool));
        result = await forecastRules(runtime, rules, now, weeks);
      });
      const forecast = result!;
      console.log(options.json ? JSON.stringify(forecastJson(forecast)) : formatForecast(forecast, config.timezone, options.now === undefined));
      const failed = forecast.rules.filter((r) => r.error !== null);
      if (failed.length > 0) {
        throw new UserError(`forecast: ${failed.length} rule${failed.length === 1 ? '' : 's'} could not be counted: ${failed.map((r) => r.rule.id).join(', ')}`, { exitCode: 1 });
      }
    });
}

function parseWeeks(text: string | undefined): number {
  if (text === undefined) return DEFAULT_FORECAST_WEEKS;
  const weeks = /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  if (!(weeks >= 1 && weeks <= MAX_FORECAST_WEEKS)) throw new UserError(`--weeks: ${JSON.stringify(text)} is not a whole number of weeks from 1 to ${MAX_FORECAST_WEEKS}`);
  return weeks;
}

function parseNow(text: string, zone: string): Date {
  const now = parseInstant(text, '--now', zone);
  const year = now.getUTCFullYear();
  if (!(year >= NOW_YEARS.from && year <= NOW_YEARS.to)) {
    throw new UserError(`--now: ${JSON.stringify(text)} is outside the years ${NOW_YEARS.from}-${NOW_YEARS.to} that forecast counts from`);
  }
  return now;
}

const total = (r: RuleForecast) => (r.weeks === null ? null : r.weeks.reduce((a, b) => a + b, 0));

function forecastJson(f: Forecast) {
  return {
    now: f.now.toISOString(),
    pendingAt: f.pendingAt.toISOString(),
    weeks: f.weeks.map((w) => ({ week: w.week, start: w.start.toISOString(), end: w.end.toISOString() })),
    rules: f.rules.map((r) => ({
      id: r.rule.id,
      action: r.rule.action,
      store: r.rule.store,
      target: r.target,
      retain: r.rule.retain,
      pending: r.pending,
      weeks: r.weeks,
      total: total(r),
      held: r.held,
      onHold: r.ruleHold ? { id: r.ruleHold.id, reason: r.ruleHold.reason, until: r.ruleHold.until?.toISOString() ?? null } : null,
      error: r.error,
    })),
  };
}

/** The forecast as tables of rules by weeks (a quarter per table), then what each figure leaves out. */
export function formatForecast(f: Forecast, zone: string, databaseClock: boolean): string {
  const first = f.weeks[0]!;
  const local = (d: Date) => DateTime.fromJSDate(d, { zone });
  const out = [
    `now: ${f.now.toISOString()}${databaseClock ? ' (state database clock)' : ' (--now)'}`,
    `Items reaching the end of their retention period, per rule and week. "pending": already past it and still present.`,
    `Each week starts on the date shown at ${local(first.start).toFormat('HH:mm:ss')} ${zone} and lasts 7 days; week 1 starts ${first.start.toISOString()}, week ${f.weeks.length} ends ${f.weeks[f.weeks.length - 1]!.end.toISOString()}.`,
  ];
  const cell = (n: number | null | undefined) => (n === null || n === undefined ? '-' : n);
  for (let i = 0; i < f.weeks.length; i += WEEKS_PER_TABLE) {
    const chunk = f.weeks.slice(i, i + WEEKS_PER_TABLE);
    const firstTable = i === 0;
    const lastTable = i + WEEKS_PER_TABLE >= f.weeks.length;
    out.push(
      '',
      formatTable(
        ['rule', ...(firstTable ? ['pending'] : []), ...chunk.map((w) => local(w.start).toFormat(f.weeks.length > 52 ? 'yy-MM-dd' : 'MM-dd')), ...(lastTable ? [`${f.weeks.length} weeks`] : [])],
        f.rules.map((r) => [
          r.rule.id,
          ...(firstTable ? [cell(r.pending)] : []),
          ...chunk.map((w) => cell(r.weeks?.[w.week - 1])),
          ...(lastTable ? [cell(total(r))] : []),
        ]),
      ),
    );
  }
  const notes = f.rules.flatMap((r) => {
    const id = r.rule.id;
    return [
      ...(r.error !== null ? [`${id}: could not be counted: ${r.error}`] : []),
      ...(r.held === 'excluded' ? [`${id}: items of subjects on legal hold are left out (a sweep keeps them)`] : []),
      ...(r.held === 'included' ? [`${id}: items of subjects on legal hold are counted: set RETENTION_AUDIT_KEY to leave them out`] : []),
      ...(r.ruleHold
        ? [`${id}: on legal hold ${r.ruleHold.id} (${r.ruleHold.reason})${r.ruleHold.until ? `, until ${r.ruleHold.until.toISOString()}` : ', until released'}: nothing is removed while it lasts, whatever the weeks show`]
        : []),
      ...(r.rule.action === 'expire' ? [`${id}: keys Redis deletes by itself at the end of their period (action: expire)`] : []),
    ];
  });
  if (notes.length > 0) out.push('', ...notes);
  return out.join('\n');
}
