import type { AnonymizeStrategy } from './strategy.js';

/** Prefix lengths kept: an IPv4 /24 or IPv6 /48 names a network, not a subscriber. */
const IPV4_PREFIX = 24;
const IPV6_PREFIX = 48;

/** Keeps only the network part of an address: 203.0.113.77 -> 203.0.113.0/24. */
export const truncateIpStrategy: AnonymizeStrategy = {
  name: 'truncate-ip',
  description: `keep the network of an IP address (IPv4 /${IPV4_PREFIX}, IPv6 /${IPV6_PREFIX})`,
  transform: { kind: 'ip-network', v4Prefix: IPV4_PREFIX, v6Prefix: IPV6_PREFIX },
  problemWith: (column) =>
    column.category === 'inet' ? undefined : `column ${column.name} is ${column.type}; "truncate-ip" needs an IP address column (PostgreSQL inet or cidr)`,
};
