// A store module for retention (`kind: module`): records kept in a JSON file of
// collections, `{ "tickets": [ { "id": "t-1", "closedAt": "2025-01-31T09:00:00Z" } ] }`.
// An anchor is an ISO-8601 instant with an offset, or epoch milliseconds (a number).
import { randomBytes } from 'node:crypto';
import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';

const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:\d{2})$/;

export default {
  create({ name, options, baseDir }) {
    if (typeof options.file !== 'string') throw new Error(`options.file is required: the JSON file of store ${name}`);
    return new JsonRecords(resolve(baseDir, options.file));
  },
};

class JsonRecords {
  constructor(file) {
    this.file = file;
  }

  async ping() {
    if (!(await stat(this.file)).isFile()) throw new Error(`${this.file} is not a file`);
  }

  async inspect(rule) {
    const { collection } = rule.target;
    if (typeof collection !== 'string') return [{ path: 'target.collection', message: 'collection is required: the name of an array in the file' }];
    if (rule.anchor === null) return [{ path: 'anchor', message: 'anchor is required: the record field holding the date' }];
    const { json } = await this.#read();
    return Array.isArray(json[collection]) ? [] : [{ path: 'target.collection', message: `${this.file} has no array ${JSON.stringify(collection)}` }];
  }

  async count(rule, selection) {
    const { json } = await this.#read();
    return records(json, rule).filter((record) => expired(record, rule.anchor, selection.ranges)).length;
  }

  async unjudged(rule) {
    const { json } = await this.#read();
    const reasons = {};
    for (const record of records(json, rule)) {
      const reason = validId(record) ? judge(record, rule.anchor).reason : 'missing id';
      if (reason) reasons[reason] = (reasons[reason] ?? 0) + 1;
    }
    return reasons;
  }

  async total(rule) {
    const { json } = await this.#read();
    return records(json, rule).length;
  }

  // Judges the file as read just before replacing it (a temporary file renamed over it),
  // and starts again if the file changed in between: a record updated since `count` is
  // judged by its new anchor.
  async apply(rule, selection, { dryRun }) {
    if (dryRun) return this.count(rule, selection);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const { json, version } = await this.#read();
      const kept = records(json, rule).filter((record) => !expired(record, rule.anchor, selection.ranges));
      const removed = records(json, rule).length - kept.length;
      if (removed === 0) return 0;
      const tmp = `${this.file}.${randomBytes(6).toString('hex')}.tmp`;
      await writeFile(tmp, `${JSON.stringify({ ...json, [rule.target.collection]: kept }, null, 2)}\n`, { mode: version.mode });
      const now = await stat(this.file);
      if (now.ino === version.ino && now.mtimeMs === version.mtimeMs && now.size === version.size) {
        await rename(tmp, this.file);
        return removed;
      }
      await unlink(tmp);
    }
    throw new Error(`${this.file} kept changing while records were being removed`);
  }

  async #read() {
    const version = await stat(this.file);
    return { json: JSON.parse(await readFile(this.file, 'utf8')), version };
  }
}

function records(json, rule) {
  const list = json[rule.target.collection];
  if (!Array.isArray(list)) throw new Error(`no array ${JSON.stringify(rule.target.collection)} in the file`);
  return list;
}

function validId(record) {
  return typeof record === 'object' && record !== null && (typeof record.id === 'string' || typeof record.id === 'number');
}

// Only a record with an id and an anchor that is an instant inside a range is expired.
function expired(record, anchor, ranges) {
  const { ms } = validId(record) ? judge(record, anchor) : {};
  return ms !== undefined && ranges.some((r) => (r.from === null || ms >= r.from) && ms <= r.to);
}

// The anchor in epoch ms, or why it cannot be judged (never deleted, reported by `plan`).
function judge(record, anchor) {
  const value = record[anchor];
  if (value === undefined || value === null) return { reason: 'missing anchor' };
  if (typeof value === 'number') return Number.isSafeInteger(value) ? { ms: value } : { reason: 'malformed anchor' };
  const match = typeof value === 'string' ? ISO_INSTANT.exec(value) : null;
  if (!match) return { reason: 'malformed anchor' };
  const [year, month, day] = match.slice(1, 4).map(Number);
  // Date.parse would roll 2024-02-30 over into March.
  if (month < 1 || month > 12 || new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) return { reason: 'malformed anchor' };
  const ms = Date.parse(value); // NaN for an hour 25 or a minute 60
  return Number.isNaN(ms) ? { reason: 'malformed anchor' } : { ms };
}
