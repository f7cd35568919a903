/**
 * The data categories an inventory may name (`inventory[].columns`, `categories`). A closed
 * list so that a typo (`emial`) is a config error, not a category nothing ever matches;
 * `other` is for what fits none.
 */
export const DATA_CATEGORIES = ['email', 'phone', 'ip', 'photo', 'face', 'payment', 'name', 'address', 'birth-date', 'id-number', 'location', 'device', 'other'] as const;
export type DataCategory = (typeof DATA_CATEGORIES)[number];

export const isDataCategory = (text: string): text is DataCategory => (DATA_CATEGORIES as readonly string[]).includes(text);
