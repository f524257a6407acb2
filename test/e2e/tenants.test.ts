/**
 * Tenant isolation and API keys against the real pipeline (auth on): a tenant never sees, lists,
 * streams, cancels or reviews another tenant's evaluation, and gets the same 404 it would get for
 * an id that does not exist. Missing keys are 401 with a challenge, missing scopes 403, and a
 * revoked key is refused on the very next request.
 */
import { randomUUID } from 'node:crypto';
import { ApiKeyStore } from '../../src/api/auth/api-keys';
import { startTestApi, startTestWorker, uniqueQueue, waitFor, type TestApi, type TestWorker } from '../support/harness';

const queue = uniqueQueue('tenants');
const suffix = randomUUID().slice(0, 8);
const TENANT_A = `tenant-a-${suffix}`;
const TENANT_B = `tenant-b-${suffix}`;
const ALL = ['submit', 'read', 'review'];

let api: TestApi & { keys: ApiKeyStore };
let worker: TestWorker;
let keyA: string;
let keyB: string;

beforeAll(async () => {
  api = await startTestApi(queue, { authDisabled: false });
  worker = await startTestWorker({ taskQueue: queue });
  keyA = (await api.keys.create({ tenant: TENANT_A, scopes: ALL })).key;
  keyB = (await api.keys.create({ tenant: TENANT_B, scopes: ALL })).key;
});

afterAll(async () => {
  await worker?.stop();
  await api?.close();
});

/** Requests made with one API key. */
function as(key: string | undefined) {
  const auth: Record<string, string> = key === undefined ? {} : { authorization: `Bearer ${key}` };
  return {
    get: (path: string, headers: Record<string, string> = {}) => api.request(path, { headers: { ...auth, ...headers } }),
    post: (path: string, body?: unknown, headers: Record<string, string> = {}) =>
      api.request(path, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
  };
}

// `import os` is a `high` finding: the default policy holds it for review, so it stays put
// (not terminal) while another tenant tries to cancel, approve or reject it.
const HELD = { language: 'python', code: 'import os\nprint(os.getcwd() != "")' };
const QUICK = (n: number) => ({ language: 'python', code: `print(${n})` });
const TERMINAL = ['completed', 'blocked', 'rejected', 'cancelled', 'failed'];

async function submit(key: string, body: unknown): Promise<string> {
  const res = await as(key).post('/v1/evaluations', body);
  expect(res.status).toBe(202);
  return ((await res.json()) as any).id;
}

async function statusOf(key: string, id: string): Promise<string> {
  const res = await as(key).get(`/v1/evaluations/${id}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as any).status;
}

async function waitForStatus(key: string, id: string, wanted: (status: string) => boolean, what: string): Promise<string> {
  return waitFor(async () => {
    const status = await statusOf(key, id);
    return wanted(status) ? status : undefined;
  }, what);
}

const eventTypes = async (id: string) =>
  (await api.db.evaluationEvent.findMany({ where: { evaluationId: id }, orderBy: { id: 'asc' } })).map((e) => e.type);

describe('authentication', () => {
  test('no key -> 401 with a Bearer challenge, on reads and on submits; nothing is created', async () => {
    const before = await api.db.evaluation.count();

    const list = await as(undefined).get('/v1/evaluations');
    expect(list.status).toBe(401);
    expect(list.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    expect(await list.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });

    const post = await as(undefined).post('/v1/evaluations', QUICK(1));
    expect(post.status).toBe(401);
    expect(post.headers.get('www-authenticate')).toMatch(/^Bearer\b/);

    const unknownKey = `crk_${'A'.repeat(43)}`;
    const unknown = await as(unknownKey).get('/v1/evaluations');
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');

    const malformed = await api.request('/v1/evaluations', {
      headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` },
    });
    expect(malformed.status).toBe(401);
    expect(malformed.headers.get('www-authenticate')).toMatch(/^Bearer\b/);

    expect(await api.db.evaluation.count()).toBe(before);
  });

  test('a key without `submit` -> 403 on POST (nothing created); the same key can read', async () => {
    const readOnly = await api.keys.create({ tenant: TENANT_A, scopes: ['read'] });
    const before = await api.db.evaluation.count({ where: { tenant: TENANT_A } });

    const res = await as(readOnly.key).post('/v1/evaluations', QUICK(2));
    expect(res.status).toBe(403);
    const body: any = await res.json();
    expect(body.error).toMatchObject({ code: 'forbidden', details: { requiredScope: 'submit' } });
    expect(await api.db.evaluation.count({ where: { tenant: TENANT_A } })).toBe(before);

    expect((await as(readOnly.key).get('/v1/evaluations')).status).toBe(200);
  });

  test("a revoked key stops working on the very next request; the tenant's other keys keep working", async () => {
    const doomed = await api.keys.create({ tenant: TENANT_A, scopes: ['submit', 'read'] });
    expect((await as(doomed.key).get('/v1/evaluations')).status).toBe(200);

    // Revoked through a separate database client, as the `apikey` CLI in another process would.
    expect(await new ApiKeyStore(worker.db).revoke(doomed.id)).toBe(true);

    const next = await as(doomed.key).get('/v1/evaluations');
    expect(next.status).toBe(401);
    expect(next.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(((await next.json()) as any).error.code).toBe('unauthorized');

    const before = await api.db.evaluation.count();
    expect((await as(doomed.key).post('/v1/evaluations', QUICK(3))).status).toBe(401);
    expect(await api.db.evaluation.count()).toBe(before);

    expect((await as(keyA).get('/v1/evaluations')).status).toBe(200);
  });
});

describe('tenant isolation', () => {
  test("B cannot read, stream, cancel, approve or reject A's evaluation: 404, exactly as for an id that does not exist", async () => {
    const id = await submit(keyA, HELD);
    await waitForStatus(keyA, id, (s) => s === 'awaiting_review', 'the evaluation to await review');
    const eventsBefore = await eventTypes(id);
    expect(eventsBefore).toEqual(['EVALUATION_QUEUED', 'SCAN_COMPLETED', 'REVIEW_REQUESTED']);

    const missing = randomUUID();
    const attempts: Array<[string, (target: string) => Promise<Response>]> = [
      ['GET', (t) => as(keyB).get(`/v1/evaluations/${t}`)],
      ['GET events', (t) => as(keyB).get(`/v1/evaluations/${t}/events`)],
      ['GET events (SSE)', (t) => as(keyB).get(`/v1/evaluations/${t}/events`, { accept: 'text/event-stream' })],
      ['GET deliveries', (t) => as(keyB).get(`/v1/evaluations/${t}/deliveries`)],
      ['POST cancel', (t) => as(keyB).post(`/v1/evaluations/${t}/cancel`)],
      ['POST approve', (t) => as(keyB).post(`/v1/evaluations/${t}/approve`, { reason: 'not mine to approve', by: 'mallory' })],
      ['POST reject', (t) => as(keyB).post(`/v1/evaluations/${t}/reject`, { reason: 'not mine to reject', by: 'mallory' })],
    ];
    for (const [what, send] of attempts) {
      const res = await send(id);
      const body: any = await res.json();
      expect({ what, status: res.status, body }).toEqual({
        what,
        status: 404,
        body: { error: { code: 'not_found', message: expect.any(String) } },
      });
      // Same answer as for an id nobody has: the response does not reveal that A's evaluation exists.
      const control = await send(missing);
      expect(control.status).toBe(404);
      expect(body.error.message.replace(id, missing)).toBe(((await control.json()) as any).error.message);
    }

    // Nothing B tried reached the workflow: still held, no decision, no cancellation.
    expect(await statusOf(keyA, id)).toBe('awaiting_review');
    expect(await eventTypes(id)).toEqual(eventsBefore);
    expect(await api.client.workflow.getHandle(`evaluation-${id}`).query('status')).toMatchObject({ status: 'awaiting_review' });

    // The same routes work for the owner (so the 404s above were about the tenant, not the route).
    expect((await as(keyA).get(`/v1/evaluations/${id}/events`)).status).toBe(200);
    expect((await as(keyA).get(`/v1/evaluations/${id}/deliveries`)).status).toBe(200);
    expect((await as(keyA).post(`/v1/evaluations/${id}/approve`, { reason: 'fine', by: 'alice' })).status).toBe(200);
    await waitForStatus(keyA, id, (s) => TERMINAL.includes(s), 'the approved evaluation to finish');
    expect(await statusOf(keyA, id)).toBe('completed');
    const approved = await api.db.evaluationEvent.findFirstOrThrow({ where: { evaluationId: id, type: 'REVIEW_APPROVED' } });
    expect(approved.data).toMatchObject({ by: 'alice' });
  });

  test('each tenant lists only its own evaluations, on every page and with filters', async () => {
    const idsA = [await submit(keyA, QUICK(10)), await submit(keyA, QUICK(11))];
    const idsB = [await submit(keyB, QUICK(20)), await submit(keyB, QUICK(21))];
    for (const id of idsA) await waitForStatus(keyA, id, (s) => TERMINAL.includes(s), `A's evaluation ${id} to finish`);
    for (const id of idsB) await waitForStatus(keyB, id, (s) => TERMINAL.includes(s), `B's evaluation ${id} to finish`);

    const listOf = async (key: string, query = '') => {
      const res = await as(key).get(`/v1/evaluations?limit=100${query}`);
      expect(res.status).toBe(200);
      return ((await res.json()) as any).items.map((i: any) => i.id) as string[];
    };
    const ownedBy = async (tenant: string) =>
      (await api.db.evaluation.findMany({ where: { tenant }, select: { id: true } })).map((r) => r.id).sort();

    const listA = await listOf(keyA);
    const listB = await listOf(keyB);
    expect(listA).toEqual(expect.arrayContaining(idsA));
    expect(listB).toEqual(expect.arrayContaining(idsB));
    for (const id of idsA) expect(listB).not.toContain(id);
    for (const id of idsB) expect(listA).not.toContain(id);
    // Exactly the tenant's own rows: nothing of A's, nor of any other tenant in this database.
    expect([...listA].sort()).toEqual(await ownedBy(TENANT_A));
    expect([...listB].sort()).toEqual(await ownedBy(TENANT_B));

    const completedB = await listOf(keyB, '&status=completed');
    expect(completedB).toEqual(expect.arrayContaining(idsB));
    for (const id of completedB) expect(idsB).toContain(id);

    // Paging one at a time through B's list never crosses into A's rows.
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await as(keyB).get(`/v1/evaluations?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      const page: any = await res.json();
      paged.push(...page.items.map((i: any) => i.id));
      cursor = page.nextCursor;
    } while (cursor !== null && paged.length < 50);
    expect([...paged].sort()).toEqual(await ownedBy(TENANT_B));
  });

  test('the same Idempotency-Key in two tenants names two separate evaluations', async () => {
    const key = `shared-${randomUUID()}`;
    const resA = await as(keyA).post('/v1/evaluations', QUICK(30), { 'idempotency-key': key });
    // A different body under the same key: a conflict only if the key were shared across tenants.
    const resB = await as(keyB).post('/v1/evaluations', QUICK(31), { 'idempotency-key': key });
    expect(resA.status).toBe(202);
    expect(resB.status).toBe(202);
    const idA = ((await resA.json()) as any).id;
    const idB = ((await resB.json()) as any).id;
    expect(idB).not.toBe(idA);
    expect((await api.db.evaluation.findUniqueOrThrow({ where: { id: idA } })).tenant).toBe(TENANT_A);
    expect((await api.db.evaluation.findUniqueOrThrow({ where: { id: idB } })).tenant).toBe(TENANT_B);
    expect((await as(keyB).get(`/v1/evaluations/${idA}`)).status).toBe(404);
    await waitForStatus(keyA, idA, (s) => TERMINAL.includes(s), "A's evaluation to finish");
    await waitForStatus(keyB, idB, (s) => TERMINAL.includes(s), "B's evaluation to finish");
  });
});
