/**
 * A POST does not wait on a Temporal server that has stopped answering: once starts have been
 * succeeding, a start slower than the answer window carries on after the 202, and the evaluation
 * runs when the server answers again. A cancel finds a run to cancel even when the API that
 * accepted the evaluation never started one. Against the real dev server, reached through a
 * proxy that the test holds (connections open, nothing passed on) and releases.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { TcpProxy } from '../support/tcp-proxy';
import { ANONYMOUS_PRINCIPAL } from '../../src/api/auth/principal';
import { LIMIT_DEFAULTS } from '../../src/domain/evaluation';
import {
  startTestApi,
  startTestWorker,
  temporalAddress,
  uniqueQueue,
  waitForTerminal,
  type TestApi,
  type TestWorker,
} from '../support/harness';

const queue = uniqueQueue('deferred-start');
let proxy: TcpProxy;
let api: TestApi;
let worker: TestWorker;
let direct: Client;

beforeAll(async () => {
  const [host, port] = temporalAddress().split(':');
  proxy = new TcpProxy(host!, Number(port));
  await proxy.start();
  api = await startTestApi(queue, { temporalAddress: `127.0.0.1:${proxy.port}` });
  worker = await startTestWorker({ taskQueue: queue });
  direct = new Client({ connection: await Connection.connect({ address: temporalAddress() }), namespace: 'default' });
});

afterAll(async () => {
  proxy?.release();
  await worker?.stop();
  await api?.close();
  await direct?.connection.close();
  await proxy?.stop();
});

const submit = async () => {
  const res = await api.post('/v1/evaluations', { language: 'python', code: 'print(6 * 7)' });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
};

const workflowExists = async (id: string) => {
  try {
    await direct.workflow.getHandle(`evaluation-${id}`).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
};

test('with Temporal not answering, a POST answers 202 at once and the evaluation runs once Temporal answers again', async () => {
  // A start that succeeds first: until then a POST waits for its start in full (so that an
  // unreachable Temporal is answered with 503, as the contract says).
  const first = await submit();
  expect(await workflowExists(first)).toBe(true);

  proxy.hold();
  const before = Date.now();
  const held = await submit();
  const answeredInMs = Date.now() - before;
  // The start is held in the proxy; the POST answered without it (25 ms window, plus the admission).
  expect(answeredInMs).toBeLessThan(2000);
  expect(await workflowExists(held)).toBe(false);
  const got = await api.request(`/v1/evaluations/${held}`);
  expect(got.status).toBe(200);
  expect(await got.json()).toMatchObject({ id: held, status: 'queued' });

  proxy.release();
  const done = await waitForTerminal(api, held);
  expect(done).toMatchObject({ status: 'completed', verdict: 'accepted', result: { stdout: '42\n' } });
  const events = (await (await api.request(`/v1/evaluations/${held}/events`)).json()) as { items: { type: string }[] };
  expect(events.items.filter((e) => e.type === 'EVALUATION_COMPLETED')).toHaveLength(1);
});

test('a cancel of a queued evaluation whose workflow was never started starts it, and it ends cancelled', async () => {
  // As an API process leaves it when it dies between its insert and the workflow's start.
  const id = randomUUID();
  await api.store.create({
    id,
    tenant: ANONYMOUS_PRINCIPAL.tenant, // the API's tenant with authentication off
    language: 'python',
    code: Buffer.from('import time\ntime.sleep(30)'),
    limits: LIMIT_DEFAULTS,
    metadata: {},
  });
  expect(await workflowExists(id)).toBe(false);

  const res = await api.request(`/v1/evaluations/${id}/cancel`, { method: 'POST' });
  expect(res.status).toBe(202);
  const done = await waitForTerminal(api, id);
  expect(done.status).toBe('cancelled');
  expect(await workflowExists(id)).toBe(true);
});
