import type { Command } from 'commander';
import { openRuntime } from '../runtime/runtime.js';
import { configProblemsError, inspectLiveReport } from './inspect-config.js';
import { CONFIG_OPTION, readConfig, type ConfigOption } from './load-runtime.js';

/** `retention check`'s options and action; main.ts names and describes it, and imports this file only when the command runs. */
export function defineCheck(check: Command): void {
  check
    .option(...CONFIG_OPTION)
    .action(async (options: ConfigOption) => {
      const config = readConfig(options);
      const runtime = await openRuntime(config);
      try {
        const { problems, warnings } = await inspectLiveReport(runtime, config.rules, { redis: true, roles: true });
        // Warnings first, so that they are seen whether or not an error follows.
        for (const w of warnings) console.error(`retention: warning: ${config.file}: ${w.path ? `${w.path}: ` : ''}${w.message}`);
        if (problems.length > 0) throw configProblemsError(config, problems);
        const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
        console.log(`${config.file}: ok (${plural(config.rules.length, 'rule')}, ${plural(Object.keys(config.stores).length, 'store')}, time zone ${config.timezone})`);
      } finally {
        await runtime.close();
      }
    });
}
