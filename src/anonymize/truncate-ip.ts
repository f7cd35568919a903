import type { AnonymizeStrategy } from './strategy.js';

/** Prefix lengths kept: an IPv4 /24 or IPv6 /48 names a network, not a subscriber. */
const IPV4_PREFIX = 24;
const IPV6_PREFIX = 48;

/** Keeps only the network part of an address: 203.0.113.77 -> 203.0.113.0/24. */
export const truncateIpStrategy: AnonymizeStrategy = {
  name: 'truncate-ip',
  description: `keep the network of an inet address (IPv4 /${IPV4_PREFIX}, IPv6 /${IPV6_PREFIX})`,
  problemWith: (column) =>
    column.baseType === 'inet' || column.baseType === 'cidr'
      ? undefined
      : `column ${column.name} is ${column.type}; "truncate-ip" needs an inet or cidr column`,
  assign: ({ sql: column }) => truncated(column),
  pending: ({ sql: column }) => `(${column} IS NOT NULL AND ${column} IS DISTINCT FROM ${truncated(column)})`,
};

function truncated(column: string): string {
  return `network(set_masklen(${column}, CASE WHEN family(${column}) = 4 THEN ${IPV4_PREFIX} ELSE ${IPV6_PREFIX} END))::inet`;
}
