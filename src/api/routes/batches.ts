/**
 * Batches: up to 100 evaluations in one request, each its own workflow. Validation is
 * all-or-nothing: one invalid item rejects the whole request and nothing is created.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { validate as isUuid } from 'uuid';
import type { AuthVariables } from '../auth/principal';
import { requireScope } from '../auth/middleware';
import type { EvaluationStore } from '../../db/evaluations';
import type { Metrics } from '../../metrics/metrics';
import { withDatabase } from '../dependency-errors';
import { ApiError, errorBody } from '../errors';
import { links, presentEvaluation } from '../../contract/present';
import { CreateEvaluationRequest, ErrorBody, Evaluation, SubmitResponse } from '../../contract/schemas';
import type { Submissions } from '../submissions';
import { validationHook } from '../validation';

export const MAX_BATCH_SIZE = 100;

const BatchRequest = z
  .object({ items: z.array(CreateEvaluationRequest).min(1).max(MAX_BATCH_SIZE) })
  .strict()
  .openapi('BatchRequest');
const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ErrorBody } } });

const submitBatchRoute = createRoute({
  middleware: [requireScope('submit')] as const,
  security: [{ bearerAuth: [] }],
  method: 'post',
  path: '/batch',
  summary: `Submit up to ${MAX_BATCH_SIZE} evaluations at once`,
  request: { body: { required: true, content: { 'application/json': { schema: BatchRequest } } } },
  responses: {
    202: {
      description: 'All accepted, in request order',
      content: { 'application/json': { schema: z.object({ items: z.array(SubmitResponse) }) } },
    },
    400: errorResponse('An item is invalid; nothing was created'),
    413: errorResponse('Too large'),
    429: errorResponse('In-flight cap reached'),
    503: errorResponse('PostgreSQL or Temporal unreachable; details.accepted lists the items already accepted'),
  },
});

const readBatchRoute = createRoute({
  middleware: [requireScope('read')] as const,
  security: [{ bearerAuth: [] }],
  method: 'get',
  path: '/batch',
  summary: 'Read several evaluations by id',
  request: {
    query: z.object({
      ids: z
        .string()
        .max(100 * 37)
        .openapi({ description: 'comma-separated evaluation ids' }),
    }),
  },
  responses: {
    200: {
      description: 'The evaluations found, in the order asked; ids not found (or not yours) under `missing`',
      content: { 'application/json': { schema: z.object({ items: z.array(Evaluation), missing: z.array(z.string()) }) } },
    },
    400: errorResponse('Invalid ids'),
  },
});

export function batchRoutes(deps: { store: EvaluationStore; submissions: Submissions; metrics: Metrics }) {
  const app = new OpenAPIHono<{ Variables: AuthVariables }>({ defaultHook: validationHook });

  app.openapi(submitBatchRoute, async (c) => {
    const tenant = c.get('principal').tenant;
    const accepted: Array<z.infer<typeof SubmitResponse>> = [];
    for (const item of c.req.valid('json').items) {
      try {
        const row = await deps.submissions.submit(tenant, item);
        deps.metrics.evaluationsSubmitted.inc({ language: row.language });
        accepted.push({ id: row.id, status: 'queued', workflowId: row.workflowId, links: links(row.id) });
      } catch (err) {
        // Items already accepted are running; say which, so the client neither loses nor repeats them.
        if (err instanceof ApiError && accepted.length > 0) {
          return c.json(
            errorBody(err.code, `${err.message} (after ${accepted.length} items were accepted)`, { accepted }),
            err.status as 503,
          );
        }
        throw err;
      }
    }
    return c.json({ items: accepted }, 202);
  });

  app.openapi(readBatchRoute, async (c) => {
    const ids = [
      ...new Set(
        c.req
          .valid('query')
          .ids.split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    ];
    if (ids.length === 0 || ids.length > MAX_BATCH_SIZE || ids.some((id) => !isUuid(id))) {
      throw new ApiError(400, 'invalid_request', `ids must be 1 to ${MAX_BATCH_SIZE} comma-separated evaluation ids`);
    }
    const tenant = c.get('principal').tenant;
    const rows = await withDatabase(() => deps.store.getMany(ids, tenant));
    const byId = new Map(rows.map((r) => [r.id, r]));
    return c.json(
      { items: ids.filter((id) => byId.has(id)).map((id) => presentEvaluation(byId.get(id)!)), missing: ids.filter((id) => !byId.has(id)) },
      200,
    );
  });
  return app;
}
