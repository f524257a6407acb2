/**
 * SSRF guard for callback URLs. A callback URL is chosen by whoever submits code, so without
 * this check the worker would POST to anything it can reach: the cloud metadata service,
 * PostgreSQL's host, the Temporal frontend, an admin UI on localhost.
 *
 * The check runs on resolved addresses, not on the hostname's spelling: the WHATWG URL parser
 * already turns `http://2130706433/`, `http://0x7f.1/` and `http://017700000001/` into
 * 127.0.0.1, and a hostname is resolved with `dns.lookup(all: true)` and refused if ANY of its
 * addresses is unsafe (otherwise the connection could pick the unsafe one). The vetted address
 * is returned so the caller connects to exactly that address (see http-post.ts): resolving a
 * second time would let a DNS-rebinding server answer the check and the connection differently.
 */
import dns, { type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { classifyAddress, PRIVATE_NETWORK_CLASSES, type AddressClass } from './address-class';

export type LookupAll = (
  hostname: string,
  options: { all: true; verbatim?: boolean },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

export interface DestinationOptions {
  /** Lets loopback, private, link-local and CGNAT addresses through (development, private networks). */
  allowPrivate: boolean;
  /** Resolver, injectable for tests; defaults to `dns.lookup` (the system resolver, /etc/hosts included). */
  lookup?: LookupAll;
  /** Upper bound on the DNS lookup; getaddrinfo has no timeout of its own. */
  lookupTimeoutMs?: number;
}

export interface VettedDestination {
  url: URL;
  /** The hostname without IPv6 brackets: what TLS verifies and the Host header names. */
  hostname: string;
  address: string;
  family: 4 | 6;
}

export type UnsafeUrlReason = 'invalid_url' | 'unsupported_scheme' | 'credentials_in_url' | 'unresolvable' | 'blocked_address';

/** The URL must not be called. `reason` is machine-readable; the message is fit for a 400. */
export class UnsafeWebhookUrlError extends Error {
  override readonly name = 'UnsafeWebhookUrlError';
  constructor(
    readonly reason: UnsafeUrlReason,
    message: string,
    readonly address?: string,
    readonly addressClass?: AddressClass,
  ) {
    super(message);
  }
}

/** DNS did not answer (timeout, SERVFAIL, resolver down): worth retrying, says nothing about the URL. */
export class DestinationLookupError extends Error {
  override readonly name = 'DestinationLookupError';
  constructor(
    readonly hostname: string,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

export const MAX_CALLBACK_URL_LENGTH = 2048;
const DEFAULT_LOOKUP_TIMEOUT_MS = 5000;
/** Answers that say the name does not exist, as opposed to the resolver failing to answer. */
const NAME_DOES_NOT_EXIST = new Set(['ENOTFOUND', 'ENODATA', 'EAI_NONAME', 'EAI_NODATA']);

export function parseCallbackUrl(raw: string): URL {
  if (raw.length > MAX_CALLBACK_URL_LENGTH) {
    throw new UnsafeWebhookUrlError('invalid_url', `callbackUrl is longer than ${MAX_CALLBACK_URL_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UnsafeWebhookUrlError('invalid_url', 'callbackUrl is not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UnsafeWebhookUrlError('unsupported_scheme', `callbackUrl must use http or https, not ${url.protocol.slice(0, -1)}`);
  }
  if (url.username !== '' || url.password !== '') {
    // Credentials in the URL would be stored, shown in delivery logs and sent as Basic auth.
    throw new UnsafeWebhookUrlError('credentials_in_url', 'callbackUrl must not contain a user name or password');
  }
  if (url.hostname === '') throw new UnsafeWebhookUrlError('invalid_url', 'callbackUrl has no host');
  return url;
}

/** Parses, resolves and vets the URL; resolves with the one address the request must connect to. */
export async function assertPublicDestination(raw: string, options: DestinationOptions): Promise<VettedDestination> {
  const url = parseCallbackUrl(raw);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const addresses = isIP(hostname)
    ? [{ address: hostname, family: isIP(hostname) }]
    : await resolveAll(hostname, options.lookup ?? (dns.lookup as LookupAll), options.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS);

  for (const { address } of addresses) {
    const cls = classifyAddress(address);
    if (cls === undefined || (options.allowPrivate && PRIVATE_NETWORK_CLASSES.has(cls))) continue;
    const via = address === hostname ? '' : ` (${hostname} resolves to ${address})`;
    throw new UnsafeWebhookUrlError(
      'blocked_address',
      `callbackUrl points to a ${cls.replace(/_/g, '-')} address${via}; only public addresses may receive webhooks`,
      address,
      cls,
    );
  }
  const first = addresses[0]!;
  return { url, hostname, address: first.address, family: first.family === 6 ? 6 : 4 };
}

export type CallbackUrlCheck = { ok: true; url: string } | { ok: false; reason: UnsafeUrlReason; message: string };

/**
 * For the API at submit time: the same check as at delivery, so an unusable URL is a 400 now
 * rather than a failed delivery later. DNS failures that say nothing about the URL
 * (DestinationLookupError) are thrown, not turned into a 400: the caller answers 503.
 * The check is repeated at delivery, because DNS can change in between.
 */
export async function validateCallbackUrl(raw: string, options: DestinationOptions): Promise<CallbackUrlCheck> {
  try {
    const vetted = await assertPublicDestination(raw, options);
    return { ok: true, url: vetted.url.toString() };
  } catch (err) {
    if (err instanceof UnsafeWebhookUrlError) return { ok: false, reason: err.reason, message: err.message };
    throw err;
  }
}

function resolveAll(hostname: string, lookup: LookupAll, timeoutMs: number): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new DestinationLookupError(hostname, `DNS lookup of ${hostname} took longer than ${timeoutMs} ms`, 'ETIMEOUT')),
      timeoutMs,
    );
    lookup(hostname, { all: true, verbatim: true }, (err, addresses) => {
      clearTimeout(timer);
      if (err && err.code && NAME_DOES_NOT_EXIST.has(err.code)) {
        reject(new UnsafeWebhookUrlError('unresolvable', `callbackUrl host ${hostname} does not resolve`));
      } else if (err) {
        reject(new DestinationLookupError(hostname, `DNS lookup of ${hostname} failed: ${err.message}`, err.code));
      } else if (addresses.length === 0) {
        reject(new UnsafeWebhookUrlError('unresolvable', `callbackUrl host ${hostname} has no addresses`));
      } else {
        resolve(addresses);
      }
    });
  });
}
