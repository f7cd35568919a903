/** What a sweep would delete or change, counted before it starts, by kind. */
export interface SweepCounts {
  /** The rule's own rows (or items) in the selection. */
  rows: number;
  /** Rows other tables would lose or have rewritten through foreign keys, by table (`Store.countCascades`). */
  cascaded: Readonly<Record<string, number>>;
  /** Objects (files, S3 keys) the rows own through `cascade:`, by store (`Store.countObjects`). */
  objects: Readonly<Record<string, number>>;
}

/**
 * The number the blast-radius limits judge and a confirmation token covers: everything the
 * sweep removes or rewrites, i.e. the rule's rows plus the rows that cascade plus the
 * objects the rows own. Objects are data the sweep deletes, so they count toward
 * maxRowsPerRun and toward the fraction's numerator; the fraction's denominator stays the
 * rows of the tables (`Store.total`), because the objects in a files or S3 store are not
 * cheaply countable, and leaving them out only makes the fraction larger (stricter).
 * `plan` and `run` both count through this one function, so plan's token is the one run takes.
 */
export function limitedCount(counts: SweepCounts): number {
  return counts.rows + sum(counts.cascaded) + sum(counts.objects);
}

function sum(byName: Readonly<Record<string, number>>): number {
  return Object.values(byName).reduce((total, n) => total + n, 0);
}
