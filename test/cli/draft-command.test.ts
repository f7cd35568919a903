import { chmodSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { lines, runMain, tempDir } from './cli-harness.js';

/**
 * `retention draft POLICY`: a draft YAML with every candidate commented out, the promises
 * without a period listed for a person, and clear errors for a file it cannot read.
 */

const PERCENT = fileURLToPath(new URL('../fixtures/policies/percent-technology-privacy-policy.txt', import.meta.url));
let files: ReturnType<typeof tempDir>;

beforeEach(() => {
  files = tempDir();
});
afterEach(() => files.remove());

/** The candidate rules of a draft as YAML: its `# ` lines uncommented (its `##` notes stay comments). */
const uncommented = (draft: string): unknown =>
  parse(
    draft
      .split('\n')
      .filter((l) => l.startsWith('# '))
      .map((l) => l.slice(2))
      .join('\n'),
  );

describe('retention draft', () => {
  it("prints PERCENT's three promises as commented candidate rules, and the two without a period for a person", async () => {
    const outcome = await runMain(['draft', PERCENT]);
    expect(outcome.code).toBe(0);
    expect(outcome.stderr).toBe('');
    // Nothing is enabled: the whole draft is comments.
    expect(parse(outcome.stdout)).toBeNull();
    expect(lines(outcome.stdout).every((l) => l.startsWith('#'))).toBe(true);

    const section = '5. How the Service Protects and Stores Your Personal Date';
    expect(uncommented(outcome.stdout)).toEqual({
      rules: [
        {
          id: 'personal-data-5-years',
          store: 'TODO',
          table: 'TODO',
          anchor: 'TODO',
          retain: 'P5Y',
          action: 'delete',
          source: `${section}: After you log out of your account, or your account has been inactive for more than 5 years, your personal data will be deleted.`,
        },
        expect.objectContaining({ id: 'account-3-years', retain: 'P3Y', source: expect.stringContaining('kept for a maximum of three (3) years from the date when you log out') }),
        expect.objectContaining({ id: 'login-log-6-months', retain: 'P6M', source: expect.stringContaining('six (6) months from the date of acquisition') }),
      ],
    });
    expect(outcome.stdout).toContain('anchor: TODO  ## the column holding the date of the last activity');
    expect(outcome.stdout).toContain('## Needs a human decision');
    expect(outcome.stdout).toContain('## - (no period: "for the duration of") "5. How the Service Protects and Stores Your Personal Date: We will process and store your personal data for the duration of the product service."');
    expect(outcome.stdout).toContain('(no period: "as soon as possible")');
  });

  it('prints answer deadlines as notes for the requests: section, working days as { workingDays: N }', async () => {
    const file = files.write('policy.md', '## Requests\n\nWe will respond to requests within fifteen business days of receiving the request.\n');
    const outcome = await runMain(['draft', file]);
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toContain('## No retention period with a number was found.');
    expect(outcome.stdout).toContain('##     due: { workingDays: 15 }');
    expect(outcome.stdout).toContain('##     source: "Requests: We will respond to requests within fifteen business days of receiving the request."');
    expect(uncommented(outcome.stdout)).toBeNull();
  });

  it('--json prints the promises, the undecided sentences and what was set aside', async () => {
    const file = files.write('policy.txt', 'Photos are deleted after 30 days. We keep other data as long as necessary. Users must be over 18 years old.');
    const outcome = await runMain(['draft', file, '--json']);
    expect(outcome.code).toBe(0);
    expect(JSON.parse(outcome.stdout)).toEqual({
      file,
      promises: [{ kind: 'retention', period: '30 days', amount: 30, unit: 'days', duration: 'P30D', category: 'photo', sentence: 'Photos are deleted after 30 days.' }],
      undecided: [{ sentence: 'We keep other data as long as necessary.', reason: 'no period: "as long as"' }],
      setAside: [{ text: '18 years', reason: 'an age', sentence: 'Users must be over 18 years old.' }],
    });
  });

  it('a missing file, a directory, an unreadable file and a binary file: one clear line, exit 2, no stack trace', async () => {
    const unreadable = files.write('secret.txt', 'kept for 6 months');
    chmodSync(unreadable, 0o000);
    const binary = files.write('policy.pdf', Buffer.from([0x25, 0x50, 0x44, 0x46, 0x00, 0x01]).toString('latin1'));
    const cases: Array<[string, string]> = [
      [`${files.dir}/missing.txt`, `retention: ${files.dir}/missing.txt: no such file`],
      [files.dir, `retention: ${files.dir}: is a directory, not a policy file`],
      [binary, `retention: ${binary}: is not a text file (it holds NUL bytes); give the policy as plain text, Markdown or HTML`],
    ];
    // root reads any file; the permission case only means something for other users.
    if (process.getuid?.() !== 0) cases.push([unreadable, `retention: ${unreadable}: cannot be read (permission denied)`]);
    for (const [file, message] of cases) {
      const outcome = await runMain(['draft', file]);
      expect(outcome.code).toBe(2);
      expect(outcome.stdout).toBe('');
      expect(lines(outcome.stderr)).toEqual([message]);
    }
  });

  it('without a file: the usage error of a missing argument, exit 2', async () => {
    const outcome = await runMain(['draft']);
    expect(outcome.code).toBe(2);
  });
});
