import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { findPromises, type FoundPromise } from '../../src/draft/find-promises.js';

/**
 * `draft` on the five seed policies (test/fixtures/policies, copied unchanged from
 * ../shared/seeds). Each list below is every period the document states for keeping,
 * deleting or answering, read from the document by hand: nothing may be missing and
 * nothing else may come out.
 */

const seed = (name: string) => findPromises(readFileSync(new URL(`../fixtures/policies/${name}`, import.meta.url), 'utf8'));

interface Expected {
  duration: FoundPromise['duration'];
  kind: FoundPromise['kind'];
  anchor?: FoundPromise['anchor'];
  category?: FoundPromise['category'];
  /** A fragment of the sentence it must come from. */
  from: string;
}

/** The promises found, in document order, as the expectations write them. */
function promisesOf(name: string): Expected[] {
  return seed(name).promises.map((p) => ({
    duration: p.duration,
    kind: p.kind,
    ...(p.anchor ? { anchor: p.anchor } : {}),
    ...(p.category ? { category: p.category } : {}),
    from: p.sentence,
  }));
}

function expectExactly(name: string, expected: Expected[]): void {
  const found = promisesOf(name);
  expect(found.map(({ from: _, ...rest }) => rest)).toEqual(expected.map(({ from: _, ...rest }) => rest));
  found.forEach((f, i) => expect(f.from).toContain(expected[i]!.from));
}

describe('the five seed policies', () => {
  it('LetsAI ID Photo: photos 180 days from payment and deleted after 180 days, answers in 15 working days, in English and in Spanish', () => {
    expectExactly('letsai-id-photo-privacy-agreement.txt', [
      { duration: 'P180D', kind: 'retention', anchor: 'payment', category: 'photo', from: 'download your e-ID photo in the app for 180 days from the date you successfully pay' },
      { duration: 'P180D', kind: 'retention', category: 'photo', from: 'Photos are automatically deleted after 180 days.' },
      { duration: { workingDays: 15 }, kind: 'deadline', anchor: 'request-received', from: 'We will get back to you within 15 working days.' },
      { duration: 'P180D', kind: 'retention', anchor: 'payment', category: 'photo', from: 'durante 180 días a partir de la fecha en que pagó' },
      { duration: 'P180D', kind: 'retention', category: 'photo', from: 'Las fotos se eliminan automáticamente después de 180 días.' },
      { duration: { workingDays: 15 }, kind: 'deadline', anchor: 'request-received', from: 'dentro de los 15 días hábiles' },
    ]);
  });

  it('LetsAI: the age of a child (18 years, 18 años) is no period; face data "not stored" and "as long as necessary" need a decision', () => {
    const found = seed('letsai-id-photo-privacy-agreement.txt');
    expect(found.setAside.map((s) => [s.text, s.reason])).toEqual([
      ['18 years', 'an age'],
      ['18 años', 'an age'],
    ]);
    const undecided = found.undecided.map((u) => u.sentence);
    expect(undecided).toEqual([
      expect.stringContaining('will not be stored'),
      expect.stringContaining('for as long as necessary to achieve legal purposes'),
      expect.stringContaining('delete or anonymize personal information within an appropriate time'),
      expect.stringContaining('durante el tiempo que sea necesario'),
      expect.stringContaining('dentro de un período de tiempo apropiado'),
    ]);
  });

  it('PERCENT Technology: 5 years of inactivity, account data 3 years from logout, login logs 6 months from acquisition', () => {
    expectExactly('percent-technology-privacy-policy.txt', [
      { duration: 'P5Y', kind: 'retention', anchor: 'last-activity', category: 'personal-data', from: 'your account has been inactive for more than 5 years, your personal data will be deleted' },
      { duration: 'P3Y', kind: 'retention', anchor: 'account-closure', category: 'account', from: 'kept for a maximum of three (3) years from the date when you log out of the account' },
      { duration: 'P6M', kind: 'retention', anchor: 'collection', category: 'login-log', from: 'kept for a maximum of six (6) months from the date of acquisition' },
    ]);
    const found = seed('percent-technology-privacy-policy.txt');
    expect(found.promises.every((p) => p.section === '5. How the Service Protects and Stores Your Personal Date')).toBe(true);
    // "(1) have the right to access ... (4) request us to delete": numbers in parentheses, no unit.
    expect(found.setAside).toEqual([]);
    expect(found.undecided.map((u) => u.sentence)).toEqual([
      expect.stringContaining('for the duration of the product service'),
      expect.stringContaining('as soon as possible delete the relevant data'),
    ]);
  });

  it("Udesk: opt-outs in fifteen business days of receiving the request, deletes and access in forty-five days, up to ninety; 'the past 12 months' is no period", () => {
    expectExactly('udesk-privacy-statement.txt', [
      { duration: { workingDays: 15 }, kind: 'deadline', anchor: 'request-received', category: 'opt-out-request', from: 'within fifteen business days of receiving the request' },
      { duration: 'P45D', kind: 'deadline', anchor: 'request-received', category: 'erasure-request', from: 'within forty-five days' },
      { duration: 'P90D', kind: 'deadline', anchor: 'request-received', category: 'erasure-request', from: 'it may take up to ninety days to respond' },
    ]);
    const found = seed('udesk-privacy-statement.txt');
    expect(found.promises[0]!.section).toBe('10:Supplemental Terms for California Residents › Processing Time');
    expect(found.setAside.map((s) => [s.text, s.reason])).toEqual([['12 months', 'a look back, not a period to keep data for']]);
    expect(found.undecided.map((u) => u.sentence)).toEqual([
      expect.stringMatching(/^Your personal data will generally be retained for as long as necessary/),
      expect.stringMatching(/^Once you and\/or your company terminates your contractual relationship/),
      expect.stringMatching(/^When we have no ongoing legitimate business need .* we will delete, anonymize and archive/),
    ]);
    expect(found.undecided.every((u) => u.section === '6:Safety and Retention')).toBe(true);
  });

  it('Wentong Cloud: no period at all; "as long as necessary" and "a reasonable timeframe" need a decision; the age of 18 is no period', () => {
    const found = seed('wentong-cloud-privacy-notice.txt');
    expect(found.promises).toEqual([]);
    expect(found.setAside).toEqual([]);
    expect(found.undecided.map((u) => [u.section, u.sentence])).toEqual([
      ['5. Data Storage and Retention', expect.stringContaining('We retain data only for as long as necessary')],
      ['5. Data Storage and Retention', expect.stringContaining('After the retention period is no longer necessary')],
      ['11. Contact Us', expect.stringContaining('within a reasonable timeframe')],
    ]);
  });

  it('Westferry Tech: names categories but no period and no retention promise (ISO 27001, SSAE 18 and dates are no periods)', () => {
    expect(seed('westferry-tech-privacy-policy.txt')).toEqual({ promises: [], undecided: [], setAside: [] });
  });
});
