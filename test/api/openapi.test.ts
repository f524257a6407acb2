/**
 * /openapi.json describes the API that is actually served: every route the app registers is in
 * the document (and nothing else is), and real responses from the real pipeline conform to the
 * schemas the document gives for their route, status and content type.
 *
 * The schemas are checked by the small validator below. It knows the JSON Schema subset the
 * document uses and fails on any keyword it does not know, so it can never pass by ignoring
 * something. It is also stricter than JSON Schema in one way: an object property the schema does
 * not list counts as an error, because an undocumented field is drift between code and document.
 */
import { randomUUID } from 'node:crypto';
import { assembleApi } from '../../src/api/assemble';
import { createLogger } from '../../src/logging/logger';
import { Metrics } from '../../src/metrics/metrics';
import { loadPolicy } from '../../src/scanner/policy';
import { loadConfig } from '../../src/config/config';
import { createLanguageRegistry, LanguageCatalog } from '../../src/sandbox';

/** Java made unavailable by configuration: its compiler points to a path that does not exist. */
const MISSING_JAVAC = '/nonexistent/javac';
import { startTestApi, startTestWorker, uniqueQueue, waitFor, type TestWorker } from '../support/harness';

const queue = uniqueQueue('openapi');
let api: Awaited<ReturnType<typeof startTestApi>>;
let worker: TestWorker;
let app: ReturnType<typeof buildApp>;
let doc: any;
let fullKey: string;
let readOnlyKey: string;

function buildApp() {
  return assembleApi({
    db: api.db,
    client: api.client,
    taskQueue: queue,
    policy: loadPolicy(undefined),
    log: createLogger('silent'),
    metrics: new Metrics({ defaultMetrics: false }),
    reviewTimeout: '1h',
    authDisabled: false,
    rateLimitPerMinute: 100000,
    rateLimitPool: api.rateLimitPool,
    rateLimitKeyPrefix: `test-${randomUUID()}`,
    maxInFlight: { perTenant: 1000, total: 10000 },
    webhooks: { enabled: true, allowPrivate: true },
    languages: new LanguageCatalog(createLanguageRegistry(loadConfig({ SANDBOX_JAVAC: MISSING_JAVAC }).sandbox)),
  }).app;
}

beforeAll(async () => {
  api = await startTestApi(queue);
  worker = await startTestWorker({ taskQueue: queue });
  app = buildApp();
  const tenant = `openapi-${randomUUID().slice(0, 8)}`;
  fullKey = (await api.keys.create({ tenant, scopes: ['submit', 'read', 'review'] })).key;
  readOnlyKey = (await api.keys.create({ tenant, scopes: ['read'] })).key;
  const res = await app.request('/openapi.json');
  expect(res.status).toBe(200);
  doc = await res.json();
});

afterAll(async () => {
  await worker?.stop();
  await api?.close();
});

// ---------------------------------------------------------------------------------------------
// Routes vs. document

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const NOT_IN_DOCUMENT = new Set(['/openapi.json', '/docs', '/metrics']);

/** Hono's `/v1/evaluations/:id` (or `:id{regex}`) as OpenAPI's `/v1/evaluations/{id}`. */
const toOpenApiPath = (path: string) => {
  const converted = path.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, '{$1}');
  return converted.length > 1 ? converted.replace(/\/+$/, '') : converted;
};

function servedRoutes(a: { routes: Array<{ method: string; path: string }> }): string[] {
  const routes = a.routes
    .filter((r) => r.method !== 'ALL' && !NOT_IN_DOCUMENT.has(r.path))
    .map((r) => `${r.method.toUpperCase()} ${toOpenApiPath(r.path)}`);
  return [...new Set(routes)].sort();
}

function documentedRoutes(d: any): string[] {
  return Object.entries(d.paths as Record<string, Record<string, unknown>>)
    .flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => HTTP_METHODS.includes(m))
        .map((m) => `${m.toUpperCase()} ${path}`),
    )
    .sort();
}

test('every route the app serves is documented in /openapi.json, and every documented route is served', () => {
  const served = servedRoutes(app);
  const documented = documentedRoutes(doc);
  expect(served).toEqual(
    expect.arrayContaining(['POST /v1/evaluations', 'GET /v1/evaluations', 'GET /v1/evaluations/{id}', 'GET /v1/evaluations/{id}/events']),
  );
  expect({ undocumented: served.filter((r) => !documented.includes(r)) }).toEqual({ undocumented: [] });
  expect({ notServed: documented.filter((r) => !served.includes(r)) }).toEqual({ notServed: [] });
});

test('the route comparison notices a route added without documentation', () => {
  const extended = buildApp();
  extended.get('/v1/undocumented/:thing', (c) => c.json({}));
  const documented = documentedRoutes(doc);
  expect(servedRoutes(extended).filter((r) => !documented.includes(r))).toEqual(['GET /v1/undocumented/{thing}']);
});

// ---------------------------------------------------------------------------------------------
// A validator for the JSON Schema subset in the document

const KNOWN_KEYWORDS = new Set([
  '$ref',
  'type',
  'nullable',
  'enum',
  'const',
  'format',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'items',
  'minItems',
  'maxItems',
  'properties',
  'required',
  'additionalProperties',
  'anyOf',
  'oneOf',
  'allOf',
  'description',
  'title',
  'example',
  'examples',
  'default',
  'deprecated',
  'readOnly',
  'writeOnly',
]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function resolveRef(root: any, ref: string): any {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported, got ${ref}`);
  let node = root;
  for (const part of ref
    .slice(2)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))) {
    node = node?.[part];
    if (node === undefined) throw new Error(`$ref ${ref} does not resolve`);
  }
  return node;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function hasType(type: string, value: unknown): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return Number.isInteger(value);
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isObject(value);
    default:
      throw new Error(`unknown JSON Schema type ${type}`);
  }
}

/** Errors (empty when `value` conforms), each prefixed with the JSON path of the offending value. */
function validate(schema: any, value: unknown, root: any = doc, path = '$'): string[] {
  if (schema === true) return [];
  if (schema === false) return [`${path}: no value is allowed here`];
  const errors: string[] = [];
  for (const keyword of Object.keys(schema)) {
    if (!KNOWN_KEYWORDS.has(keyword)) errors.push(`${path}: the checker does not support the schema keyword "${keyword}"`);
  }
  if (schema.$ref) errors.push(...validate(resolveRef(root, schema.$ref), value, root, path));
  for (const sub of schema.allOf ?? []) errors.push(...validate(sub, value, root, path));
  if (schema.anyOf && !schema.anyOf.some((sub: any) => validate(sub, value, root, path).length === 0)) {
    errors.push(`${path}: matches none of anyOf`);
  }
  if (schema.oneOf && schema.oneOf.filter((sub: any) => validate(sub, value, root, path).length === 0).length !== 1) {
    errors.push(`${path}: does not match exactly one of oneOf`);
  }
  if ('const' in schema && JSON.stringify(schema.const) !== JSON.stringify(value))
    errors.push(`${path}: is not ${JSON.stringify(schema.const)}`);
  if (schema.enum && !schema.enum.some((e: unknown) => JSON.stringify(e) === JSON.stringify(value))) {
    errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (schema.type !== undefined) {
    const types: string[] = [...(Array.isArray(schema.type) ? schema.type : [schema.type]), ...(schema.nullable ? ['null'] : [])];
    if (!types.some((t) => hasType(t, value))) {
      errors.push(`${path}: ${JSON.stringify(value)?.slice(0, 80)} is not of type ${types.join(' | ')}`);
      return errors;
    }
  }
  if (typeof value === 'string') {
    if (schema.maxLength !== undefined && [...value].length > schema.maxLength) errors.push(`${path}: longer than ${schema.maxLength}`);
    if (schema.minLength !== undefined && [...value].length < schema.minLength) errors.push(`${path}: shorter than ${schema.minLength}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value))
      errors.push(`${path}: does not match ${schema.pattern}`);
    if (schema.format === 'uuid' && !UUID.test(value)) errors.push(`${path}: ${value} is not a uuid`);
    else if (schema.format === 'date-time' && !(DATE_TIME.test(value) && !Number.isNaN(Date.parse(value))))
      errors.push(`${path}: ${value} is not a date-time`);
    else if (schema.format !== undefined && !['uuid', 'date-time'].includes(schema.format))
      errors.push(`${path}: the checker does not support format "${schema.format}"`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${path}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${path}: above ${schema.maximum}`);
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum)
      errors.push(`${path}: not above ${schema.exclusiveMinimum}`);
    if (typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum)
      errors.push(`${path}: not below ${schema.exclusiveMaximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${path}: fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push(`${path}: more than ${schema.maxItems} items`);
    if (schema.items !== undefined) value.forEach((item, i) => errors.push(...validate(schema.items, item, root, `${path}[${i}]`)));
  }
  if (isObject(value)) {
    for (const name of schema.required ?? []) if (!(name in value)) errors.push(`${path}: the required property "${name}" is missing`);
    const properties: Record<string, unknown> = schema.properties ?? {};
    for (const [name, v] of Object.entries(value)) {
      const p = `${path}.${name}`;
      if (name in properties) errors.push(...validate(properties[name], v, root, p));
      else if (schema.additionalProperties !== undefined) errors.push(...validate(schema.additionalProperties, v, root, p));
      else if (schema.properties !== undefined) errors.push(`${p}: the property is not documented`);
    }
  }
  return errors;
}

test('the validator is not vacuous: it reports what is wrong with a bad Evaluation', () => {
  const good = {
    id: randomUUID(),
    workflowId: 'evaluation-x',
    status: 'queued',
    language: 'python',
    limits: { cpuTimeMs: 1, wallTimeMs: 1, memoryMb: 1, maxProcesses: 1, maxOutputBytes: 1 },
    metadata: {},
    findings: [],
    createdAt: new Date().toISOString(),
    links: { self: '/a', events: '/b', code: '/c' },
  };
  const schema = { $ref: '#/components/schemas/Evaluation' };
  expect(validate(schema, good)).toEqual([]);
  const { id: _id, ...missingId } = good;
  expect(validate(schema, missingId).join('\n')).toMatch(/"id" is missing/);
  expect(validate(schema, { ...good, id: 'nope' }).join('\n')).toMatch(/not a uuid/);
  expect(validate(schema, { ...good, status: 'weird' }).join('\n')).toMatch(/"weird" is not one of/);
  expect(validate(schema, { ...good, createdAt: 'yesterday' }).join('\n')).toMatch(/not a date-time/);
  expect(validate(schema, { ...good, limits: { ...good.limits, memoryMb: 1.5 } }).join('\n')).toMatch(/memoryMb.*integer/);
  expect(validate(schema, { ...good, secret: 'x' }).join('\n')).toMatch(/\$\.secret: the property is not documented/);
  expect(validate({ type: 'string', contentEncoding: 'base64' }, 'x').join('\n')).toMatch(
    /does not support the schema keyword "contentEncoding"/,
  );
});

// ---------------------------------------------------------------------------------------------
// Real responses against the document

type Method = 'GET' | 'POST';

async function call(method: Method, path: string, options: { body?: unknown; key?: string | null; headers?: Record<string, string> } = {}) {
  const key = options.key === undefined ? fullKey : options.key;
  return app.request(path, {
    method,
    headers: {
      ...(key === null ? {} : { authorization: `Bearer ${key}` }),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
}

/** Checks that the response's status and content type are documented for the route, and that its body conforms; returns the body. */
async function expectDocumented(res: Response, method: Method, documentedPath: string): Promise<any> {
  const operation = doc.paths[documentedPath]?.[method.toLowerCase()];
  expect({ route: `${method} ${documentedPath}`, documented: operation !== undefined }).toEqual({
    route: `${method} ${documentedPath}`,
    documented: true,
  });
  const response = operation.responses[String(res.status)];
  expect({ route: `${method} ${documentedPath}`, status: res.status, documented: response !== undefined }).toEqual({
    route: `${method} ${documentedPath}`,
    status: res.status,
    documented: true,
  });
  const contentType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  const media = response.content?.[contentType];
  expect({ status: res.status, contentType, documented: media !== undefined }).toEqual({
    status: res.status,
    contentType,
    documented: true,
  });
  const body = contentType === 'application/json' ? await res.json() : await res.text();
  expect({ route: `${method} ${documentedPath} -> ${res.status}`, errors: validate(media.schema, body) }).toEqual({
    route: `${method} ${documentedPath} -> ${res.status}`,
    errors: [],
  });
  return body;
}

/** Waits for a terminal status, reading through this file's app with its tenant's key. */
async function waitForTerminal(id: string): Promise<any> {
  return waitFor(async () => {
    const body: any = await (await call('GET', `/v1/evaluations/${id}`)).json();
    return ['completed', 'blocked', 'rejected', 'cancelled', 'failed'].includes(body.status) ? body : undefined;
  }, `evaluation ${id} to finish`);
}

let completedId: string;

test('POST 202 and GET 200 of a completed evaluation conform to SubmitResponse and Evaluation', async () => {
  const submitted = await expectDocumented(
    await call('POST', '/v1/evaluations', {
      body: { language: 'python', code: 'print(input())', stdin: 'hi\n', expectedOutput: 'hi', metadata: { run: 'openapi' } },
    }),
    'POST',
    '/v1/evaluations',
  );
  expect(submitted.status).toBe('queued');
  completedId = submitted.id;
  await waitForTerminal(completedId);

  const evaluation = await expectDocumented(await call('GET', `/v1/evaluations/${completedId}`), 'GET', '/v1/evaluations/{id}');
  // A full body: the optional parts (result, verdict, timestamps) were there to be checked.
  expect(evaluation).toMatchObject({ status: 'completed', verdict: 'accepted', result: { stdout: 'hi\n' }, metadata: { run: 'openapi' } });
  expect(evaluation.startedAt).toEqual(expect.any(String));
  expect(evaluation.completedAt).toEqual(expect.any(String));
});

test('POST ?wait= answering 200 conforms to Evaluation', async () => {
  const res = await call('POST', '/v1/evaluations?wait=30', { body: { language: 'python', code: 'print(5)' } });
  const body = await expectDocumented(res, 'POST', '/v1/evaluations');
  expect(res.status).toBe(200);
  expect(body).toMatchObject({ status: 'completed', result: { stdout: '5\n' } });
});

test('a blocked evaluation (with findings) and the list conform to Evaluation and EvaluationList', async () => {
  const submitted = await expectDocumented(
    await call('POST', '/v1/evaluations', { body: { language: 'python', code: 'import subprocess\nsubprocess.run(["id"])' } }),
    'POST',
    '/v1/evaluations',
  );
  await waitForTerminal(submitted.id);
  const blocked = await expectDocumented(await call('GET', `/v1/evaluations/${submitted.id}`), 'GET', '/v1/evaluations/{id}');
  expect(blocked.status).toBe('blocked');
  expect(blocked.findings.length).toBeGreaterThan(0);

  const list = await expectDocumented(await call('GET', '/v1/evaluations?limit=2'), 'GET', '/v1/evaluations');
  expect(list.items).toHaveLength(2);
  expect(list.nextCursor).toEqual(expect.any(String));
  const last = await expectDocumented(await call('GET', `/v1/evaluations?limit=100&cursor=${list.nextCursor}`), 'GET', '/v1/evaluations');
  expect(last.nextCursor).toBeNull();
});

test('events conform to EventList (JSON) and each SSE frame carries a LifecycleEvent', async () => {
  const events = await expectDocumented(await call('GET', `/v1/evaluations/${completedId}/events`), 'GET', '/v1/evaluations/{id}/events');
  expect(events.items.map((e: any) => e.type)).toEqual([
    'EVALUATION_QUEUED',
    'SCAN_COMPLETED',
    'EXECUTION_STARTED',
    'EVALUATION_COMPLETED',
  ]);

  // The evaluation is finished, so the stream sends every event and closes: the body can be read whole.
  const sse = await call('GET', `/v1/evaluations/${completedId}/events`, { headers: { accept: 'text/event-stream' } });
  const text: string = await expectDocumented(sse, 'GET', '/v1/evaluations/{id}/events');
  const frames = text
    .split('\n\n')
    .map((block) =>
      block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n'),
    )
    .filter((data) => data !== '');
  expect(frames).toHaveLength(events.items.length);
  for (const data of frames) expect(validate({ $ref: '#/components/schemas/LifecycleEvent' }, JSON.parse(data))).toEqual([]);
});

test('deliveries, cancel 202 and the review actions conform to their documented bodies', async () => {
  const held = await expectDocumented(
    await call('POST', '/v1/evaluations', { body: { language: 'python', code: 'import os\nprint(os.getcwd() != "")' } }),
    'POST',
    '/v1/evaluations',
  );
  await waitFor(
    async () => ((await api.store.get(held.id))?.status === 'awaiting_review' ? true : undefined),
    'the evaluation to await review',
  );
  const deliveries = await expectDocumented(
    await call('GET', `/v1/evaluations/${held.id}/deliveries`),
    'GET',
    '/v1/evaluations/{id}/deliveries',
  );
  expect(deliveries.items).toEqual([]);
  const cancelled = await expectDocumented(await call('POST', `/v1/evaluations/${held.id}/cancel`), 'POST', '/v1/evaluations/{id}/cancel');
  expect(cancelled).toEqual({ id: held.id, status: 'awaiting_review' });
  expect((await waitForTerminal(held.id)).status).toBe('cancelled');

  const other = await expectDocumented(
    await call('POST', '/v1/evaluations', { body: { language: 'python', code: 'import os\nprint(1)' } }),
    'POST',
    '/v1/evaluations',
  );
  await waitFor(
    async () => ((await api.store.get(other.id))?.status === 'awaiting_review' ? true : undefined),
    'the evaluation to await review',
  );
  await expectDocumented(
    await call('POST', `/v1/evaluations/${other.id}/reject`, { body: { reason: 'no' } }),
    'POST',
    '/v1/evaluations/{id}/reject',
  );
  expect((await waitForTerminal(other.id)).status).toBe('rejected');
  const code = await expectDocumented(await call('GET', `/v1/evaluations/${other.id}/code`), 'GET', '/v1/evaluations/{id}/code');
  expect(code).toMatchObject({ id: other.id, language: 'python', code: 'import os\nprint(1)', sizeBytes: 18 });
  const late = await call('POST', `/v1/evaluations/${other.id}/approve`, { body: {} });
  expect(late.status).toBe(409);
  await expectDocumented(late, 'POST', '/v1/evaluations/{id}/approve');
});

test('error bodies conform to Error: 404, 400, 409, 401, 403 and 422', async () => {
  const notFound = await expectDocumented(await call('GET', `/v1/evaluations/${randomUUID()}`), 'GET', '/v1/evaluations/{id}');
  expect(notFound.error.code).toBe('not_found');

  const badId = await expectDocumented(await call('GET', '/v1/evaluations/not-a-uuid'), 'GET', '/v1/evaluations/{id}');
  expect(badId.error.code).toBe('invalid_request');

  const finished = await expectDocumented(
    await call('POST', `/v1/evaluations/${completedId}/cancel`),
    'POST',
    '/v1/evaluations/{id}/cancel',
  );
  expect(finished.error.code).toBe('already_finished');

  const noKey = await call('GET', '/v1/evaluations', { key: null });
  expect(noKey.status).toBe(401);
  await expectDocumented(noKey, 'GET', '/v1/evaluations');

  const forbidden = await call('POST', '/v1/evaluations', { key: readOnlyKey, body: { language: 'python', code: 'print(1)' } });
  expect(forbidden.status).toBe(403);
  await expectDocumented(forbidden, 'POST', '/v1/evaluations');

  const idempotencyKey = `openapi-${randomUUID()}`;
  const first = await call('POST', '/v1/evaluations', {
    body: { language: 'python', code: 'print(1)' },
    headers: { 'idempotency-key': idempotencyKey },
  });
  const { id } = await expectDocumented(first, 'POST', '/v1/evaluations');
  const reused = await call('POST', '/v1/evaluations', {
    body: { language: 'python', code: 'print(2)' },
    headers: { 'idempotency-key': idempotencyKey },
  });
  expect(reused.status).toBe(422);
  expect((await expectDocumented(reused, 'POST', '/v1/evaluations')).error.code).toBe('idempotency_key_reused');
  await waitForTerminal(id);
});

test('health, readiness and introspection responses conform to their documented bodies', async () => {
  await expectDocumented(await call('GET', '/healthz', { key: null }), 'GET', '/healthz');
  const ready = await expectDocumented(await call('GET', '/readyz', { key: null }), 'GET', '/readyz');
  expect(ready.status).toBe('ready');
  await expectDocumented(await call('GET', '/v1/languages'), 'GET', '/v1/languages');
  await expectDocumented(await call('GET', '/v1/limits'), 'GET', '/v1/limits');
  await expectDocumented(await call('GET', '/v1/policy'), 'GET', '/v1/policy');
});

test('/v1/languages lists every language with its commands and limits, and one whose toolchain is missing as unavailable', async () => {
  const body: any = await expectDocumented(await call('GET', '/v1/languages'), 'GET', '/v1/languages');
  const byId = Object.fromEntries(body.items.map((item: any) => [item.id, item]));
  expect(Object.keys(byId).sort()).toEqual(['bash', 'c', 'cpp', 'go', 'java', 'javascript', 'python']);
  for (const id of ['python', 'javascript', 'c', 'cpp', 'go', 'bash']) {
    expect({ id, available: byId[id].available, version: typeof byId[id].version }).toEqual({ id, available: true, version: 'string' });
  }
  expect(byId.c).toMatchObject({ fileName: 'main.c', runCommand: ['./main'], compileLimits: { cpuTimeMs: 10000 } });
  expect(byId.c.compileCommand).toEqual(expect.arrayContaining(['-o', 'main', 'main.c']));
  expect(byId.bash).toMatchObject({ fileName: 'main.sh', compileCommand: null, compileLimits: null });
  expect(byId.python.compileCommand).toBeNull();
  expect(byId.java).toMatchObject({ fileName: 'Main.java', available: false, defaultLimits: { memoryMb: 512 } });
  expect(byId.java.unavailableReason).toContain(MISSING_JAVAC);
  expect(byId.java.runCommand).toEqual(expect.arrayContaining(['-Xmx384m', 'Main']));
});

test('a submission in an unavailable language is refused with 422 language_unavailable, not queued', async () => {
  const refused = await call('POST', '/v1/evaluations', {
    body: { language: 'java', code: 'public class Main { public static void main(String[] a) {} }' },
  });
  expect(refused.status).toBe(422);
  const body = await expectDocumented(refused, 'POST', '/v1/evaluations');
  expect(body.error).toMatchObject({ code: 'language_unavailable', details: { language: 'java' } });
  expect(body.error.message).toContain(MISSING_JAVAC);
  const listed: any = await (await call('GET', '/v1/evaluations?language=java')).json();
  expect(listed.items).toEqual([]);
});

test('/v1/limits says, per engine, where a limit does not mean what it means in bwrap', async () => {
  const body: any = await expectDocumented(await call('GET', '/v1/limits'), 'GET', '/v1/limits');
  expect(body.engines.bwrap.differences).toEqual([]);
  expect(body.engines.gvisor.differences.map((difference: any) => [difference.id, difference.limit])).toEqual([
    ['forks', 'cpuTimeMs'],
    ['worker_threads', 'maxProcesses'],
    ['tmpfs', 'memoryMb'],
    ['oom_score_adj', 'privileges'],
  ]);
  expect(body.engines.process.differences[0].description).toMatch(/no isolation/);
});
