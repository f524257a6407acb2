/**
 * Which IP addresses a webhook may reach. Parsing and the IANA special-purpose ranges come from
 * ipaddr.js (`range()`); this file only says what each range means for a webhook, plus the few
 * addresses the library has no name for (cloud metadata endpoints, IPv4-compatible IPv6).
 *
 * IPv6 forms that embed an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`,
 * 6to4 `2002::/16`) are judged by the IPv4 address inside, because that is where the packets
 * end up.
 */
import ipaddr from 'ipaddr.js';
import { isIP } from 'node:net';

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
export const PRIVATE_NETWORK_CLASSES: ReadonlySet<AddressClass> = new Set(['loopback', 'private', 'link_local', 'shared_address_space']);

type Verdict = AddressClass | 'public';
type IPv4Range = ReturnType<ipaddr.IPv4['range']>;
type IPv6Range = ReturnType<ipaddr.IPv6['range']>;
type RangeList = Parameters<typeof ipaddr.subnetMatch>[1];

/**
 * Every name ipaddr.js gives an IPv4 range. A name missing here (a newer ipaddr.js naming a
 * new range) is refused as reserved until someone decides otherwise: failing closed is the
 * safe direction for an SSRF guard.
 */
const IPV4_POLICY: Readonly<Record<IPv4Range, Verdict>> = {
  unicast: 'public',
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link_local',
  loopback: 'loopback',
  carrierGradeNat: 'shared_address_space',
  private: 'private',
  reserved: 'reserved',
  benchmarking: 'reserved',
  // Anycast blocks for DNS sinkholes and multicast relays: no webhook receiver lives there.
  as112: 'reserved',
  amt: 'reserved',
};

/**
 * Every name ipaddr.js gives an IPv6 range, including those its type declarations omit.
 * The three that embed an IPv4 address are resolved before this table is consulted.
 */
const IPV6_POLICY: Readonly<Record<IPv6Range | 'deprecatedSiteLocal' | 'discard' | 'deprecatedOrchid' | 'segmentRouting', Verdict>> = {
  unicast: 'public',
  unspecified: 'unspecified',
  loopback: 'loopback',
  linkLocal: 'link_local',
  multicast: 'multicast',
  uniqueLocal: 'private',
  deprecatedSiteLocal: 'private',
  // 64:ff9b::/96 is unwrapped to its IPv4 address; what remains is local-use NAT64 (64:ff9b:1::/48),
  // which translates into whatever network the operator chose.
  rfc6052: 'reserved',
  // IPv4-mapped is unwrapped before this table; 6to4 too. Left here so the table stays complete.
  ipv4Mapped: 'reserved',
  '6to4': 'reserved',
  // IPv4-translated (SIIT) addresses only exist inside a translator's network.
  rfc6145: 'reserved',
  discard: 'reserved',
  // Teredo hides the IPv4 address inside (obfuscated), so the whole block is refused.
  teredo: 'reserved',
  // The rest of 2001::/23 (IETF protocol assignments), documentation, SRv6 segment ids:
  // none of them is a web server's address.
  benchmarking: 'reserved',
  amt: 'reserved',
  as112v6: 'reserved',
  deprecatedOrchid: 'reserved',
  orchid2: 'reserved',
  droneRemoteIdProtocolEntityTags: 'reserved',
  segmentRouting: 'reserved',
  reserved: 'reserved',
};

/** Ranges ipaddr.js does not name, checked before its own. */
const UNNAMED_RANGES: RangeList = {
  cloudMetadata: [
    ipaddr.parseCIDR('169.254.169.254/32'), // AWS, GCP, Azure, OpenStack, DigitalOcean
    ipaddr.parseCIDR('100.100.100.200/32'), // Alibaba Cloud
    ipaddr.parseCIDR('fd00:ec2::254/128'), // AWS IMDS over IPv6
  ],
  // Deprecated IPv4-compatible addresses (::a.b.c.d); `::` and `::1` inside it are named by ipaddr.js.
  ipv4Compatible: [ipaddr.parseCIDR('::/96')],
};
const NAT64_WELL_KNOWN = ipaddr.parseCIDR('64:ff9b::/96');

export class InvalidIpAddressError extends Error {
  override readonly name = 'InvalidIpAddressError';
  constructor(readonly address: string) {
    super(`${JSON.stringify(address)} is not an IP address`);
  }
}

/** The class of a non-public address, or undefined when the address is a public unicast one. */
export function classifyAddress(address: string): AddressClass | undefined {
  const bare = withoutZone(address);
  // Node's own test, not ipaddr.js's laxer one (which also takes "10.1" or "0x7f.1"): only
  // text that node would connect to as an address is judged as one.
  const family = isIP(bare);
  if (family === 0) throw new InvalidIpAddressError(address);
  const verdict = classify(family === 4 ? ipaddr.IPv4.parse(bare) : parseIpv6(bare));
  return verdict === 'public' ? undefined : verdict;
}

function classify(ip: ipaddr.IPv4 | ipaddr.IPv6): Verdict {
  const range = ip.range();
  const unnamed = ipaddr.subnetMatch(ip, UNNAMED_RANGES, 'none');
  if (unnamed === 'cloudMetadata') return 'cloud_metadata';
  if (ip instanceof ipaddr.IPv4) return decide(IPV4_POLICY, range);

  const embedded = embeddedIpv4(ip, range);
  if (embedded) return classify(embedded);
  if (range === 'unicast' && unnamed === 'ipv4Compatible') return 'reserved';
  return decide(IPV6_POLICY, range);
}

function decide(policy: Readonly<Record<string, Verdict>>, range: string): Verdict {
  return Object.hasOwn(policy, range) ? policy[range]! : 'reserved';
}

/**
 * ipaddr.js reads `::a.b.c.d` as IPv4-mapped (`::ffff:a.b.c.d`), but it is the IPv4-compatible
 * address `::/96` (RFC 4291 2.5.5.1), and node's resolver prints those in exactly that form.
 * Spelling the leading zero group out makes the library read the address the kernel would use.
 */
function parseIpv6(text: string): ipaddr.IPv6 {
  return ipaddr.IPv6.parse(text.startsWith('::') && text.includes('.') ? `0${text}` : text);
}

/** Link-local IPv6 answers may carry a zone (`fe80::1%eth0`); the zone is not part of the address. */
function withoutZone(address: string): string {
  const percent = address.indexOf('%');
  return percent === -1 ? address : address.slice(0, percent);
}

/** The IPv4 address an IPv6 address forwards to, for the forms that embed one. */
function embeddedIpv4(ip: ipaddr.IPv6, range: string): ipaddr.IPv4 | undefined {
  if (range === 'ipv4Mapped') return ip.toIPv4Address();
  const bytes = ip.toByteArray();
  if (range === 'rfc6052' && ip.match(NAT64_WELL_KNOWN)) return new ipaddr.IPv4(bytes.slice(12, 16));
  if (range === '6to4') return new ipaddr.IPv4(bytes.slice(2, 6));
  return undefined;
}

/** The eight 16-bit groups of an IPv6 address, as the guard reads it. */
export function ipv6Groups(address: string): number[] {
  return parseIpv6(address).parts;
}
