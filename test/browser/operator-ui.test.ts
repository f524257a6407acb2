/**
 * An operator's session in the real Temporal Web UI (the dev server's UI, driven in Debian's
 * Chromium): find held runs by search attribute and tenant, read what a held run says about
 * itself, approve it through the UI's Update dialog, terminate another run, and see the API (and
 * so PostgreSQL) reflect both. The reconciler acts on every row of its database, so this file
 * has a database of its own.
 */
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { SCOPES } from '../../src/api/auth/principal';
import { createTestDatabase, startTestApi, startTestWorker, uniqueQueue, waitFor, type TestWorker } from '../support/harness';
import {
  launchBrowser,
  listWorkflowIds,
  openRun,
  readCurrentDetails,
  readSummaryAndDetails,
  sendUpdate,
  terminate,
  type UiBrowser,
} from '../support/temporal-ui';

jest.setTimeout(240_000);

const queue = uniqueQueue('browser');
const tenant = `ui-${randomUUID().slice(0, 8)}`;
const uiUrl = () => {
  const url = process.env.TEST_TEMPORAL_UI_URL;
  if (!url) throw new Error("TEST_TEMPORAL_UI_URL is not set: run the tests through jest's global setup (npm test)");
  return url;
};
/** Screenshots of a failing step land here, for whoever reads the CI log. */
const shot = (name: string) => path.join(os.tmpdir(), `crucible-ui-${name}.png`);

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let api: Awaited<ReturnType<typeof startTestApi>>;
let worker: TestWorker;
let ui: UiBrowser;
let key: string;

beforeAll(async () => {
  database = await createTestDatabase('browser');
  api = await startTestApi(queue, { databaseUrl: database.url, authDisabled: false });
  worker = await startTestWorker({ taskQueue: queue, databaseUrl: database.url, reconcileEverySeconds: 2 });
  key = (await api.keys.create({ tenant, scopes: [...SCOPES] })).key;
  ui = await launchBrowser();
});

afterAll(async () => {
  await ui?.close();
  await worker?.stop();
  await api?.close();
  await database?.drop();
});

const authorized = (init: RequestInit = {}): RequestInit => ({
  ...init,
  headers: { ...(init.headers ?? {}), authorization: `Bearer ${key}`, 'content-type': 'application/json' },
});
const getEvaluation = async (id: string): Promise<any> => (await api.request(`/v1/evaluations/${id}`, authorized())).json();
async function submit(body: unknown): Promise<string> {
  const res = await api.request('/v1/evaluations', authorized({ method: 'POST', body: JSON.stringify(body) }));
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}
const statusIs = (id: string, status: string, timeoutMs = 30_000) =>
  waitFor(async () => ((await getEvaluation(id)).status === status ? true : undefined), `evaluation ${id} to be ${status}`, timeoutMs);

test('an operator finds a held run, reads why it is held, approves it in the UI, and terminates another', async () => {
  const held = await submit({ language: 'python', code: 'import os\nprint(os.getcwd() != "")', metadata: { task: 'cwd-check' } });
  const slow = await submit({ language: 'python', code: 'import time\ntime.sleep(120)', limits: { wallTimeMs: 180_000 } });
  await statusIs(held, 'awaiting_review');
  await statusIs(slow, 'running');
  const { page } = ui;

  // Filter by status and tenant: exactly the held run; by tenant alone: both.
  const heldIds = await listWorkflowIds(page, uiUrl(), `EvaluationStatus = "awaiting_review" AND EvaluationTenant = "${tenant}"`, {
    expectIds: [`evaluation-${held}`],
    exact: true,
    screenshotPath: shot('list-held'),
  });
  expect(heldIds).toEqual([`evaluation-${held}`]);
  const tenantIds = await listWorkflowIds(page, uiUrl(), `EvaluationTenant = "${tenant}"`, {
    expectIds: [`evaluation-${held}`, `evaluation-${slow}`],
    screenshotPath: shot('list-tenant'),
  });
  expect(tenantIds.sort()).toEqual([`evaluation-${held}`, `evaluation-${slow}`].sort());

  // The held run's page says what it is and what to do.
  await openRun(page, uiUrl(), `evaluation-${held}`, undefined, { screenshotPath: shot('open-held') });
  const { summary, details } = await readSummaryAndDetails(page, { screenshotPath: shot('summary') });
  expect(summary).toMatch(new RegExp(`^python · ${tenant} · \\d+ B · sha256:[0-9a-f]{12} · "import os"$`));
  expect(details).toMatch(/cpuTimeMs \| 5000/);
  expect(details).toMatch(/task: cwd-check/);
  const current = await readCurrentDetails(page, {
    until: (md) => md.includes('Held for review'),
    screenshotPath: shot('current-details'),
  });
  expect(current).toMatch(/py\.import\.os/);
  expect(current).toMatch(/1 \| import os/);
  expect(current).toMatch(/Update → `approve`/);
  expect(current).toMatch(/### The code \(\d+ bytes\)/);

  // Approve through the UI's Update dialog; the API shows the decision and the completed run.
  const approved = await sendUpdate(page, 'approve', '{"reason": "only reads the working directory", "by": "ui-operator"}', {
    screenshotPath: shot('approve'),
  });
  expect(approved).toMatchObject({ ok: true });
  await statusIs(held, 'completed');
  expect(await getEvaluation(held)).toMatchObject({
    verdict: 'accepted',
    review: { decision: 'approved', by: 'ui-operator', reason: 'only reads the working directory' },
    result: { stdout: 'True\n' },
  });

  // A second approval is refused by the validator, and the UI says why.
  const again = await sendUpdate(page, 'approve', '"twice"', { screenshotPath: shot('approve-again') }).catch((err: Error) => ({
    ok: false,
    message: err.message,
  }));
  expect(again.ok).toBe(false);

  // Terminate the running one in the UI: the API says failed, with the reason, within 60 s.
  await openRun(page, uiUrl(), `evaluation-${slow}`, undefined, { screenshotPath: shot('open-slow') });
  const terminatedAt = Date.now();
  await terminate(page, 'stopped from the Web UI', { screenshotPath: shot('terminate') });
  await statusIs(slow, 'failed', 60_000);
  console.log(`terminate in the UI -> failed in the API: ${Date.now() - terminatedAt} ms`);
  expect((await getEvaluation(slow)).error).toMatch(/terminated.*stopped from the Web UI/);
});
