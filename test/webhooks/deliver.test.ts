/** deliverWebhook against a real HTTP receiver on 127.0.0.1 (allowPrivate: true for it). */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deliverWebhook, outcomeForStatus, parseRetryAfter, type WebhookDeliveryInput } from '../../src/webhooks/deliver';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import type { LookupAll } from '../../src/webhooks/ssrf-guard';
import { standardWebhookHeaders, startReceiver, type Receiver } from './receiver';

const secret = 'test-secret-for-deliveries';
const body = JSON.stringify({ id: 'a1b2', status: 'completed', verdict: 'accepted', result: { stdout: 'héllo\u0000' } });

let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

function input(url: string, overrides: Partial<WebhookDeliveryInput> = {}): WebhookDeliveryInput {
  return { url, secret, body, evaluationId: 'a1b2', timeoutMs: 5000, allowPrivate: true, ...overrides };
}

/** A receiver's verifier for `secret`, which is not in whsec_ form and so is used as its bytes. */
const receiverWebhook = () => new Webhook(Buffer.from(secret), { format: 'raw' });

test('2xx succeeds; the request is a signed JSON POST the receiver can verify', async () => {
  receiver = await startReceiver([{ status: 204 }]);
  const result = await deliverWebhook(input(receiver.url('/hook?token=abc')));

  expect(result).toMatchObject({ outcome: 'succeeded', statusCode: 204 });
  expect(result.error).toBeUndefined();
  expect(result.durationMs).toBeGreaterThanOrEqual(0);
  expect(receiver.requests).toHaveLength(1);
  const [req] = receiver.requests;
  expect(req).toMatchObject({ method: 'POST', url: '/hook?token=abc', body });
  expect(req!.headers).toMatchObject({
    'content-type': 'application/json',
    'user-agent': 'crucible-webhooks/1',
    'crucible-event': 'evaluation.finished',
    'webhook-id': 'a1b2',
    'webhook-signature': expect.stringMatching(/^v1,/),
    'content-length': String(Buffer.byteLength(body)),
  });
  expect(Math.abs(Number(req!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
  expect(receiverWebhook().verify(req!.body, standardWebhookHeaders(req!))).toEqual(JSON.parse(body));
});

describe('a receiver verifying with the standardwebhooks library', () => {
  test('accepts the delivery as sent, and refuses a tampered body, a forged id or another secret', async () => {
    receiver = await startReceiver([{ status: 200 }]);
    expect(await deliverWebhook(input(receiver.url()))).toMatchObject({ outcome: 'succeeded' });
    const [req] = receiver.requests;
    const headers = standardWebhookHeaders(req!);
    const webhook = receiverWebhook();

    expect(webhook.verify(req!.body, headers)).toMatchObject({ id: 'a1b2', verdict: 'accepted' });
    expect(() => webhook.verify(req!.body.replace('accepted', 'wrong_answer'), headers)).toThrow('No matching signature found');
    expect(() => webhook.verify(req!.body, { ...headers, 'webhook-id': 'another-evaluation' })).toThrow('No matching signature found');
    expect(() => new Webhook(Buffer.from(`${secret}-other`), { format: 'raw' }).verify(req!.body, headers)).toThrow(
      WebhookVerificationError,
    );
  });

  test('refuses the captured delivery replayed after the 5-minute tolerance, or with its timestamp rewritten', async () => {
    receiver = await startReceiver([{ status: 200 }]);
    await deliverWebhook(input(receiver.url()));
    const [req] = receiver.requests;
    const headers = standardWebhookHeaders(req!);
    const webhook = receiverWebhook();
    const sentAtMs = Number(headers['webhook-timestamp']) * 1000;

    // The receiver's clock six minutes after the delivery was signed.
    const clock = jest.spyOn(Date, 'now').mockReturnValue(sentAtMs + 6 * 60 * 1000);
    try {
      expect(() => webhook.verify(req!.body, headers)).toThrow('Message timestamp too old');
      // Bringing the timestamp up to date breaks the signature, which covers it.
      const fresh = { ...headers, 'webhook-timestamp': String(Math.floor(Date.now() / 1000)) };
      expect(() => webhook.verify(req!.body, fresh)).toThrow('No matching signature found');
    } finally {
      clock.mockRestore();
    }
    expect(webhook.verify(req!.body, headers)).toMatchObject({ id: 'a1b2' });
  });
});

test.each([
  [500, 'retryable'],
  [503, 'retryable'],
  [429, 'retryable'],
  [408, 'retryable'],
  [404, 'permanent'],
  [400, 'permanent'],
  [410, 'permanent'],
  [200, 'succeeded'],
  [201, 'succeeded'],
] as const)('HTTP %i is %s', async (status, outcome) => {
  receiver = await startReceiver([{ status }]);
  const result = await deliverWebhook(input(receiver.url()));
  expect(result).toMatchObject({ outcome, statusCode: status });
  if (outcome !== 'succeeded') expect(result.error).toBe(`receiver answered HTTP ${status}`);
});

test('a redirect is a permanent failure and is not followed', async () => {
  receiver = await startReceiver([{ status: 302, headers: { location: '/elsewhere' } }, { status: 200 }]);
  const result = await deliverWebhook(input(receiver.url('/hook')));
  expect(result).toMatchObject({ outcome: 'permanent', statusCode: 302 });
  expect(result.error).toContain('redirecting to /elsewhere; redirects are not followed');
  expect(receiver.requests.map((r) => r.url)).toEqual(['/hook']);
});

test('a 429 with Retry-After passes the delay on', async () => {
  receiver = await startReceiver([{ status: 429, headers: { 'retry-after': '7' } }]);
  expect(await deliverWebhook(input(receiver.url()))).toMatchObject({ outcome: 'retryable', statusCode: 429, retryAfterMs: 7000 });
});

test('a slow receiver times out as retryable', async () => {
  receiver = await startReceiver([{ hang: true }]);
  const started = Date.now();
  const result = await deliverWebhook(input(receiver.url(), { timeoutMs: 300 }));
  expect(result.outcome).toBe('retryable');
  expect(result.statusCode).toBeUndefined();
  expect(result.error).toMatch(/^timed out: no response within \d+ ms$/);
  expect(Date.now() - started).toBeLessThan(3000);
  expect(receiver.requests).toHaveLength(1);
});

test('a refused connection is retryable', async () => {
  // A port that was just free: listen, note it, close.
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const result = await deliverWebhook(input(`http://127.0.0.1:${port}/hook`));
  expect(result).toMatchObject({ outcome: 'retryable' });
  expect(result.error).toContain('ECONNREFUSED');
});

test('with allowPrivate: false a loopback receiver is refused and never contacted', async () => {
  receiver = await startReceiver([{ status: 200 }]);
  const result = await deliverWebhook(input(receiver.url(), { allowPrivate: false }));
  expect(result.outcome).toBe('permanent');
  expect(result.statusCode).toBeUndefined();
  expect(result.error).toMatch(/^refused: callbackUrl points to a loopback address/);
  expect(receiver.requests).toHaveLength(0);
});

test('the connection goes to the vetted address, with the original Host header, after one lookup', async () => {
  receiver = await startReceiver([{ status: 200 }]);
  const calls: string[] = [];
  const lookup: LookupAll = (hostname, _options, callback) => {
    calls.push(hostname);
    // A rebinding resolver would answer differently the second time; there must be no second time.
    callback(null, calls.length === 1 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '127.0.0.2', family: 4 }]);
  };
  const result = await deliverWebhook(input(`http://receiver.test:${receiver.port}/hook`, { lookup }));
  expect(result).toMatchObject({ outcome: 'succeeded', statusCode: 200 });
  expect(calls).toEqual(['receiver.test']);
  expect(receiver.requests[0]!.headers.host).toBe(`receiver.test:${receiver.port}`);
});

test('https keeps the original hostname for SNI while connecting to the pinned address; an untrusted certificate is retryable', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'webhook-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=receiver.test',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const server = https.createServer(
      { key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) },
      (_req, res) => {
        res.writeHead(200).end();
      },
    );
    // The client hangs up on the self-signed certificate, after sending its SNI: that is what we look at.
    const sniSeen = new Promise<string | false | null>((resolve) =>
      server.once('tlsClientError', (_err, socket) => resolve((socket as import('node:tls').TLSSocket).servername)),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const lookup: LookupAll = (_h, _o, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]);
    try {
      const result = await deliverWebhook(input(`https://receiver.test:${port}/hook`, { lookup }));
      expect(result.outcome).toBe('retryable');
      expect(result.error).toMatch(/^network error: (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)/);
      expect(await sniSeen).toBe('receiver.test');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a huge response body is not read to the end', async () => {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    // Keep writing far past the 64 KiB cap; the deliverer must stop reading and return.
    const chunk = Buffer.alloc(64 * 1024, 1);
    const pump = () => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once('drain', pump);
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const result = await deliverWebhook(input(`http://127.0.0.1:${port}/`, { timeoutMs: 5000 }));
    expect(result).toMatchObject({ outcome: 'succeeded', statusCode: 200 });
    expect(result.durationMs).toBeLessThan(4000);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('a name that does not resolve is retryable (DNS may catch up); an unsafe URL is permanent', async () => {
  const lookup: LookupAll = (hostname, _o, cb) => {
    const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
    err.code = 'ENOTFOUND';
    cb(err, []);
  };
  expect(await deliverWebhook(input('https://gone.example.com/', { lookup, allowPrivate: false }))).toMatchObject({
    outcome: 'retryable',
  });
  expect(await deliverWebhook(input('ftp://example.com/', { allowPrivate: false }))).toMatchObject({ outcome: 'permanent' });
});

describe('helpers', () => {
  test('outcomeForStatus', () => {
    expect([200, 299, 301, 304, 399, 400, 401, 403, 404, 408, 422, 429, 500, 502, 599].map(outcomeForStatus)).toEqual([
      'succeeded',
      'succeeded',
      'permanent',
      'permanent',
      'permanent',
      'permanent',
      'permanent',
      'permanent',
      'permanent',
      'retryable',
      'permanent',
      'retryable',
      'retryable',
      'retryable',
      'retryable',
    ]);
  });

  test('parseRetryAfter reads seconds and HTTP dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
