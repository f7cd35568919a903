import type { AnonymizeStrategy } from './strategy.js';
import { nullStrategy } from './null.js';
import { redactStrategy } from './redact.js';
import { hmacStrategy } from './hmac.js';
import { truncateIpStrategy } from './truncate-ip.js';
import { truncateDateStrategy } from './truncate-date.js';

/**
 * Every anonymization strategy by name. There is deliberately no plain hash: hashing an
 * email or phone number is reversed by hashing every candidate.
 */
const STRATEGIES: ReadonlyMap<string, AnonymizeStrategy> = new Map(
  [nullStrategy, redactStrategy, hmacStrategy, truncateIpStrategy, truncateDateStrategy].map((s) => [s.name, s]),
);

export const STRATEGY_NAMES: readonly string[] = [...STRATEGIES.keys()];

/** The strategy called `name`; an unknown name lists the valid ones. */
export function getStrategy(name: string): AnonymizeStrategy {
  const strategy = STRATEGIES.get(name);
  if (!strategy) throw new Error(`unknown anonymization strategy ${JSON.stringify(name)} (valid: ${STRATEGY_NAMES.join(', ')})`);
  return strategy;
}
