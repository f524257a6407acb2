/**
 * Only checks: nothing here opens a connection. Hostnames other than localhost resolve through
 * an injected lookup, so no DNS query leaves the machine either.
 */
import type { LookupAddress } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { classifyAddress, ipv6Groups } from '../../src/webhooks/address-class';
import {
  assertPublicDestination,
  DestinationLookupError,
  UnsafeWebhookUrlError,
  validateCallbackUrl,
  type LookupAll,
} from '../../src/webhooks/ssrf-guard';

const strict = { allowPrivate: false };

/** A resolver answering from a table; it fails the test if asked about anything else. */
function fakeLookup(table: Record<string, string[]>): LookupAll & { calls: string[] } {
  const calls: string[] = [];
  const lookup = (hostname: string, _options: unknown, callback: (err: NodeJS.ErrnoException | null, a: LookupAddress[]) => void) => {
    calls.push(hostname);
    const addresses = table[hostname];
    if (!addresses) {
      const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
      err.code = 'ENOTFOUND';
      process.nextTick(() => callback(err, []));
      return;
    }
    process.nextTick(() =>
      callback(
        null,
        addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
      ),
    );
  };
  return Object.assign(lookup, { calls });
}

async function refusal(url: string, options: Parameters<typeof assertPublicDestination>[1] = strict): Promise<UnsafeWebhookUrlError> {
  const err = await assertPublicDestination(url, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof UnsafeWebhookUrlError)) throw new Error(`expected ${url} to be refused, got ${String(err)}`);
  return err;
}

describe('assertPublicDestination refuses', () => {
  const blocked: Array<[string, string]> = [
    ['http://127.0.0.1/hook', 'loopback'],
    ['http://127.8.9.10:8080/', 'loopback'],
    ['http://10.0.0.1/', 'private'],
    ['http://172.16.5.4/', 'private'],
    ['http://172.31.255.255/', 'private'],
    ['http://192.168.1.1/', 'private'],
    ['http://169.254.169.254/latest/meta-data/', 'cloud_metadata'],
    ['http://169.254.1.1/', 'link_local'],
    ['http://100.64.0.1/', 'shared_address_space'],
    ['http://100.100.100.200/', 'cloud_metadata'],
    ['http://[::1]/', 'loopback'],
    ['http://[::ffff:127.0.0.1]/', 'loopback'],
    ['http://[::ffff:a9fe:a9fe]/', 'cloud_metadata'],
    ['http://[::ffff:10.1.2.3]/', 'private'],
    ['http://[64:ff9b::127.0.0.1]/', 'loopback'],
    ['http://[2002:7f00:1::]/', 'loopback'],
    ['http://[::127.0.0.1]/', 'reserved'],
    ['http://[fd00:ec2::254]/', 'cloud_metadata'],
    ['http://[fd12:3456::1]/', 'private'],
    ['http://[fe80::1]/', 'link_local'],
    ['http://[ff02::1]/', 'multicast'],
    ['http://[::]/', 'unspecified'],
    ['http://0.0.0.0/', 'unspecified'],
    ['http://0/', 'unspecified'],
    ['http://224.0.0.1/', 'multicast'],
    ['http://255.255.255.255/', 'broadcast'],
    ['http://240.0.0.1/', 'reserved'],
    // Numeric spellings of 127.0.0.1 that naive string checks miss.
    ['http://2130706433/', 'loopback'],
    ['http://0x7f000001/', 'loopback'],
    ['http://0x7f.1/', 'loopback'],
    ['http://017700000001/', 'loopback'],
    ['http://127.1/', 'loopback'],
  ];

  test.each(blocked)('%s (%s)', async (url, cls) => {
    const err = await refusal(url);
    expect(err.reason).toBe('blocked_address');
    expect(err.addressClass).toBe(cls);
  });

  test('localhost, which the system resolver maps to loopback', async () => {
    const err = await refusal('http://localhost:3000/hook');
    expect(err.reason).toBe('blocked_address');
    expect(err.addressClass).toBe('loopback');
  });

  test('a hostname that resolves to a private address', async () => {
    const lookup = fakeLookup({ 'hooks.example.com': ['10.20.30.40'] });
    const err = await refusal('https://hooks.example.com/x', { ...strict, lookup });
    expect(err.addressClass).toBe('private');
    expect(err.address).toBe('10.20.30.40');
    expect(err.message).toContain('hooks.example.com resolves to 10.20.30.40');
  });

  test('a hostname with one public and one loopback address (ANY unsafe address refuses)', async () => {
    const lookup = fakeLookup({ 'mixed.example.com': ['93.184.216.34', '::1'] });
    expect((await refusal('https://mixed.example.com/', { ...strict, lookup })).addressClass).toBe('loopback');
  });

  test('schemes other than http and https', async () => {
    for (const url of ['ftp://example.com/', 'file:///etc/passwd', 'gopher://example.com/', 'javascript:alert(1)']) {
      expect((await refusal(url)).reason).toBe('unsupported_scheme');
    }
  });

  test('credentials in the URL', async () => {
    expect((await refusal('https://user:pass@93.184.216.34/')).reason).toBe('credentials_in_url');
    expect((await refusal('https://user@93.184.216.34/')).reason).toBe('credentials_in_url');
  });

  test('text that is not an absolute URL, and overlong URLs', async () => {
    expect((await refusal('not a url')).reason).toBe('invalid_url');
    expect((await refusal('/relative/path')).reason).toBe('invalid_url');
    expect((await refusal(`https://93.184.216.34/${'a'.repeat(2100)}`)).reason).toBe('invalid_url');
  });

  test('a name that does not exist is "unresolvable"', async () => {
    const lookup = fakeLookup({});
    expect((await refusal('https://nope.example.com/', { ...strict, lookup })).reason).toBe('unresolvable');
  });

  test('allowPrivate never lets metadata, unspecified or multicast addresses through', async () => {
    const open = { allowPrivate: true };
    expect((await refusal('http://169.254.169.254/', open)).addressClass).toBe('cloud_metadata');
    expect((await refusal('http://0.0.0.0:8080/', open)).addressClass).toBe('unspecified');
    expect((await refusal('http://224.0.0.1/', open)).addressClass).toBe('multicast');
  });
});

describe('assertPublicDestination accepts (checks only, connects nowhere)', () => {
  test('a public IPv4 literal', async () => {
    const vetted = await assertPublicDestination('https://93.184.216.34/hook?x=1', strict);
    expect(vetted).toMatchObject({ address: '93.184.216.34', family: 4, hostname: '93.184.216.34' });
  });

  test('a public IPv6 literal', async () => {
    const vetted = await assertPublicDestination('https://[2606:2800:220:1:248:1893:25c8:1946]/', strict);
    expect(vetted).toMatchObject({ address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 });
  });

  test('a hostname with only public addresses: resolved once, and the first address is pinned', async () => {
    const lookup = fakeLookup({ 'hooks.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'] });
    const vetted = await assertPublicDestination('https://hooks.example.com:8443/in', { ...strict, lookup });
    expect(vetted).toMatchObject({ hostname: 'hooks.example.com', address: '93.184.216.34', family: 4 });
    expect(vetted.url.port).toBe('8443');
    expect(lookup.calls).toEqual(['hooks.example.com']);
  });

  test('loopback and private addresses when allowPrivate is set', async () => {
    const open = { allowPrivate: true };
    await expect(assertPublicDestination('http://127.0.0.1:9/', open)).resolves.toMatchObject({ address: '127.0.0.1' });
    await expect(assertPublicDestination('http://[::1]:9/', open)).resolves.toMatchObject({ address: '::1', family: 6 });
    await expect(assertPublicDestination('http://192.168.1.1/', open)).resolves.toMatchObject({ address: '192.168.1.1' });
  });
});

describe('DNS failures', () => {
  test('a resolver error other than "no such name" is a DestinationLookupError (transient)', async () => {
    const lookup: LookupAll = (_h, _o, cb) => {
      const err: NodeJS.ErrnoException = new Error('getaddrinfo EAI_AGAIN hooks.example.com');
      err.code = 'EAI_AGAIN';
      cb(err, []);
    };
    await expect(assertPublicDestination('https://hooks.example.com/', { ...strict, lookup })).rejects.toBeInstanceOf(
      DestinationLookupError,
    );
  });

  test('a resolver that never answers times out', async () => {
    const lookup: LookupAll = () => undefined;
    await expect(assertPublicDestination('https://hooks.example.com/', { ...strict, lookup, lookupTimeoutMs: 50 })).rejects.toMatchObject({
      name: 'DestinationLookupError',
      code: 'ETIMEOUT',
    });
  });
});

describe('validateCallbackUrl (for the API at submit time)', () => {
  test('returns a message fit for a 400', async () => {
    const result = await validateCallbackUrl('http://169.254.169.254/latest/meta-data/', strict);
    expect(result).toEqual({
      ok: false,
      reason: 'blocked_address',
      message: 'callbackUrl points to a cloud-metadata address; only public addresses may receive webhooks',
    });
    expect(await validateCallbackUrl('ftp://example.com/', strict)).toMatchObject({ ok: false, reason: 'unsupported_scheme' });
  });

  test('returns the normalised URL when it is acceptable', async () => {
    const lookup = fakeLookup({ 'hooks.example.com': ['93.184.216.34'] });
    expect(await validateCallbackUrl('HTTPS://Hooks.Example.com/in', { ...strict, lookup })).toEqual({
      ok: true,
      url: 'https://hooks.example.com/in',
    });
  });

  test('rethrows transient DNS failures instead of calling the URL invalid', async () => {
    const lookup: LookupAll = () => undefined;
    await expect(validateCallbackUrl('https://hooks.example.com/', { ...strict, lookup, lookupTimeoutMs: 20 })).rejects.toBeInstanceOf(
      DestinationLookupError,
    );
  });
});

describe('classifyAddress', () => {
  test.each([
    ['93.184.216.34', undefined],
    ['8.8.8.8', undefined],
    ['172.15.255.255', undefined],
    ['172.32.0.0', undefined],
    ['100.63.255.255', undefined],
    ['100.128.0.0', undefined],
    ['2606:4700::1111', undefined],
    ['::ffff:93.184.216.34', undefined],
    ['fe80::1%eth0', 'link_local'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:0:0', 'unspecified'],
  ])('%s -> %s', (address, cls) => {
    expect(classifyAddress(address)).toBe(cls);
  });

  test.each([
    // How node's resolver prints an IPv4-compatible AAAA answer; ipaddr.js alone would read it as IPv4-mapped.
    ['::8.8.8.8', 'reserved'],
    ['::0.0.0.1', 'loopback'],
    // Metadata reached through every IPv6 form that embeds an IPv4 address.
    ['::ffff:169.254.169.254', 'cloud_metadata'],
    ['64:ff9b::a9fe:a9fe', 'cloud_metadata'],
    ['2002:a9fe:a9fe::1', 'cloud_metadata'],
    ['64:ff9b::8.8.8.8', undefined],
    ['2002:808:808::1', undefined],
    ['64:ff9b:1::1', 'reserved'],
    ['::ffff:0:10.0.0.1', 'reserved'],
    ['2001::1', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['2001:4:112::1', 'reserved'],
    ['2001:200::1', undefined],
    ['3fff::1', 'reserved'],
    ['100::1', 'reserved'],
    ['fec0::1', 'private'],
    ['fd00:ec2::253', 'private'],
    ['192.88.99.1', 'reserved'],
    ['198.19.255.255', 'reserved'],
    ['198.20.0.0', undefined],
    ['100.100.100.201', 'shared_address_space'],
  ])('%s -> %s', (address, cls) => {
    expect(classifyAddress(address)).toBe(cls);
  });

  test('every special-purpose range ipaddr.js names is refused', () => {
    type Ranges = Record<string, [ipaddr.IPv4 | ipaddr.IPv6, number] | Array<[ipaddr.IPv4 | ipaddr.IPv6, number]>>;
    const named = [ipaddr.IPv4, ipaddr.IPv6].flatMap((kind) =>
      Object.entries((kind.prototype as unknown as { SpecialRanges: Ranges }).SpecialRanges).flatMap(([name, ranges]) =>
        (Array.isArray(ranges[0])
          ? (ranges as Array<[ipaddr.IPv4 | ipaddr.IPv6, number]>)
          : [ranges as [ipaddr.IPv4 | ipaddr.IPv6, number]]
        ).map(([network]) => [name, network.toString()] as const),
      ),
    );
    expect(named.length).toBeGreaterThan(30);
    const admitted = named.filter(([, address]) => classifyAddress(address) === undefined);
    expect(admitted).toEqual([]);
  });

  test('refuses text that is not an address', () => {
    expect(() => classifyAddress('example.com')).toThrow('is not an IP address');
  });

  test('ipv6Groups expands every notation', () => {
    expect(ipv6Groups('::')).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(ipv6Groups('::1')).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    expect(ipv6Groups('::ffff:127.0.0.1')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]);
    expect(ipv6Groups('1:2:3:4:5:6:1.2.3.4')).toEqual([1, 2, 3, 4, 5, 6, 0x102, 0x304]);
    expect(ipv6Groups('2001:db8::8:800:200c:417a')).toEqual([0x2001, 0xdb8, 0, 0, 8, 0x800, 0x200c, 0x417a]);
    expect(ipv6Groups('fe80::')).toEqual([0xfe80, 0, 0, 0, 0, 0, 0, 0]);
  });
});
