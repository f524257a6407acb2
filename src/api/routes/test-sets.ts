/** /v1/test-sets: create, list, read and delete a tenant's stored test cases. */
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { AuthVariables } from '../auth/principal';
import { requireScope } from '../auth/middleware';
import type { TestSetStore } from '../../db/test-sets';
import type { TestSetCaseRow, TestSetRow } from '../../db/rows';
import { DEFAULT_CHECKER } from '../../domain/checkers';
import { withDatabase } from '../dependency-errors';
import { notFound } from '../errors';
import { decodeCursor, encodeCursor } from '../cursor';
import { validationHook } from '../validation';
import { ErrorBody, IdParam } from '../../contract/schemas';
import {
  CreateTestSetRequest,
  TestSet,
  TestSetList,
  TestSetListQuery,
  TestSetSummary,
  toNewTestCases,
  type TestSet as TestSetBody,
  type TestSetSummary as TestSetSummaryBody,
} from '../../contract/test-sets';

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ErrorBody } } });

const createTestSetRoute = createRoute({
  middleware: [requireScope('submit')] as const,
  security: [{ bearerAuth: [] }],
  method: 'post',
  path: '/',
  summary: 'Store a set of test cases to reference from submissions',
  request: { body: { required: true, content: { 'application/json': { schema: CreateTestSetRequest } } } },
  responses: {
    201: { description: 'Stored', content: { 'application/json': { schema: TestSetSummary } } },
    400: errorResponse('Invalid test set'),
    413: errorResponse('Too large'),
    503: errorResponse('PostgreSQL unreachable'),
  },
});

const listTestSetsRoute = createRoute({
  middleware: [requireScope('read')] as const,
  security: [{ bearerAuth: [] }],
  method: 'get',
  path: '/',
  summary: "The tenant's test sets, newest first",
  request: { query: TestSetListQuery },
  responses: {
    200: { description: 'A page of test sets (without their cases)', content: { 'application/json': { schema: TestSetList } } },
    400: errorResponse('Invalid query'),
  },
});

const getTestSetRoute = createRoute({
  middleware: [requireScope('read')] as const,
  security: [{ bearerAuth: [] }],
  method: 'get',
  path: '/{id}',
  summary: 'A test set with its cases',
  request: { params: IdParam },
  responses: {
    200: { description: 'The test set', content: { 'application/json': { schema: TestSet } } },
    404: errorResponse('No such test set (or not yours)'),
  },
});

const deleteTestSetRoute = createRoute({
  middleware: [requireScope('submit')] as const,
  security: [{ bearerAuth: [] }],
  method: 'delete',
  path: '/{id}',
  summary: 'Delete a test set; evaluations that already reference it still run its cases',
  request: { params: IdParam },
  responses: {
    204: { description: 'Deleted' },
    404: errorResponse('No such test set (or not yours)'),
  },
});

export function testSetRoutes(deps: { testSets: TestSetStore }) {
  const app = new OpenAPIHono<{ Variables: AuthVariables }>({ defaultHook: validationHook });

  app.openapi(createTestSetRoute, async (c) => {
    const request = c.req.valid('json');
    const row = await withDatabase(() =>
      deps.testSets.create({
        tenant: c.get('principal').tenant,
        name: request.name,
        checker: request.checker ?? DEFAULT_CHECKER,
        cases: toNewTestCases(request.cases),
      }),
    );
    return c.json(presentSummary(row), 201, { location: selfLink(row.id) });
  });

  app.openapi(listTestSetsRoute, async (c) => {
    const query = c.req.valid('query');
    const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
    // One more than the page: whether there is a next page without a second query.
    const rows = await withDatabase(() => deps.testSets.list(c.get('principal').tenant, query.limit + 1, cursor));
    const page = rows.slice(0, query.limit);
    const nextCursor = rows.length > query.limit ? encodeCursor(page[page.length - 1]!) : null;
    return c.json({ items: page.map(presentSummary), nextCursor }, 200);
  });

  app.openapi(getTestSetRoute, async (c) => {
    const { id } = c.req.valid('param');
    const found = await withDatabase(() => deps.testSets.get(id, c.get('principal').tenant));
    if (found === null) throw notFound(`test set ${id}`);
    return c.json(presentTestSet(found.set, found.cases), 200);
  });

  app.openapi(deleteTestSetRoute, async (c) => {
    const { id } = c.req.valid('param');
    const deleted = await withDatabase(() => deps.testSets.delete(id, c.get('principal').tenant));
    if (!deleted) throw notFound(`test set ${id}`);
    return c.body(null, 204);
  });

  return app;
}

const selfLink = (id: string) => `/v1/test-sets/${id}`;

function presentSummary(row: TestSetRow): TestSetSummaryBody {
  return {
    id: row.id,
    name: row.name,
    checker: row.checker,
    caseCount: row.caseCount,
    totalBytes: row.totalBytes,
    createdAt: row.createdAt.toISOString(),
    links: { self: selfLink(row.id) },
  };
}

function presentTestSet(row: TestSetRow, cases: TestSetCaseRow[]): TestSetBody {
  return {
    ...presentSummary(row),
    cases: cases.map((testCase) => ({
      position: testCase.position,
      name: testCase.name,
      stdin: Buffer.from(testCase.stdin).toString('utf8'),
      expectedOutput: Buffer.from(testCase.expectedOutput).toString('utf8'),
      weight: testCase.weight,
      limits: testCase.limits,
    })),
  };
}
