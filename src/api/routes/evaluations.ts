/** /v1/evaluations: submit, read, list, events, cancel, approve and reject. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { isTerminal } from '../../domain/evaluation';
import type { AuthVariables } from '../auth/principal';
import { requireScope } from '../auth/middleware';
import type { EvaluationStore } from '../../db/evaluations';
import type { TemporalGateway } from '../../temporal/gateway';
import { ReviewRefusedError, TemporalUnavailableError, WorkflowClosedError } from '../../temporal/gateway';
import type { Reconciler } from '../../reconciler/reconciler';
import { withDatabase } from '../dependency-errors';
import { conflict, notFound, serviceUnavailable } from '../errors';
import { decodeCursor, encodeCursor } from '../cursor';
import { links, presentCases, presentCode, presentEvaluation, presentEvent } from '../../contract/present';
import { CaseResultStore } from '../../db/case-results';
import { findBundlePlan } from '../../db/test-sets';
import {
  ActionAccepted,
  CaseResultList,
  CreateEvaluationRequest,
  ErrorBody,
  Evaluation,
  EvaluationList,
  EventList,
  IdParam,
  ListQuery,
  ReviewRequest,
  SubmitResponse,
  SubmittedCode,
  WebhookDelivery,
} from '../../contract/schemas';
import type { Submissions } from '../submissions';
import { SUBMISSION_EXAMPLES } from '../../contract/examples';
import type { Metrics } from '../../metrics/metrics';
import { validationHook } from '../validation';
import { parseLastEventId, streamEvents } from '../event-stream';
import { WebhookDeliveryLog } from '../../webhooks/delivery-log';

export interface EvaluationRoutesDeps {
  store: EvaluationStore;
  temporal: TemporalGateway;
  submissions: Submissions;
  metrics: Metrics;
  /** Fixes an evaluation at once when a cancel finds its workflow already closed. */
  reconciler: Reconciler;
}

const errors = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((code) => [
      code,
      { description: errorDescriptions[code] ?? 'error', content: { 'application/json': { schema: ErrorBody } } },
    ]),
  );
const errorDescriptions: Record<number, string> = {
  400: 'Invalid request',
  404: 'No such evaluation',
  409: "Conflict with the evaluation's current state",
  422: "Idempotency-Key reused with a different body (`idempotency_key_reused`), or the language is not available on this service (`language_unavailable`, with the reason; see GET /v1/languages), or the test set named by `testSetId` is not this tenant's (`test_set_not_found`)",
  429: 'Rate limit or in-flight cap reached',
  401: 'Missing or invalid API key',
  403: 'The API key lacks the scope',
  413: 'Request or field too large',
  415: 'Body is not JSON',
  503: 'PostgreSQL or Temporal unreachable',
};
/** Upper bound of `?wait=`: long enough for most runs, short enough for proxies' idle timeouts. */
const MAX_WAIT_SECONDS = 60;
const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

const submitRoute = createRoute({
  middleware: [requireScope('submit')] as const,
  security: [{ bearerAuth: [] }],
  method: 'post',
  path: '/',
  summary: 'Submit code for evaluation',
  description:
    'With `?wait=<seconds>` (at most 60) the call waits for the evaluation to finish and answers 200 with it; if it does not finish in time, the usual 202.',
  request: {
    headers: z.object({ 'idempotency-key': z.string().min(1).max(200).optional() }),
    query: z.object({ wait: z.coerce.number().min(0).max(MAX_WAIT_SECONDS).optional() }),
    body: { required: true, content: { 'application/json': { schema: CreateEvaluationRequest, examples: SUBMISSION_EXAMPLES } } },
  },
  responses: {
    200: json(Evaluation, 'Finished within the wait time'),
    202: json(SubmitResponse, 'Accepted; the evaluation runs asynchronously'),
    ...errors(400, 401, 403, 413, 415, 422, 429, 503),
  },
});

const getRoute = createRoute({
  middleware: [requireScope('read')] as const,
  security: [{ bearerAuth: [] }],
  method: 'get',
  path: '/{id}',
  summary: 'Read one evaluation',
  request: { params: IdParam },
  responses: { 200: json(Evaluation, 'The evaluation'), ...errors(400, 401, 403, 404, 429, 503) },
});

const listRoute = createRoute({
  middleware: [requireScope('read')] as const,
  security: [{ bearerAuth: [] }],
  method: 'get',
  path: '/',
  summary: 'List evaluations, newest first',
  request: { query: ListQuery },
  responses: { 200: json(EvaluationList, 'A page of evaluations'), ...errors(400, 401, 403, 429, 503) },
});

const eventsRoute = createRoute({
  middleware: [requireScope('read')] as const,
  security: [{ bearerAuth: [] }],
  method: 'get',
  path: '/{id}/events',
  summary: 'Lifecycle events of an evaluation, oldest first',
  description:
    'JSON by default. With `Accept: text/event-stream`, a Server-Sent Events stream: each event as it is stored (SSE id = event id, SSE event = type), closed after the terminal event; reconnect with `Last-Event-ID` to resume.',
  request: { params: IdParam, headers: z.object({ 'last-event-id': z.string().optional() }) },
  responses: {
    200: {
      description: 'The events',
      content: {
        'application/json': { schema: EventList },
        'text/event-stream': { schema: z.string().openapi({ description: 'SSE stream of LifecycleEvent' }) },
      },
    },
    ...errors(400, 401, 403, 404, 429, 503),
  },
});

const deliveriesRoute = createRoute({
  middleware: [requireScope('read')] as const,
  security: [{ bearerAuth: [] }],
  method: 'get',
  path: '/{id}/deliveries',
  summary: 'Webhook delivery attempts for an evaluation, oldest first',
  request: { params: IdParam },
  responses: { 200: json(z.object({ items: z.array(WebhookDelivery) }), 'Delivery attempts'), ...errors(400, 401, 403, 404, 429, 503) },
});

const codeRoute = createRoute({
  middleware: [requireScope('read')] as const,
  security: [{ bearerAuth: [] }],
  method: 'get',
  path: '/{id}/code',
  summary: 'The submitted code',
  description: 'Readable by whoever may read the evaluation, so a reviewer decides on the code and not only on rule ids.',
  request: { params: IdParam },
  responses: { 200: json(SubmittedCode, 'The code as submitted'), ...errors(400, 401, 403, 404, 429, 503) },
});

const casesRoute = createRoute({
  middleware: [requireScope('read')] as const,
  security: [{ bearerAuth: [] }],
  method: 'get',
  path: '/{id}/cases',
  summary: "A test-case bundle's cases, in order, with each finished case's result",
  description:
    'One item per case: `completed` with its verdict, times, memory, the head of its output and, for a wrong answer from a built-in checker, where the output first differs; `failed` when its custom checker failed; `pending`, `skipped` or `cancelled` when it did not run. 404 for an evaluation without test cases.',
  request: { params: IdParam },
  responses: { 200: json(CaseResultList, 'The cases'), ...errors(400, 401, 403, 404, 429, 503) },
});

const cancelRoute = createRoute({
  middleware: [requireScope('submit')] as const,
  security: [{ bearerAuth: [] }],
  method: 'post',
  path: '/{id}/cancel',
  summary: 'Cancel an evaluation; a running program is killed',
  description: '409 `already_finished` with the current status in `details` when the evaluation, or its workflow, has already ended.',
  request: { params: IdParam },
  responses: { 202: json(ActionAccepted, 'Cancellation requested'), ...errors(400, 401, 403, 404, 409, 429, 503) },
});

const reviewRoute = (decision: 'approve' | 'reject') =>
  createRoute({
    middleware: [requireScope('review')] as const,
    security: [{ bearerAuth: [] }],
    method: 'post',
    path: `/{id}/${decision}`,
    summary: decision === 'approve' ? 'Approve an evaluation held for review' : 'Reject an evaluation held for review',
    description:
      'Sent to the workflow as a Workflow Update; answers once the decision is stored, with the evaluation as it is then. ' +
      '409 `not_awaiting_review` when the evaluation is not awaiting a decision (or another reviewer decided first), with the reason.',
    request: {
      params: IdParam,
      body: { required: false, content: { 'application/json': { schema: ReviewRequest } } },
    },
    responses: { 200: json(Evaluation, 'The decision is stored'), ...errors(400, 401, 403, 404, 409, 415, 429, 503) },
  });

export function evaluationRoutes(deps: EvaluationRoutesDeps) {
  const app = new OpenAPIHono<{ Variables: AuthVariables }>({ defaultHook: validationHook });
  const { store, temporal } = deps;
  const deliveries = new WebhookDeliveryLog(store.db);
  const caseResults = new CaseResultStore(store.db);

  const load = async (id: string, tenant: string) => {
    const row = await withDatabase(() => store.get(id, tenant));
    if (!row) throw notFound(`evaluation ${id}`);
    return row;
  };

  app.openapi(submitRoute, async (c) => {
    const row = await deps.submissions.submit(c.get('principal').tenant, c.req.valid('json'), c.req.valid('header')['idempotency-key']);
    deps.metrics.evaluationsSubmitted.inc({ language: row.language });
    c.header('Location', links(row.id).self);
    const waitSeconds = c.req.valid('query').wait;
    if (waitSeconds) {
      const finished = await waitUntilFinished(store, row.id, waitSeconds * 1000, c.req.raw.signal);
      if (finished) return c.json(presentEvaluation(finished), 200);
    }
    return c.json({ id: row.id, status: row.status, workflowId: row.workflowId, links: links(row.id, row.bundleMode !== null) }, 202);
  });

  app.openapi(getRoute, async (c) => c.json(presentEvaluation(await load(c.req.valid('param').id, c.get('principal').tenant)), 200));

  app.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    const rows = await withDatabase(() =>
      store.list({
        tenant: c.get('principal').tenant,
        status: q.status,
        language: q.language,
        limit: q.limit + 1,
        cursor: q.cursor ? decodeCursor(q.cursor) : undefined,
      }),
    );
    const page = rows.slice(0, q.limit);
    const nextCursor = rows.length > q.limit ? encodeCursor(page[page.length - 1]!) : null;
    return c.json({ items: page.map(presentEvaluation), nextCursor }, 200);
  });

  app.openapi(eventsRoute, async (c) => {
    const row = await load(c.req.valid('param').id, c.get('principal').tenant);
    if ((c.req.header('accept') ?? '').includes('text/event-stream')) {
      const after = parseLastEventId(c.req.valid('header')['last-event-id']);
      return streamEvents(c, store, row.id, after) as never;
    }
    const events = await withDatabase(() => store.events(row.id));
    return c.json({ items: events.map(presentEvent) }, 200);
  });

  app.openapi(deliveriesRoute, async (c) => {
    const row = await load(c.req.valid('param').id, c.get('principal').tenant);
    const items = await withDatabase(() => deliveries.list(row.id));
    return c.json({ items }, 200);
  });

  app.openapi(codeRoute, async (c) => c.json(presentCode(await load(c.req.valid('param').id, c.get('principal').tenant)), 200));

  app.openapi(casesRoute, async (c) => {
    const row = await load(c.req.valid('param').id, c.get('principal').tenant);
    const testSetId = row.testSetId;
    if (row.bundleMode === null || testSetId === null) throw notFound(`test cases of evaluation ${row.id} (it was submitted without any)`);
    const [plan, results] = await withDatabase(() => Promise.all([findBundlePlan(store.db, testSetId), caseResults.list(row.id)]));
    return c.json({ items: presentCases(row, plan?.cases ?? [], results) }, 200);
  });

  app.openapi(cancelRoute, async (c) => {
    const row = await load(c.req.valid('param').id, c.get('principal').tenant);
    if (isTerminal(row.status)) throw alreadyFinished(row.id, row.status);
    // A queued row's workflow may still be starting after its POST's 202 (src/api/workflow-starter.ts),
    // or not at all if that API process died: start it, so that there is a run to cancel.
    if (row.status === 'queued' && !row.runId) await toWorkflow(() => deps.submissions.ensureStarted(row));
    try {
      await toWorkflow(() => temporal.cancel(row.id, row.runId ?? undefined));
    } catch (err) {
      if (!(err instanceof WorkflowClosedError)) throw err;
      // The workflow ended without finishing (terminated in the Web UI, say): settle the row now
      // rather than at the reconciler's next pass, and answer with the status that results.
      await toWorkflow(() => deps.reconciler.reconcile(row));
      const now = await load(row.id, c.get('principal').tenant);
      throw alreadyFinished(row.id, now.status);
    }
    return c.json({ id: row.id, status: row.status }, 202);
  });

  for (const decision of ['approve', 'reject'] as const) {
    app.openapi(reviewRoute(decision), async (c) => {
      const principal = c.get('principal');
      const row = await load(c.req.valid('param').id, principal.tenant);
      if (row.status !== 'awaiting_review') {
        throw conflict('not_awaiting_review', `evaluation ${row.id} is not awaiting review (it is ${row.status})`, { status: row.status });
      }
      const body = c.req.valid('json') ?? {};
      const by = body.by ?? `api:${principal.tenant}${principal.keyId ? `/${principal.keyId}` : ''}`;
      try {
        await toWorkflow(() => temporal.review(row.id, decision, { reason: body.reason, by }));
      } catch (err) {
        if (err instanceof ReviewRefusedError) throw conflict('not_awaiting_review', err.message);
        if (err instanceof WorkflowClosedError)
          throw conflict('not_awaiting_review', `evaluation ${row.id} is no longer awaiting review: its workflow has ended`);
        throw err;
      }
      return c.json(presentEvaluation(await load(row.id, principal.tenant)), 200);
    });
  }

  return app;
}

/** Polls the stored evaluation (cheap, indexed) until it is terminal, the deadline passes, or the client leaves. */
async function waitUntilFinished(store: EvaluationStore, id: string, timeoutMs: number, abort: AbortSignal) {
  const deadline = Date.now() + timeoutMs;
  let pause = 25;
  while (Date.now() < deadline && !abort.aborted) {
    const row = await withDatabase(() => store.get(id));
    if (row && isTerminal(row.status)) return row;
    await new Promise((resolve) => setTimeout(resolve, Math.min(pause, Math.max(0, deadline - Date.now()))));
    pause = Math.min(pause * 2, 250);
  }
  return undefined;
}

async function toWorkflow<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof TemporalUnavailableError)
      throw serviceUnavailable('temporal_unavailable', 'Temporal is unreachable; try again shortly');
    throw err;
  }
}

function alreadyFinished(id: string, status: string) {
  return conflict('already_finished', `evaluation ${id} has already finished (${status})`, { status });
}
