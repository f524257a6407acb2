/**
 * Webhook signing, in the style of Stripe's scheme.
 *
 * Each delivery carries
 *
 *     Crucible-Timestamp: <unix seconds when this attempt was signed>
 *     Crucible-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
 *     Crucible-Delivery:  <evaluationId>:<attempt>
 *     Crucible-Event:     evaluation.finished
 *
 * The timestamp is inside the MAC so a captured request cannot be replayed later with a fresh
 * timestamp; receivers refuse timestamps outside a tolerance (default 5 minutes). The `v1=`
 * prefix leaves room for another scheme, and a receiver accepts a header holding several
 * comma-separated `v1=` values so a secret can be rotated without a gap.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_HEADERS = {
  timestamp: 'Crucible-Timestamp',
  signature: 'Crucible-Signature',
  delivery: 'Crucible-Delivery',
  event: 'Crucible-Event',
} as const;

export const WEBHOOK_EVENT_FINISHED = 'evaluation.finished';
export const SIGNATURE_SCHEME = 'v1';
export const DEFAULT_TOLERANCE_SEC = 300;

export class WebhookSecretError extends Error {
  override readonly name = 'WebhookSecretError';
}

/** An empty key still yields an HMAC, but one anybody can compute: refuse it loudly. */
export function assertUsableSecret(secret: string): void {
  if (secret.length === 0) throw new WebhookSecretError('the webhook signing secret is empty');
}

export interface SignInput {
  secret: string;
  /** Unix time in whole seconds. */
  timestamp: number;
  /** The exact bytes sent as the request body. */
  body: string | Uint8Array;
}

/** The value of the Crucible-Signature header: `v1=<hex>`. */
export function signWebhook(input: SignInput): string {
  assertUsableSecret(input.secret);
  if (!Number.isSafeInteger(input.timestamp) || input.timestamp < 0) {
    throw new RangeError(`webhook timestamp must be whole unix seconds, got ${input.timestamp}`);
  }
  return `${SIGNATURE_SCHEME}=${hmacHex(input.secret, String(input.timestamp), input.body)}`;
}

export interface DeliveryHeadersInput {
  secret: string;
  timestamp: number;
  body: string;
  evaluationId: string;
  attempt: number;
}

/** The four Crucible-* headers of one delivery attempt. */
export function webhookHeaders(input: DeliveryHeadersInput): Record<string, string> {
  return {
    [WEBHOOK_HEADERS.timestamp]: String(input.timestamp),
    [WEBHOOK_HEADERS.signature]: signWebhook(input),
    [WEBHOOK_HEADERS.delivery]: `${input.evaluationId}:${input.attempt}`,
    [WEBHOOK_HEADERS.event]: WEBHOOK_EVENT_FINISHED,
  };
}

export type SignatureFailure = 'missing_signature' | 'malformed_timestamp' | 'timestamp_outside_tolerance' | 'signature_mismatch';

export type SignatureCheck = { valid: true } | { valid: false; reason: SignatureFailure };

export interface VerifyInput {
  secret: string;
  /** The Crucible-Signature header as received. */
  header: string | undefined;
  /** The Crucible-Timestamp header as received. */
  timestamp: string | number | undefined;
  /** The raw request body, before any JSON parsing (re-serialising changes the bytes). */
  body: string | Uint8Array;
  toleranceSec?: number;
  /** Unix seconds; defaults to the current time. */
  now?: number;
}

/** For receivers and tests: checks the MAC in constant time and the timestamp's age. */
export function verifyWebhookSignature(input: VerifyInput): SignatureCheck {
  assertUsableSecret(input.secret);
  const timestamp = parseTimestamp(input.timestamp);
  if (timestamp === undefined) return { valid: false, reason: 'malformed_timestamp' };

  const now = input.now ?? Math.floor(Date.now() / 1000);
  const tolerance = input.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  if (Math.abs(now - timestamp) > tolerance) return { valid: false, reason: 'timestamp_outside_tolerance' };

  const candidates = signaturesIn(input.header);
  if (candidates.length === 0) return { valid: false, reason: 'missing_signature' };

  const expected = Buffer.from(hmacHex(input.secret, String(timestamp), input.body), 'hex');
  // Compare against every candidate (no early exit) so timing does not reveal which one matched.
  let matched = false;
  for (const candidate of candidates) {
    if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true;
  }
  return matched ? { valid: true } : { valid: false, reason: 'signature_mismatch' };
}

function hmacHex(secret: string, timestamp: string, body: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

function parseTimestamp(value: string | number | undefined): number | undefined {
  const text = typeof value === 'number' ? String(value) : value?.trim();
  if (!text || !/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

/** The `v1=` values of a header such as `v1=abc..., v1=def...`; other schemes are ignored. */
function signaturesIn(header: string | undefined): Buffer[] {
  if (!header) return [];
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const [scheme, value] = part.trim().split('=', 2);
    if (scheme === SIGNATURE_SCHEME && value && /^[0-9a-f]{64}$/i.test(value)) signatures.push(Buffer.from(value, 'hex'));
  }
  return signatures;
}
