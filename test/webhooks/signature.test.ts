import {
  signWebhook,
  verifyWebhookSignature,
  webhookHeaders,
  WebhookSecretError,
  WEBHOOK_HEADERS,
} from '../../src/webhooks/signature';
import { createHmac } from 'node:crypto';

const secret = 'whsec_test_0123456789';
const body = JSON.stringify({ id: 'e1', status: 'completed', verdict: 'accepted' });
const timestamp = 1_800_000_000;

describe('signWebhook', () => {
  test('is v1= and the hex HMAC-SHA256 of "<timestamp>.<body>" (the documented scheme)', () => {
    const expected = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
    expect(signWebhook({ secret, timestamp, body })).toBe(`v1=${expected}`);
  });

  test('signs bytes and the same text identically', () => {
    expect(signWebhook({ secret, timestamp, body: Buffer.from(body) })).toBe(signWebhook({ secret, timestamp, body }));
  });

  test('refuses an empty secret and a non-integer timestamp', () => {
    expect(() => signWebhook({ secret: '', timestamp, body })).toThrow(WebhookSecretError);
    expect(() => signWebhook({ secret, timestamp: 1.5, body })).toThrow(RangeError);
  });

  test('webhookHeaders carries timestamp, signature, delivery id and event', () => {
    const headers = webhookHeaders({ secret, timestamp, body, evaluationId: 'e1', attempt: 3 });
    expect(headers).toEqual({
      'Crucible-Timestamp': String(timestamp),
      'Crucible-Signature': signWebhook({ secret, timestamp, body }),
      'Crucible-Delivery': 'e1:3',
      'Crucible-Event': 'evaluation.finished',
    });
    expect(Object.keys(headers).sort()).toEqual(Object.values(WEBHOOK_HEADERS).sort());
  });
});

describe('verifyWebhookSignature', () => {
  const header = signWebhook({ secret, timestamp, body });
  const base = { secret, header, timestamp: String(timestamp), body, now: timestamp + 10 };

  test('round trip verifies', () => {
    expect(verifyWebhookSignature(base)).toEqual({ valid: true });
    expect(verifyWebhookSignature({ ...base, body: Buffer.from(body) })).toEqual({ valid: true });
  });

  test('a tampered body fails', () => {
    expect(verifyWebhookSignature({ ...base, body: body.replace('accepted', 'wrong_answer') })).toEqual({
      valid: false,
      reason: 'signature_mismatch',
    });
  });

  test('a tampered timestamp fails even within the tolerance', () => {
    expect(verifyWebhookSignature({ ...base, timestamp: String(timestamp + 1) })).toEqual({ valid: false, reason: 'signature_mismatch' });
  });

  test('another secret fails', () => {
    expect(verifyWebhookSignature({ ...base, secret: 'other' })).toEqual({ valid: false, reason: 'signature_mismatch' });
  });

  test('an old timestamp fails, and so does one too far in the future', () => {
    expect(verifyWebhookSignature({ ...base, now: timestamp + 301 })).toEqual({ valid: false, reason: 'timestamp_outside_tolerance' });
    expect(verifyWebhookSignature({ ...base, now: timestamp - 301 })).toEqual({ valid: false, reason: 'timestamp_outside_tolerance' });
    expect(verifyWebhookSignature({ ...base, now: timestamp + 3600, toleranceSec: 7200 })).toEqual({ valid: true });
  });

  test('malformed or missing headers fail', () => {
    expect(verifyWebhookSignature({ ...base, timestamp: 'yesterday' })).toEqual({ valid: false, reason: 'malformed_timestamp' });
    expect(verifyWebhookSignature({ ...base, timestamp: undefined })).toEqual({ valid: false, reason: 'malformed_timestamp' });
    expect(verifyWebhookSignature({ ...base, header: undefined })).toEqual({ valid: false, reason: 'missing_signature' });
    expect(verifyWebhookSignature({ ...base, header: 'v0=abc' })).toEqual({ valid: false, reason: 'missing_signature' });
    expect(verifyWebhookSignature({ ...base, header: header.slice(0, -2) })).toEqual({ valid: false, reason: 'missing_signature' });
  });

  test('accepts any of several v1 signatures (secret rotation)', () => {
    const old = signWebhook({ secret: 'old-secret', timestamp, body });
    expect(verifyWebhookSignature({ ...base, header: `${old}, ${header}` })).toEqual({ valid: true });
    expect(verifyWebhookSignature({ ...base, header: old })).toEqual({ valid: false, reason: 'signature_mismatch' });
  });
});
