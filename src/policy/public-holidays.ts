import { createRequire } from 'node:module';
import type Holidays from 'date-holidays';

/**
 * Public holidays of a country (`CN`) or one of its states (`US-CA`), from the maintained
 * date-holidays data, as the calendar dates (`2026-10-01`) a working-days deadline skips.
 *
 * Only `type: public` holidays count (not bank, school, optional or observance days), and
 * only the days a holiday covers whole: China's 8 March, 4 May and 1 August are half days
 * for some groups (from 12:00), and Islamic holidays start at the previous day's sunset;
 * neither gives the office that afternoon's or evening's day off.
 *
 * Known gap: date-holidays lists China's statutory days only (National Day 1-3 October,
 * three days of Spring Festival, 1 May), not the State Council's yearly schedule: neither
 * the bridge days that make the seven-day weeks (4-7 October 2026) nor the weekend days
 * that become working days (20 September and 10 October 2026). For China, write that year's
 * schedule as explicit `holidays:` and `workdays:` lists instead.
 *
 * Holidays the data annotates (a `note`: for one group only, except an industry, tentative)
 * are not skipped, whatever the note says: counting such a day as a working day can only
 * bring a deadline earlier, and a deadline later than the promise is the failure to avoid.
 * India's notes merely describe the day, so its Republic Day counts as a working day too.
 */

// Loaded on first use, not at import: reading the data costs about 300 ms, which every
// command would pay even when no deadline counts working days.
let library: typeof Holidays | undefined;
const load = (): typeof Holidays => (library ??= createRequire(import.meta.url)('date-holidays') as typeof Holidays);

const REGION = /^([A-Z]{2})(?:-([A-Z0-9]{1,3}))?$/;
const DAY_MS = 86_400_000;

/** Why `region` (`CN`, `US-CA`) is not one date-holidays knows, or undefined when it is. */
export function holidayRegionProblem(region: string): string | undefined {
  const match = REGION.exec(region);
  if (!match) {
    const upper = region.toUpperCase();
    if (upper !== region && REGION.test(upper) && holidayRegionProblem(upper) === undefined) return `${JSON.stringify(region)} is not a country code; write ${upper}`;
    return `${JSON.stringify(region)} is not a country code such as CN or a state code such as US-CA (ISO 3166)`;
  }
  const [, country, state] = match as unknown as [string, string, string | undefined];
  const lookup = new (load())();
  const countries = Object.keys(lookup.getCountries());
  if (!countries.includes(country)) return `${JSON.stringify(country)} is not a country with public holiday data (known: ${countries.join(', ')})`;
  if (state === undefined) return undefined;
  const states = Object.keys(lookup.getStates(country) ?? {});
  if (states.includes(state)) return undefined;
  return states.length > 0
    ? `${JSON.stringify(region)} is not a state of ${country} with public holiday data (known: ${states.map((s) => `${country}-${s}`).join(', ')})`
    : `${country} has no states in the public holiday data; write ${country}`;
}

const byYear = new Map<string, ReadonlySet<string>>();
const listed = new Map<string, readonly string[]>();

/** The dates (`YYYY-MM-DD`) of `year` that are whole public holidays in `region`. */
export function publicHolidayDates(region: string, year: number): ReadonlySet<string> {
  const key = `${region}/${year}`;
  let dates = byYear.get(key);
  if (!dates) {
    // A holiday listed in a neighbouring year can reach into this one (from the evening of
    // 31 December, or several days from late December).
    const days = [year - 1, year, year + 1].flatMap((y) => wholeDaysListedIn(region, y));
    dates = new Set(days.filter((date) => date.startsWith(`${year}-`)));
    byYear.set(key, dates);
  }
  return dates;
}

/** Every whole day (of any year) of the public holidays date-holidays lists for `year`. */
function wholeDaysListedIn(region: string, year: number): readonly string[] {
  const key = `${region}/${year}`;
  const cached = listed.get(key);
  if (cached) return cached;
  const problem = holidayRegionProblem(region);
  if (problem) throw new Error(problem);
  const [country, state] = region.split('-') as [string, string | undefined];
  // In UTC, `start` and `end` are the holiday's local wall times written as UTC instants,
  // so a whole local day is a whole UTC day here.
  const options = { timezone: 'UTC' };
  const calendar = state === undefined ? new (load())(country, options) : new (load())(country, state, options);
  const days: string[] = [];
  for (const holiday of calendar.getHolidays(year)) {
    if (holiday.type !== 'public') continue;
    // A note marks a day that is not off for everyone: China's Children's Day (children
    // under 14), Botswana's days "except mining industry", Guyana's tentative dates. Such a
    // day is counted as a working day: a deadline may then come a day early, never late.
    // (`note` is in the data and the objects, not in the package's type declarations.)
    if ((holiday as { note?: string }).note) continue;
    const end = holiday.end.getTime();
    for (let day = Math.ceil(holiday.start.getTime() / DAY_MS) * DAY_MS; day + DAY_MS <= end; day += DAY_MS) days.push(new Date(day).toISOString().slice(0, 10));
  }
  listed.set(key, days);
  return days;
}
