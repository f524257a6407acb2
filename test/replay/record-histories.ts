/**
 * Records one workflow history per path of evaluationWorkflow (accepted, blocked, review
 * approved, rejected, review timed out, cancelled, failed, and the test-case bundle's: judged,
 * compile error, checker failed, cancelled) into test/replay/histories/<label>/,
 * for replay.test.ts to replay against the current workflow code.
 *
 *   npx tsx test/replay/record-histories.ts <label>     # e.g. v2-updates
 *
 * Run it once per released shape of the workflow and commit the files: the replay test then
 * fails when a change to src/workflows/ would break runs that are still open somewhere.
 */
import fs from 'node:fs';
import path from 'node:path';
import globalSetup from '../support/global-setup';
import globalTeardown from '../support/global-teardown';
import { sandboxProcesses, startTestApi, startTestWorker, uniqueQueue, waitFor, waitForTerminal } from '../support/harness';
import { createEngine } from '../../src/sandbox';
import { SandboxInfrastructureError } from '../../src/sandbox/engine';
import { temporal } from '@temporalio/proto';

async function main(): Promise<void> {
  const label = process.argv[2];
  if (!label || !/^[a-z0-9-]+$/.test(label)) throw new Error('usage: record-histories.ts <label> (lower-case letters, digits, dashes)');
  const outDir = path.join(__dirname, 'histories', label);
  fs.mkdirSync(outDir, { recursive: true });

  await globalSetup();
  const queue = uniqueQueue('record');
  const failingQueue = uniqueQueue('record-failing');
  const api = await startTestApi(queue, { reviewTimeout: '2s' });
  const failingApi = await startTestApi(failingQueue);
  const worker = await startTestWorker({ taskQueue: queue });
  const broken = createEngine({ engine: 'bwrap' });
  const failingWorker = await startTestWorker({
    taskQueue: failingQueue,
    engine: {
      ...broken,
      name: broken.name,
      check: () => broken.check(),
      run: async () => {
        throw new SandboxInfrastructureError('recorded failure: engine unavailable');
      },
    },
  });
  try {
    const submit = async (a: typeof api, body: unknown) => ((await (await a.post('/v1/evaluations', body)).json()) as { id: string }).id;
    const awaitingReview = (id: string) =>
      waitFor(async () => ((await api.store.get(id))?.status === 'awaiting_review' ? true : undefined), `${id} awaiting review`);
    const running = (id: string) =>
      waitFor(async () => ((await api.store.get(id))?.status === 'running' ? true : undefined), `${id} running`);
    const held = { language: 'python', code: 'import os\nprint(os.getcwd() != "")' };

    const paths: Record<string, () => Promise<string>> = {
      accepted: async () => submit(api, { language: 'python', code: 'print(sum(range(10)))', expectedOutput: '45' }),
      blocked: async () => submit(api, { language: 'python', code: 'import subprocess\nsubprocess.run(["id"])' }),
      'review-approved': async () => {
        const id = await submit(api, held);
        await awaitingReview(id);
        expectStatus(await api.post(`/v1/evaluations/${id}/approve`, { reason: 'fine', by: 'recorder' }));
        return id;
      },
      'review-rejected': async () => {
        const id = await submit(api, held);
        await awaitingReview(id);
        expectStatus(await api.post(`/v1/evaluations/${id}/reject`, { reason: 'no', by: 'recorder' }));
        return id;
      },
      'review-timed-out': async () => {
        const id = await submit(api, held);
        await awaitingReview(id);
        return id;
      },
      cancelled: async () => {
        const id = await submit(api, { language: 'python', code: 'import time\ntime.sleep(30)' });
        await running(id);
        expectStatus(await api.post(`/v1/evaluations/${id}/cancel`, {}));
        return id;
      },
      failed: async () => submit(failingApi, { language: 'python', code: 'print(1)' }),
      bundle: async () =>
        submit(api, {
          language: 'python',
          code: 'n = int(input())\nprint(n * 2 if n != 3 else 0)',
          testCases: [1, 2, 3, 4].map((n) => ({ stdin: `${n}\n`, expectedOutput: `${2 * n}\n` })),
          caseParallelism: 2,
        }),
      'bundle-compile-error': async () =>
        submit(api, { language: 'c', code: 'int main(void) { return missing; }', testCases: [{ stdin: '', expectedOutput: '' }] }),
      'bundle-checker-failed': async () =>
        submit(api, {
          language: 'python',
          code: 'print(1)',
          testCases: [{ expectedOutput: '1' }],
          checker: { kind: 'program', language: 'python', code: 'raise SystemExit(7)' },
        }),
      'bundle-cancelled': async () => {
        const id = await submit(api, {
          language: 'python',
          code: 'import time\ntime.sleep(30)',
          testCases: [{ expectedOutput: '' }, { expectedOutput: '' }],
          caseParallelism: 1,
        });
        await waitFor(async () => ((await api.store.get(id))?.status === 'running' ? true : undefined), `${id} running`);
        await waitFor(async () => (sandboxProcesses().length > 0 ? true : undefined), `${id}'s first case running`);
        expectStatus(await api.post(`/v1/evaluations/${id}/cancel`, {}));
        return id;
      },
    };

    for (const [name, run] of Object.entries(paths)) {
      const id = await run();
      const owner = name === 'failed' ? failingApi : api;
      const done = await waitForTerminal(owner, id, 90_000);
      const handle = owner.client.workflow.getHandle(`evaluation-${id}`);
      await waitFor(
        async () => ((await handle.describe()).status.name !== 'RUNNING' ? true : undefined),
        `${name} workflow to close`,
        60_000,
      );
      const history = await handle.fetchHistory();
      fs.writeFileSync(
        path.join(outDir, `${name}.json`),
        JSON.stringify(temporal.api.history.v1.History.fromObject(history).toJSON(), null, 1) + '\n',
      );
      console.log(`${name}: evaluation ${done.status}${done.verdict ? `/${done.verdict}` : ''}, ${history.events?.length ?? 0} events`);
    }
  } finally {
    await worker.stop();
    await failingWorker.stop();
    await api.close();
    await failingApi.close();
    await globalTeardown();
  }
}

function expectStatus(res: Response): void {
  if (res.status >= 300) throw new Error(`unexpected HTTP ${res.status}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
