/**
 * The stored record of webhook attempts: one row per (evaluation, attempt), so users and
 * operators can see every try, its status code or error and how long it took.
 */
import type { Db } from '../db/client';
import type { WebhookDelivery } from '../generated/prisma/client';

export interface DeliveryAttempt {
  evaluationId: string;
  attempt: number;
  url: string;
  statusCode?: number;
  error?: string;
  succeeded: boolean;
  durationMs: number;
}

/** The public shape of one attempt, e.g. for GET /v1/evaluations/:id/deliveries. */
export interface WebhookDeliveryView {
  attempt: number;
  url: string;
  statusCode: number | null;
  error: string | null;
  succeeded: boolean;
  durationMs: number;
  at: string;
}

/** Error texts come from receivers and sockets; keep rows small. */
const MAX_ERROR_LENGTH = 1000;

export class WebhookDeliveryLog {
  constructor(private readonly db: Db) {}

  /** The attempt that succeeded, if one did. */
  async successfulAttempt(evaluationId: string): Promise<number | undefined> {
    const row = await this.db.webhookDelivery.findFirst({
      where: { evaluationId, succeeded: true },
      orderBy: { attempt: 'asc' },
      select: { attempt: true },
    });
    return row?.attempt;
  }

  /** Idempotent: a second write for the same (evaluation, attempt) changes nothing. */
  async record(attempt: DeliveryAttempt): Promise<void> {
    await this.db.webhookDelivery.createMany({
      data: [
        {
          evaluationId: attempt.evaluationId,
          attempt: attempt.attempt,
          url: attempt.url,
          statusCode: attempt.statusCode ?? null,
          error: attempt.error === undefined ? null : attempt.error.slice(0, MAX_ERROR_LENGTH),
          succeeded: attempt.succeeded,
          durationMs: attempt.durationMs,
        },
      ],
      skipDuplicates: true,
    });
  }

  async list(evaluationId: string): Promise<WebhookDeliveryView[]> {
    const rows = await this.db.webhookDelivery.findMany({ where: { evaluationId }, orderBy: { attempt: 'asc' } });
    return rows.map(presentWebhookDelivery);
  }
}

export function presentWebhookDelivery(row: WebhookDelivery): WebhookDeliveryView {
  return {
    attempt: row.attempt,
    url: row.url,
    statusCode: row.statusCode,
    error: row.error,
    succeeded: row.succeeded,
    durationMs: row.durationMs,
    at: row.createdAt.toISOString(),
  };
}
