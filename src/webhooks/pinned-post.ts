/**
 * One HTTP(S) POST to an address vetted by the SSRF guard. The request keeps the original
 * hostname (Host header, TLS SNI and certificate check) but its `lookup` always answers with
 * the vetted address, so no second DNS answer can steer the connection elsewhere.
 *
 * No redirects are followed (node's http never does), no connection is reused (agent: false),
 * the whole exchange has one deadline, and at most `maxResponseBytes` of the answer are read:
 * a receiver cannot hold the worker or fill its memory.
 */
import type { LookupAddress, LookupOptions } from 'node:dns';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { VettedDestination } from './ssrf-guard';

export interface PinnedPostRequest {
  destination: VettedDestination;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  maxResponseBytes: number;
}

export interface PinnedPostResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
}

/** No status line arrived before the deadline. */
export class WebhookTimeoutError extends Error {
  override readonly name = 'WebhookTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`no response within ${timeoutMs} ms`);
  }
}

/** The connection failed before a status line arrived (refused, reset, TLS error, ...). */
export class WebhookNetworkError extends Error {
  override readonly name = 'WebhookNetworkError';
  readonly code: string | undefined;
  constructor(cause: Error) {
    super(cause.message, { cause });
    this.code = (cause as NodeJS.ErrnoException).code;
  }
}

export function postPinned(request: PinnedPostRequest): Promise<PinnedPostResponse> {
  const { destination } = request;
  const transport = destination.url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    let response: PinnedPostResponse | undefined;
    let settled = false;
    // Once the status line is in, the outcome is decided by it; whatever happens to the rest of
    // the body (cap reached, deadline, reset) only ends the read.
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (response) resolve(response);
      else reject(err ?? new Error('the request ended without a response'));
    };

    const req = transport.request({
      method: 'POST',
      protocol: destination.url.protocol,
      hostname: destination.hostname,
      port: destination.url.port || undefined,
      path: `${destination.url.pathname}${destination.url.search}`,
      headers: { ...request.headers, 'Content-Length': String(Buffer.byteLength(request.body)) },
      agent: false,
      lookup: pinnedLookup(destination),
    });
    const deadline = setTimeout(() => req.destroy(new WebhookTimeoutError(request.timeoutMs)), request.timeoutMs);

    req.on('response', (res) => {
      response = { statusCode: res.statusCode ?? 0, headers: res.headers };
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received >= request.maxResponseBytes) {
          res.destroy();
          settle();
        }
      });
      res.on('end', () => settle());
      res.on('close', () => settle());
      res.on('error', (err) => settle(err));
    });
    req.on('error', (err) => settle(err instanceof WebhookTimeoutError ? err : new WebhookNetworkError(err)));
    req.end(request.body);
  });
}

/**
 * Answers every lookup with the vetted address. Node asks with `all: true` when it races
 * IPv4 and IPv6 (autoSelectFamily), so both callback shapes are served.
 */
function pinnedLookup(destination: VettedDestination) {
  return (
    _hostname: string,
    options: LookupOptions,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    if (options.all) callback(null, [{ address: destination.address, family: destination.family }]);
    else callback(null, destination.address, destination.family);
  };
}
