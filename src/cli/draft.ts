import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { findPromises } from '../draft/find-promises.js';
import { renderDraft } from '../draft/render-draft.js';
import { UserError } from '../errors.js';

interface DraftOptions {
  json?: boolean;
}

/** `retention draft`'s arguments and action; main.ts names and describes it, and imports this file only when the command runs. */
export function defineDraft(draft: Command): void {
  draft
    .argument('<policy>', 'the privacy policy: plain text, Markdown or HTML')
    .option('--json', 'print the promises found as JSON instead of the draft YAML')
    .action(async (file: string, options: DraftOptions) => {
      const text = await readPolicy(file);
      const found = findPromises(text);
      if (options.json) console.log(JSON.stringify({ file, ...found }));
      else console.log(renderDraft(file, found).trimEnd());
    });
}

/** The policy's text; a file that is missing, unreadable or not text is the user's to fix. */
async function readPolicy(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a policy file' : code === 'EACCES' || code === 'EPERM' ? 'cannot be read (permission denied)' : `cannot be read (${code ?? String(error)})`;
    throw new UserError(`${file}: ${why}`, { cause: error });
  }
  if (bytes.includes(0)) throw new UserError(`${file}: is not a text file (it holds NUL bytes); give the policy as plain text, Markdown or HTML`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch (error) {
    throw new UserError(`${file}: is not UTF-8 text; convert the policy to UTF-8 first`, { cause: error });
  }
}
