import { describe, expect, it } from 'vitest';
import { findPromises } from '../../src/draft/find-promises.js';
import { parseNumberWords } from '../../src/draft/number-words.js';

/** `draft` on small policies written for these tests: one way of writing a period each. */

const durations = (text: string) => findPromises(text).promises.map((p) => p.duration);

describe('periods written in words, digits and both', () => {
  it('reads number words up to the hundreds and thousands', () => {
    expect(['six', 'forty-five', 'one hundred and eighty', 'twenty one', 'two thousand', 'ninety'].map(parseNumberWords)).toEqual([6, 45, 180, 21, 2000, 90]);
    expect(parseNumberWords('forty twenty')).toBeUndefined();
  });

  it('finds periods in number words', () => {
    const text = [
      'Support tickets are deleted after one hundred and eighty days.',
      'Invoices are retained for ten years.',
      'We keep chat transcripts for twenty-four months from the date of collection.',
    ].join(' ');
    expect(durations(text)).toEqual(['P180D', 'P10Y', 'P24M']);
  });

  it('reads "six (6) months" and "6 (six) months" once, and sets aside words and digits that disagree', () => {
    const found = findPromises('Access logs are kept for six (6) months. Backups are kept for 2 (two) weeks. Drafts are deleted after seven (9) days.');
    expect(found.promises.map((p) => [p.duration, p.period])).toEqual([
      ['P6M', 'six (6) months'],
      ['P2W', '2 (two) weeks'],
    ]);
    expect(found.setAside.map((s) => s.reason)).toEqual(['the words and the digits disagree (seven / 9)']);
  });

  it('reads hours and hyphenated periods ("a 30-day window")', () => {
    expect(durations('Verification codes are deleted after 24 hours. Abandoned carts are kept for a 30-day window, then removed.')).toEqual(['PT24H', 'P30D']);
  });

  it('writes business and working days as a count of working days, which ISO-8601 cannot write', () => {
    const found = findPromises('We will delete your data within ten business days of receiving the request. Refund records are erased after 5 working days.');
    expect(found.promises.map((p) => p.duration)).toEqual([{ workingDays: 10 }, { workingDays: 5 }]);
  });
});

describe('deadlines to answer a request', () => {
  it('"within 45 days of receiving the request" is a deadline counted from receipt of the request', () => {
    const [p] = findPromises('We will answer each request to delete within 45 days of receiving the request.').promises;
    expect(p).toMatchObject({ kind: 'deadline', duration: 'P45D', anchor: 'request-received', category: 'erasure-request' });
  });

  it('a retention period is not a deadline, and keeps the event it counts from', () => {
    const found = findPromises(
      'Photos you upload are deleted 30 days after upload. Account data is kept for no longer than 2 years after you close your account. Profiles are removed after 1 year of inactivity. Receipts are kept up to 7 years from the date of payment.',
    );
    expect(found.promises.map((p) => [p.kind, p.duration, p.anchor, p.category])).toEqual([
      ['retention', 'P30D', 'collection', 'photo'],
      ['retention', 'P2Y', 'account-closure', 'account'],
      ['retention', 'P1Y', 'last-activity', undefined],
      ['retention', 'P7Y', 'payment', undefined],
    ]);
  });
});

describe('promises without a period', () => {
  it('lists "as long as necessary" and "for the period necessary" as undecided, with no rule', () => {
    const found = findPromises('We keep your personal data as long as necessary for the service. Billing records are retained for the period necessary to meet our obligations.');
    expect(found.promises).toEqual([]);
    expect(found.undecided.map((u) => u.reason)).toEqual(['no period: "as long as"', 'no period: "for the period necessary"']);
  });

  it('lists a promise not to store data (face data) as undecided, never as a period', () => {
    const found = findPromises('Face data is used only to make the photo and will never be stored.');
    expect(found.promises).toEqual([]);
    expect(found.undecided).toEqual([{ sentence: 'Face data is used only to make the photo and will never be stored.', reason: 'no period: "never be stored"' }]);
  });
});

describe('numbers that are not periods', () => {
  it('ages ("over 18 years old", "under 14 years of age", "aged 16 years") and section numbers give no rule', () => {
    const found = findPromises(
      [
        'You must be over 18 years old to use the service.',
        'If we learn that we collected data of a child under 14 years of age, we will delete it as soon as possible.',
        'Users aged 16 years or more may keep an account.',
        'See section 3 for how we delete data and clause 12 for how we store it.',
        'We store data in 2 regions.',
      ].join(' '),
    );
    expect(found.promises).toEqual([]);
    expect(found.setAside.map((s) => [s.text, s.reason])).toEqual([
      ['18 years', 'an age'],
      ['14 years', 'an age'],
      ['16 years', 'an age'],
    ]);
    // The child-protection clause is still a promise, one without a period.
    expect(found.undecided.map((u) => u.reason)).toEqual(['no period: "as soon as possible"']);
  });

  it('a look back ("in the past 12 months") and a duration without retention words are not periods', () => {
    const found = findPromises('We have not sold personal data in the past 12 months. Our company has been in business for 20 years. Try the service free for 30 days.');
    expect(found.promises).toEqual([]);
    expect(found.setAside.map((s) => s.text)).toEqual(['12 months', '20 years', '30 days']);
  });

  it('an account kept for over 2 years is a period, not an age', () => {
    expect(durations('Accounts inactive for over 2 years are deleted.')).toEqual(['P2Y']);
  });
});

describe('Markdown and HTML', () => {
  it('strips Markdown (headings, emphasis, links, lists, hard-wrapped lines) and names the section', () => {
    const markdown = [
      '# Privacy policy',
      '',
      '## 4. Retention',
      '',
      '- **Login logs** are kept for a maximum of _six (6)_',
      '  months from the date of acquisition.',
      '- [Photos](https://example.com/photos) are deleted after `180` days.',
      '',
      '```',
      'retain: 99 days is code, not a promise',
      '```',
    ].join('\n');
    const found = findPromises(markdown);
    expect(found.promises.map((p) => [p.duration, p.section, p.sentence])).toEqual([
      ['P6M', '4. Retention', 'Login logs are kept for a maximum of six (6) months from the date of acquisition.'],
      ['P180D', '4. Retention', 'Photos are deleted after 180 days.'],
    ]);
  });

  it('strips HTML (tags, entities, scripts) and takes the section from <h2>', () => {
    const html = `<html><head><title>Policy</title><style>p { margin: 10 days; }</style></head><body>
      <h1>Privacy</h1><h2>Storage &amp; retention</h2>
      <p>Payment data is <strong>deleted</strong> within&nbsp;ninety days of payment.</p>
      <script>var keepFor = "5 years"; // deleted</script>
      <ul><li>Children under 13 years of age may not register.</li></ul></body></html>`;
    const found = findPromises(html);
    expect(found.promises.map((p) => [p.duration, p.anchor, p.section, p.sentence])).toEqual([
      ['P90D', 'payment', 'Storage & retention', 'Payment data is deleted within ninety days of payment.'],
    ]);
    expect(found.setAside.map((s) => s.text)).toEqual(['13 years']);
  });
});

describe('an answer deadline in hours', () => {
  it('is not offered as `due:` (requests take whole days or working days): left for the reader', async () => {
    const { renderDraft } = await import('../../src/draft/render-draft.js');
    const text = 'We will respond to your deletion request within 72 hours of receiving the request.';
    const found = findPromises(text);
    const draft = renderDraft('policy.txt', found);
    expect(draft).not.toMatch(/due: PT72H/);
    expect(draft).toMatch(/due: TODO {2}## PT72H: a request deadline is whole days/);
  });
});
