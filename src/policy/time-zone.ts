import { IANAZone } from 'luxon';

/**
 * Zone names that luxon (ICU) and PostgreSQL are sure to read the same way. PostgreSQL's
 * `AT TIME ZONE` tries its abbreviation table before the zone database, ICU resolves links
 * and aliases: `AST` is America/Anchorage to one and a fixed -04:00 to the other, and a
 * dozen more short names (CET, EET, WET, MET, IST, BST, NST, ART, CST, PST, ACT, EST5EDT
 * ...) disagree the same way. Only `UTC` and Area/Location names of the zone database
 * avoid both lookups; `check` then compares the offsets each side gives.
 */
const AREA_LOCATION = /^[A-Z][A-Za-z]+(\/[A-Za-z0-9_+-]+)+$/;

/** Why `name` (at `field`) is not a zone name to accept, or undefined when it is. */
export function zoneProblem(name: string): string | undefined {
  if (name === 'UTC') return undefined;
  if (AREA_LOCATION.test(name) && IANAZone.isValidZone(name)) return undefined;
  const known = AREA_LOCATION.test(name) ? 'is not a zone luxon knows' : 'is not UTC or an Area/Location zone name';
  return (
    `${JSON.stringify(name)} ${known}: write UTC or an IANA name such as Europe/Berlin or America/Halifax ` +
    '(abbreviations like CET, AST or EST5EDT mean different zones to PostgreSQL and to the time zone database)'
  );
}
