const SECOND = 1_000;

/** An object as a listing (or HeadObject) shows it. `second`: LastModified, floored to the whole second. */
export interface ListedObject {
  key: string;
  etag: string | undefined;
  second: number | null;
  /** The key's `{subject}` segment, when the rule's prefix names the person. */
  subject?: string;
}

/** An object judged expired, with what it was judged on, to re-check before deleting. */
export interface JudgedObject extends ListedObject {
  /** The metadata anchor's text, for a metadata rule. */
  anchor?: string;
}

/**
 * S3 keeps LastModified to the second (HeadObject's HTTP date has nothing finer, and some
 * servers list a finer one): compare objects by their whole second.
 */
export function floorSecond(date: Date): number {
  return Math.floor(date.getTime() / SECOND) * SECOND;
}

export const lastMsOfSecond = (second: number): number => second + SECOND - 1;

/**
 * ETags compared without their quotes: some servers quote them in a listing and not in
 * HeadObject, and a format difference must not read as "changed" (which would keep the
 * object past its date on every sweep).
 */
export function sameEtag(a: string | undefined, b: string | undefined): boolean {
  const bare = (etag: string | undefined) => etag?.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
  return bare(a) === bare(b);
}
