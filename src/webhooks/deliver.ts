/**
 * One delivery attempt: vet the URL, sign, POST, and classify what happened so the caller
 * knows whether another attempt can help.
 *
 *   2xx                                   -> succeeded
 *   5xx, 408, 429, network error, timeout -> retryable (the receiver may recover)
 *   3xx, other 4xx, unsafe URL            -> permanent (the same request gets the same answer)
 *
 * Redirects are refused rather than followed: the target of a redirect would escape the SSRF
 * check, and a receiver that moved should get its callback URL fixed.
 */
import { webhookHeaders } from './signature';
import { postPinned, WebhookNetworkError, WebhookTimeoutError, type PinnedPostResponse } from './pinned-post';
import { DEFAULT_WEBHOOK_TIMEOUT_MS } from '../config/defaults';
import { assertPublicDestination, DestinationLookupError, UnsafeWebhookUrlError, type LookupAll } from './ssrf-guard';

export const WEBHOOK_USER_AGENT = 'crucible-webhooks/1';
export { DEFAULT_WEBHOOK_TIMEOUT_MS };
/** The answer is not used; reading a little lets a well-behaved receiver finish cleanly. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

export type DeliveryOutcome = 'succeeded' | 'retryable' | 'permanent';

export interface WebhookDeliveryInput {
  url: string;
  secret: string;
  /** The JSON text to send; it is signed byte for byte. */
  body: string;
  /** Sent as webhook-id, which receivers deduplicate on: the same for every attempt. */
  evaluationId: string;
  /** One deadline for DNS, connect, request and response; default 10 s. */
  timeoutMs?: number;
  allowPrivate: boolean;
  /** Resolver for the SSRF guard, injectable for tests. */
  lookup?: LookupAll;
}

export interface WebhookDeliveryResult {
  statusCode?: number;
  error?: string;
  durationMs: number;
  outcome: DeliveryOutcome;
  /** The receiver's Retry-After on 429/503, when it gave a usable one. */
  retryAfterMs?: number;
}

export async function deliverWebhook(input: WebhookDeliveryInput): Promise<WebhookDeliveryResult> {
  const started = performance.now();
  const timeoutMs = input.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  const elapsed = () => Math.round(performance.now() - started);
  const failed = (outcome: Exclude<DeliveryOutcome, 'succeeded'>, error: string): WebhookDeliveryResult => ({
    outcome,
    error,
    durationMs: elapsed(),
  });

  let response: PinnedPostResponse;
  try {
    const destination = await assertPublicDestination(input.url, {
      allowPrivate: input.allowPrivate,
      lookup: input.lookup,
      lookupTimeoutMs: timeoutMs,
    });
    const timestamp = Math.floor(Date.now() / 1000);
    response = await postPinned({
      destination,
      body: input.body,
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': WEBHOOK_USER_AGENT,
        ...webhookHeaders({ secret: input.secret, timestamp, body: input.body, evaluationId: input.evaluationId }),
      },
      timeoutMs: Math.max(1, timeoutMs - elapsed()),
      maxResponseBytes: MAX_RESPONSE_BYTES,
    });
  } catch (err) {
    if (err instanceof UnsafeWebhookUrlError) {
      // A name that does not resolve now may resolve later (a fresh DNS record, an outage of
      // the receiver's DNS host); an address in a refused range will not become public.
      return failed(err.reason === 'unresolvable' ? 'retryable' : 'permanent', `refused: ${err.message}`);
    }
    if (err instanceof DestinationLookupError) return failed('retryable', err.message);
    if (err instanceof WebhookTimeoutError) return failed('retryable', `timed out: ${err.message}`);
    if (err instanceof WebhookNetworkError) return failed('retryable', `network error: ${err.code ? `${err.code} ` : ''}${err.message}`);
    throw err;
  }
  return classifyResponse(response, elapsed());
}

export function outcomeForStatus(statusCode: number): DeliveryOutcome {
  if (statusCode >= 200 && statusCode < 300) return 'succeeded';
  // 408 and 429 are the receiver saying "not now", like a 5xx.
  if (statusCode >= 500 || statusCode === 408 || statusCode === 429) return 'retryable';
  return 'permanent';
}

function classifyResponse(response: PinnedPostResponse, durationMs: number): WebhookDeliveryResult {
  const { statusCode, headers } = response;
  const outcome = outcomeForStatus(statusCode);
  if (outcome === 'succeeded') return { outcome, statusCode, durationMs };

  const location = typeof headers.location === 'string' ? headers.location : undefined;
  const error =
    statusCode >= 300 && statusCode < 400
      ? `receiver answered HTTP ${statusCode}${location ? ` redirecting to ${truncate(location, 200)}` : ''}; redirects are not followed`
      : `receiver answered HTTP ${statusCode}`;
  const retryAfterMs = outcome === 'retryable' ? parseRetryAfter(headers['retry-after']) : undefined;
  return { outcome, statusCode, error, durationMs, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
}

/** Retry-After is either delay-seconds or an HTTP date (RFC 9110 10.2.3). */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}...`;
}
