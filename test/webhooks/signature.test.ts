import { createHmac, randomBytes } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { assertUsableSecret, webhookHeaders, WebhookSecretError, WEBHOOK_HEADERS } from '../../src/webhooks/signature';

const keyBytes = Buffer.from('0123456789abcdef0123456789abcdef'); // 32 bytes
const standardSecret = `whsec_${keyBytes.toString('base64')}`;
const rawSecret = 'a-raw-webhook-secret-of-32-chars!';
const body = JSON.stringify({ id: 'e1', status: 'completed', verdict: 'accepted', result: { stdout: 'héllo' } });
const id = '4b0c2f3e-8d8a-4f5e-9a43-7f7c3b1d2e10';
const nowSec = () => Math.floor(Date.now() / 1000);

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

/** What a receiver does with the headers it got. */
const verify = (receiver: Webhook, headers: Record<string, string>, payload = body) => receiver.verify(payload, headers);

describe('webhookHeaders', () => {
  test('carries webhook-id, webhook-timestamp, webhook-signature and the event', () => {
    const timestamp = 1_800_000_000;
    const headers = webhookHeaders({ secret: standardSecret, timestamp, body, evaluationId: id });
    expect(headers).toEqual({
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': expect.stringMatching(/^v1,[A-Za-z0-9+/]{43}=$/),
      'Crucible-Event': 'evaluation.finished',
    });
    expect(Object.keys(headers).sort()).toEqual(Object.values(WEBHOOK_HEADERS).sort());
  });

  test('the signature is base64 HMAC-SHA256 of "<id>.<timestamp>.<body>" under the decoded whsec_ key (the documented scheme)', () => {
    const timestamp = 1_800_000_000;
    const expected = createHmac('sha256', keyBytes).update(`${id}.${timestamp}.${body}`).digest('base64');
    expect(webhookHeaders({ secret: standardSecret, timestamp, body, evaluationId: id })['webhook-signature']).toBe(`v1,${expected}`);
  });

  test('a secret without the whsec_ prefix is used as its UTF-8 bytes', () => {
    const timestamp = 1_800_000_000;
    for (const secret of [rawSecret, 'ein-geheimnis-mit-umlauten-äöü-und-€-zeichen']) {
      const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${id}.${timestamp}.${body}`).digest('base64');
      expect(webhookHeaders({ secret, timestamp, body, evaluationId: id })['webhook-signature']).toBe(`v1,${expected}`);
    }
  });

  test('refuses a non-integer timestamp and an id that could be confused inside the signed text', () => {
    expect(() => webhookHeaders({ secret: rawSecret, timestamp: 1.5, body, evaluationId: id })).toThrow(RangeError);
    for (const evaluationId of ['', 'a.b', 'a b', 'a\nb']) {
      expect(() => webhookHeaders({ secret: rawSecret, timestamp: 1, body, evaluationId })).toThrow(RangeError);
    }
  });
});

describe('a receiver using the standardwebhooks library', () => {
  const sign = (secret: string, timestamp = nowSec()) => webhookHeaders({ secret, timestamp, body, evaluationId: id });

  test('verifies a whsec_ secret given as the same string, and a raw secret given as its bytes', () => {
    expect(verify(new Webhook(standardSecret), sign(standardSecret))).toEqual(JSON.parse(body));
    expect(verify(new Webhook(Buffer.from(rawSecret), { format: 'raw' }), sign(rawSecret))).toEqual(JSON.parse(body));
  });

  test('refuses a tampered body, a tampered id, another secret and a missing signature', () => {
    const receiver = new Webhook(standardSecret);
    const headers = sign(standardSecret);
    expect(() => verify(receiver, headers, body.replace('accepted', 'wrong_answer'))).toThrow('No matching signature found');
    expect(() => verify(receiver, { ...headers, 'webhook-id': 'another-evaluation' })).toThrow('No matching signature found');
    expect(() => verify(new Webhook(`whsec_${randomBytes(32).toString('base64')}`), headers)).toThrow(WebhookVerificationError);
    const { 'webhook-signature': _dropped, ...unsigned } = headers;
    expect(() => verify(receiver, unsigned)).toThrow('Missing required headers');
  });

  test('refuses a timestamp more than 5 minutes old or ahead, even when correctly signed', () => {
    const receiver = new Webhook(standardSecret);
    expect(() => verify(receiver, sign(standardSecret, nowSec() - 301))).toThrow('Message timestamp too old');
    expect(() => verify(receiver, sign(standardSecret, nowSec() + 310))).toThrow('Message timestamp too new');
    expect(verify(receiver, sign(standardSecret, nowSec() - 240))).toEqual(JSON.parse(body));
  });

  test('refuses a fresh timestamp swapped onto an old signature', () => {
    const receiver = new Webhook(standardSecret);
    const old = sign(standardSecret, nowSec() - 3600);
    expect(() => verify(receiver, { ...old, 'webhook-timestamp': String(nowSec()) })).toThrow('No matching signature found');
  });
});

describe('WEBHOOK_SECRET', () => {
  test('an empty secret is refused', () => {
    expect(() => assertUsableSecret('')).toThrow(WebhookSecretError);
  });

  test('a whsec_ secret must be valid base64 of at least 24 bytes; the message never shows the secret', () => {
    const invalid = 'whsec_not*base64*at*all*0123456789';
    const refusal = thrownBy(() => assertUsableSecret(invalid));
    expect(refusal).toBeInstanceOf(WebhookSecretError);
    expect((refusal as Error).message).not.toContain('base64*at');
    expect(() => assertUsableSecret('whsec_')).toThrow(WebhookSecretError);
    // 32 characters in all, which is what the configuration checks, but only 19 bytes of key.
    const short = `whsec_${randomBytes(19).toString('base64')}`;
    expect(short.length).toBeGreaterThanOrEqual(32);
    expect(() => assertUsableSecret(short)).toThrow('at least 24 bytes; this one has 19');
    expect(() => assertUsableSecret(`whsec_${randomBytes(24).toString('base64')}`)).not.toThrow();
  });

  test('any other non-empty string is a raw secret, even when it happens to be base64', () => {
    expect(() => assertUsableSecret(rawSecret)).not.toThrow();
    const looksLikeBase64 = keyBytes.toString('base64');
    const timestamp = nowSec();
    const headers = webhookHeaders({ secret: looksLikeBase64, timestamp, body, evaluationId: id });
    expect(verify(new Webhook(Buffer.from(looksLikeBase64), { format: 'raw' }), headers)).toEqual(JSON.parse(body));
    expect(() => verify(new Webhook(looksLikeBase64), headers)).toThrow('No matching signature found');
  });
});
