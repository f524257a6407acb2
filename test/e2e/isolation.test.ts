/**
 * Submitted code, sent through the whole pipeline (with a policy that lets everything through,
 * so the sandbox alone is tested), cannot reach the network, the worker's environment or the
 * project's files.
 */
import path from 'node:path';
import { startTestApi, startTestWorker, uniqueQueue, waitForTerminal, type TestApi, type TestWorker } from '../support/harness';
import { parsePolicy } from '../../src/scanner/policy';

const queue = uniqueQueue('isolation');
const SECRET = `worker-secret-${Date.now()}`;
let api: TestApi;
let worker: TestWorker;

beforeAll(async () => {
  process.env.CRUCIBLE_TEST_SECRET = SECRET;
  api = await startTestApi(queue);
  worker = await startTestWorker({
    taskQueue: queue,
    policy: parsePolicy({ severity: { critical: 'allow', high: 'allow', warning: 'allow', info: 'allow' } }, 'allow-all test policy'),
  });
});

afterAll(async () => {
  delete process.env.CRUCIBLE_TEST_SECRET;
  await worker?.stop();
  await api?.close();
});

async function run(code: string): Promise<any> {
  const res = await api.post('/v1/evaluations', { language: 'python', code });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as any;
  const done = await waitForTerminal(api, id);
  expect(done.status).toBe('completed');
  return JSON.parse(done.result.stdout);
}

test('cannot connect to PostgreSQL or Temporal on the host', async () => {
  const temporalPort = Number(new URL(`http://${process.env.TEST_TEMPORAL_ADDRESS}`).port);
  const out = await run(`
import json, socket
results = {}
for port in (5432, ${temporalPort}):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        results[port] = "connected"
    except OSError as e:
        results[port] = type(e).__name__
print(json.dumps(results))
`);
  expect(Object.values(out)).toHaveLength(2);
  for (const outcome of Object.values(out)) expect(outcome).not.toBe('connected');
});

test("cannot see the worker's environment variables", async () => {
  expect(process.env.CRUCIBLE_TEST_SECRET).toBe(SECRET);
  const out = await run(`
import json, os
seen = dict(os.environ)
proc = {}
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            proc[pid] = open(f"/proc/{pid}/environ", "rb").read().decode("latin-1")
        except OSError as e:
            proc[pid] = type(e).__name__
print(json.dumps({"env": seen, "proc": proc}))
`);
  expect(JSON.stringify(out)).not.toContain(SECRET);
  expect(JSON.stringify(out.env)).not.toMatch(/DATABASE_URL|TEMPORAL|TEST_/);
});

test("cannot read the project's files", async () => {
  const projectFile = path.resolve(__dirname, '../../package.json');
  const out = await run(`
import json
results = {}
for p in (${JSON.stringify(projectFile)}, ${JSON.stringify(path.resolve(__dirname, '../../src/config/config.ts'))}, "/etc/shadow"):
    try:
        results[p] = open(p).read()[:50]
    except OSError as e:
        results[p] = type(e).__name__
print(json.dumps(results))
`);
  for (const outcome of Object.values(out)) expect(outcome).toMatch(/Error$/);
});
