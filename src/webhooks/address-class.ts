/**
 * Which IP addresses a webhook may reach. Ranges come from the IANA special-purpose address
 * registries; membership is tested with node's `net.BlockList`. IPv6 forms that embed an IPv4
 * address (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by
 * the IPv4 address inside, because that is where the packets end up.
 */
import { BlockList, isIP } from 'node:net';

/** Why an address is not a public destination. */
export type AddressClass =
  | 'loopback'
  | 'private'
  | 'link_local'
  | 'shared_address_space'
  | 'cloud_metadata'
  | 'unspecified'
  | 'multicast'
  | 'broadcast'
  | 'reserved';

/**
 * What `allowPrivate` lets through: the addresses a receiver on the operator's own host or
 * network legitimately has (development, a private deployment). The rest can never be a
 * legitimate receiver: metadata endpoints hand out cloud credentials, 0.0.0.0 reaches the
 * local host on Linux, and multicast/broadcast/reserved ranges are not unicast hosts.
 */
export const PRIVATE_NETWORK_CLASSES: ReadonlySet<AddressClass> = new Set([
  'loopback',
  'private',
  'link_local',
  'shared_address_space',
]);

type Range = readonly [AddressClass, string, number];

// Order matters: the first matching range names the class (metadata before link-local,
// broadcast before the reserved 240/4 block).
const IPV4_RANGES: readonly Range[] = [
  ['cloud_metadata', '169.254.169.254', 32], // AWS, GCP, Azure, OpenStack, DigitalOcean
  ['cloud_metadata', '100.100.100.200', 32], // Alibaba Cloud
  ['unspecified', '0.0.0.0', 8],
  ['loopback', '127.0.0.0', 8],
  ['private', '10.0.0.0', 8],
  ['private', '172.16.0.0', 12],
  ['private', '192.168.0.0', 16],
  ['shared_address_space', '100.64.0.0', 10], // carrier-grade NAT
  ['link_local', '169.254.0.0', 16],
  ['reserved', '192.0.0.0', 24], // IETF protocol assignments
  ['reserved', '192.0.2.0', 24], // documentation
  ['reserved', '198.18.0.0', 15], // benchmarking
  ['reserved', '198.51.100.0', 24], // documentation
  ['reserved', '203.0.113.0', 24], // documentation
  ['multicast', '224.0.0.0', 4],
  ['broadcast', '255.255.255.255', 32],
  ['reserved', '240.0.0.0', 4],
];

const IPV6_RANGES: readonly Range[] = [
  ['cloud_metadata', 'fd00:ec2::254', 128], // AWS IMDS over IPv6
  ['unspecified', '::', 128],
  ['loopback', '::1', 128],
  ['reserved', '::', 96], // deprecated IPv4-compatible addresses
  ['reserved', '64:ff9b:1::', 48], // local-use NAT64
  ['reserved', '100::', 64], // discard-only
  ['reserved', '2001::', 32], // Teredo: the IPv4 inside is obfuscated, so refuse the block
  ['reserved', '2001:db8::', 32], // documentation
  ['private', 'fc00::', 7], // unique local
  ['private', 'fec0::', 10], // deprecated site-local
  ['link_local', 'fe80::', 10],
  ['multicast', 'ff00::', 8],
];

const ipv4Lists = compile(IPV4_RANGES, 'ipv4');
const ipv6Lists = compile(IPV6_RANGES, 'ipv6');

function compile(ranges: readonly Range[], type: 'ipv4' | 'ipv6'): Array<[AddressClass, BlockList]> {
  return ranges.map(([cls, network, prefix]) => {
    const list = new BlockList();
    list.addSubnet(network, prefix, type);
    return [cls, list];
  });
}

export class InvalidIpAddressError extends Error {
  override readonly name = 'InvalidIpAddressError';
  constructor(readonly address: string) {
    super(`${JSON.stringify(address)} is not an IP address`);
  }
}

/** The class of a non-public address, or undefined when the address is a public unicast one. */
export function classifyAddress(address: string): AddressClass | undefined {
  const bare = withoutZone(address);
  const family = isIP(bare);
  if (family === 4) return firstMatch(ipv4Lists, bare, 'ipv4');
  if (family !== 6) throw new InvalidIpAddressError(address);

  const embedded = embeddedIpv4(ipv6Groups(bare));
  if (embedded) return firstMatch(ipv4Lists, embedded, 'ipv4');
  return firstMatch(ipv6Lists, bare, 'ipv6');
}

function firstMatch(lists: Array<[AddressClass, BlockList]>, address: string, type: 'ipv4' | 'ipv6'): AddressClass | undefined {
  for (const [cls, list] of lists) if (list.check(address, type)) return cls;
  return undefined;
}

/** Link-local IPv6 answers may carry a zone (`fe80::1%eth0`); the zone is not part of the address. */
function withoutZone(address: string): string {
  const percent = address.indexOf('%');
  return percent === -1 ? address : address.slice(0, percent);
}

/** The IPv4 address an IPv6 address forwards to, for the forms that embed one. */
function embeddedIpv4(groups: number[]): string | undefined {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups as [number, number, number, number, number, number, number, number];
  const zeroUpTo = (n: number) => groups.slice(0, n).every((g) => g === 0);
  if (zeroUpTo(5) && g5 === 0xffff) return dotted(g6, g7); // ::ffff:a.b.c.d
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return dotted(g6, g7); // NAT64
  if (g0 === 0x2002) return dotted(g1, g2); // 6to4
  return undefined;
}

function dotted(high: number, low: number): string {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/** The eight 16-bit groups of a valid IPv6 address (validated by `isIP` beforehand). */
export function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase();
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const [a, b, c, d] = last.split('.').map(Number) as [number, number, number, number];
    tail.push((a << 8) | b, (c << 8) | d);
    // Keep the colon that ended the previous group, so "::1.2.3.4" leaves "::".
    text = text.slice(0, lastColon + 1);
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const doubleColon = text.indexOf('::');
  let groups: number[];
  if (doubleColon === -1) {
    groups = parse(text);
  } else {
    const head = parse(text.slice(0, doubleColon));
    const rest = parse(text.slice(doubleColon + 2));
    const missing = 8 - tail.length - head.length - rest.length;
    groups = [...head, ...new Array<number>(missing).fill(0), ...rest];
  }
  return [...groups, ...tail];
}
