import { describe, expect, it } from 'vitest';
import { expired, expiredRangesOf } from '../../src/stores/selection.js';

describe('a selection a store does not implement yet', () => {
  it('is refused, never read as a plain sweep: a subject, or a sweep that must skip held subjects', () => {
    const ranges = [{ from: null, to: 1_000 }];
    expect(expiredRangesOf(expired(ranges))).toEqual(ranges);
    expect(() => expiredRangesOf({ kind: 'subject', value: 'u-1' })).toThrow(/selection "subject" is not supported/);
    expect(() => expiredRangesOf({ ...expired(ranges), exceptSubjects: ['u-1'] })).toThrow(/excluding held subjects is not supported/);
    expect(expiredRangesOf({ ...expired(ranges), exceptSubjects: [] })).toEqual(ranges);
  });
});
