/**
 * Lifecycle events as Server-Sent Events: each event is sent once, with its id, as it is stored;
 * the stream closes after the evaluation's terminal event. A client that reconnects with
 * Last-Event-ID continues after that event, so nothing is lost or repeated.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { isTerminal } from '../domain/evaluation';
import type { EvaluationStore } from '../db/evaluations';
import { presentEvent } from '../contract/present';
import { badRequest } from './errors';

const POLL_MS = 200;
const KEEPALIVE_MS = 15000;

export function parseLastEventId(header: string | undefined): bigint | undefined {
  if (header === undefined || header === '') return undefined;
  if (!/^\d{1,18}$/.test(header)) throw badRequest('Last-Event-ID must be an event id this API sent');
  return BigInt(header);
}

export function streamEvents(c: Context, store: EvaluationStore, evaluationId: string, afterId: bigint | undefined): Response {
  return streamSSE(c, async (stream) => {
    let closed = false;
    stream.onAbort(() => {
      closed = true;
    });
    let cursor = afterId;
    let lastWrite = Date.now();
    while (!closed) {
      // Read the status before the events: if it is terminal then, every event is already stored.
      const row = await store.get(evaluationId);
      const events = await store.events(evaluationId, cursor);
      for (const event of events) {
        const body = presentEvent(event);
        await stream.writeSSE({ id: body.id, event: body.type, data: JSON.stringify(body) });
        cursor = event.id;
        lastWrite = Date.now();
      }
      if (!row || isTerminal(row.status)) break;
      if (Date.now() - lastWrite > KEEPALIVE_MS) {
        await stream.write(': keep-alive\n\n');
        lastWrite = Date.now();
      }
      await stream.sleep(POLL_MS);
    }
  });
}
