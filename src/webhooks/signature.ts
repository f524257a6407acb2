/**
 * Webhook signing by the Standard Webhooks scheme (https://www.standardwebhooks.com), done by
 * its reference library, so receivers verify with any Standard Webhooks library rather than
 * with code written for a scheme only Crucible uses.
 *
 * Each delivery carries
 *
 *     webhook-id:        <evaluation id>
 *     webhook-timestamp: <unix seconds when this attempt was signed>
 *     webhook-signature: v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<raw body>")>
 *     Crucible-Event:    evaluation.finished
 *
 * The id is the same on every attempt, because Standard Webhooks receivers deduplicate on it.
 * The timestamp is inside the MAC so a captured request cannot be replayed later with a fresh
 * timestamp; the libraries refuse timestamps more than 5 minutes off.
 */
import { Webhook } from 'standardwebhooks';

export const WEBHOOK_HEADERS = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
  event: 'Crucible-Event',
} as const;

export const WEBHOOK_EVENT_FINISHED = 'evaluation.finished';
/** Marks a secret serialised as Standard Webhooks defines it: the key's bytes in base64. */
export const STANDARD_SECRET_PREFIX = 'whsec_';
/** The smallest symmetric key Standard Webhooks allows (192 bits). */
export const MIN_STANDARD_SECRET_BYTES = 24;

export class WebhookSecretError extends Error {
  override readonly name = 'WebhookSecretError';
}

/**
 * The signer for a WEBHOOK_SECRET value. A `whsec_<base64>` secret is decoded by the library
 * itself, so the key is exactly the one every Standard Webhooks receiver derives from the same
 * string. Any other string is the key as it stands: its UTF-8 bytes.
 */
export function webhookSigner(secret: string): Webhook {
  // An empty key still yields an HMAC, but one anybody can compute: refuse it loudly.
  if (secret.length === 0) throw new WebhookSecretError('the webhook signing secret is empty');
  if (!secret.startsWith(STANDARD_SECRET_PREFIX)) {
    // Bytes, not the string: the library's raw mode keeps only the low 8 bits of each UTF-16
    // unit, which would silently change a non-ASCII secret.
    return new Webhook(Buffer.from(secret, 'utf8'), { format: 'raw' });
  }
  let signer: Webhook;
  try {
    signer = new Webhook(secret);
  } catch (err) {
    // The message names the problem, never the secret.
    throw new WebhookSecretError(`a ${STANDARD_SECRET_PREFIX} webhook secret must continue in base64: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const keyBytes = Buffer.byteLength(secret.slice(STANDARD_SECRET_PREFIX.length), 'base64');
  if (keyBytes < MIN_STANDARD_SECRET_BYTES) {
    throw new WebhookSecretError(
      `a ${STANDARD_SECRET_PREFIX} webhook secret must decode to at least ${MIN_STANDARD_SECRET_BYTES} bytes; this one has ${keyBytes}`,
    );
  }
  return signer;
}

/** For start-up: the same checks as signing, before the first delivery needs them. */
export function assertUsableSecret(secret: string): void {
  webhookSigner(secret);
}

export interface DeliveryHeadersInput {
  secret: string;
  /** Unix time in whole seconds. */
  timestamp: number;
  /** The exact text sent as the request body. */
  body: string;
  /** Becomes webhook-id: the same for every attempt of one evaluation's delivery. */
  evaluationId: string;
}

/** The headers that authenticate one delivery attempt. */
export function webhookHeaders(input: DeliveryHeadersInput): Record<string, string> {
  if (!Number.isSafeInteger(input.timestamp) || input.timestamp < 0) {
    throw new RangeError(`webhook timestamp must be whole unix seconds, got ${input.timestamp}`);
  }
  // The signed text is "<id>.<timestamp>.<body>"; a "." in the id would let one signed text
  // read as another id and timestamp (the spec forbids it), and a header value cannot hold
  // whitespace or control characters safely.
  if (!/^[\x21-\x7e]+$/.test(input.evaluationId) || input.evaluationId.includes('.')) {
    throw new RangeError(`webhook-id must be printable ASCII without "." or spaces, got ${JSON.stringify(input.evaluationId)}`);
  }
  const signature = webhookSigner(input.secret).sign(input.evaluationId, new Date(input.timestamp * 1000), input.body);
  return {
    [WEBHOOK_HEADERS.id]: input.evaluationId,
    [WEBHOOK_HEADERS.timestamp]: String(input.timestamp),
    [WEBHOOK_HEADERS.signature]: signature,
    [WEBHOOK_HEADERS.event]: WEBHOOK_EVENT_FINISHED,
  };
}
