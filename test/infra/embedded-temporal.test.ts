/**
 * The embedded Temporal dev server: found through PATH or TEMPORAL_CLI_PATH, ready with the
 * search attributes registered, persistent across restarts, and never outliving its owner.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { SERVER_NICENESS, startEmbeddedTemporal, type EmbeddedTemporal } from '../../src/embedded/temporal';
import { locateTemporalCli, TemporalCliNotFoundError } from '../../src/temporal/cli';
import { EvaluationLanguageKey, EvaluationStatusKey, SEARCH_ATTRIBUTE_KEYS } from '../../src/workflows/search-attributes';
import { freePorts, isListening } from '../support/free-port';

const projectRoot = path.resolve(__dirname, '../..');
const NAMESPACE = 'crucible-infra';

/** Processes whose command line mentions this path (Linux /proc). */
function processesMentioning(text: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
      } catch {
        return false; // exited while we looked
      }
    })
    .map(Number);
}

/** A task's niceness: the 19th field of its stat line (the command name, field 2, may hold spaces). */
function niceness(statFile: string): number {
  const stat = readFileSync(statFile, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** What the server's metrics count of one persistence operation, over every namespace and service. */
async function persistenceCalls(metricsUrl: string, operation: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const sample = new RegExp(`^persistence_requests\\{[^}]*operation="${operation}"[^}]*\\} (\\S+)$`, 'gm');
  return [...text.matchAll(sample)].reduce((sum, match) => sum + Number(match[1]), 0);
}

describe('locateTemporalCli', () => {
  it('finds the CLI on PATH, honours TEMPORAL_CLI_PATH first, and returns null without either', async () => {
    const onPath = await locateTemporalCli();
    expect(onPath).not.toBeNull();
    expect(await locateTemporalCli({ PATH: process.env.PATH, TEMPORAL_CLI_PATH: onPath! })).toBe(onPath);
    expect(await locateTemporalCli({ PATH: '/nonexistent' })).toBeNull();
  });

  it('rejects a TEMPORAL_CLI_PATH that is not a Temporal CLI instead of looking elsewhere', async () => {
    await expect(locateTemporalCli({ PATH: process.env.PATH, TEMPORAL_CLI_PATH: '/bin/true' })).rejects.toBeInstanceOf(
      TemporalCliNotFoundError,
    );
  });
});

describe('startEmbeddedTemporal', () => {
  let dataDir: string;
  let server: EmbeddedTemporal | undefined;

  beforeAll(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'crucible-embedded-temporal-'));
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the namespace with the search attributes registered, keeps workflows across a restart, and stops completely', async () => {
    const [port, uiPort, metricsPort] = await freePorts(3);
    const options = { dataDir, port, uiPort, metricsPort, namespace: NAMESPACE, searchAttributes: SEARCH_ATTRIBUTE_KEYS };
    server = await startEmbeddedTemporal(options);
    expect(server.address).toBe(`127.0.0.1:${port}`);
    expect(server.uiUrl).toBe(`http://127.0.0.1:${uiPort}`);
    expect(server.metricsUrl).toBe(`http://127.0.0.1:${metricsPort}/metrics`);
    const ui = await fetch(server.uiUrl);
    expect(ui.status).toBe(200);
    await ui.body?.cancel();

    let connection = await Connection.connect({ address: server.address });
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: NAMESPACE });
      for (const key of SEARCH_ATTRIBUTE_KEYS) expect(customAttributes?.[key.name]).toBeDefined();
      // No worker needed: a started workflow is simply recorded, which is what must survive.
      await new Client({ connection, namespace: NAMESPACE }).workflow.start('persistenceProbe', {
        taskQueue: 'nobody-polls-this',
        workflowId: 'persistence-probe',
      });
    } finally {
      await connection.close();
    }
    // The server's own metrics count that start's write to SQLite, by persistence operation (they
    // are reported about once a second).
    const metricsUrl = server.metricsUrl!;
    await waitUntil(
      async () => (await persistenceCalls(metricsUrl, 'CreateWorkflowExecution')) > 0,
      10_000,
      'the start in the server metrics',
    );
    const serverPids = processesMentioning(path.join(dataDir, 'temporal.db'));
    expect(serverPids.length).toBeGreaterThan(0);
    // Below the API, so that on a saturated machine a POST's admission goes first; every thread of
    // the server, since the niceness was set before the CLI started any.
    for (const pid of serverPids) {
      for (const thread of readdirSync(`/proc/${pid}/task`)) expect(niceness(`/proc/${pid}/task/${thread}/stat`)).toBe(SERVER_NICENESS);
    }

    await server.stop();
    server = undefined;
    expect(processesMentioning(path.join(dataDir, 'temporal.db'))).toEqual([]);
    expect(await isListening(port)).toBe(false);

    server = await startEmbeddedTemporal(options);
    connection = await Connection.connect({ address: server.address });
    try {
      const handle = new Client({ connection, namespace: NAMESPACE }).workflow.getHandle('persistence-probe');
      await expect(handle.describe()).resolves.toMatchObject({ workflowId: 'persistence-probe' });
      await expect(new Client({ connection, namespace: NAMESPACE }).workflow.getHandle('never-started').describe()).rejects.toBeInstanceOf(
        WorkflowNotFoundError,
      );
    } finally {
      await connection.close();
    }
    await server.stop();
    server = undefined;
  });

  it('hands each new workflow task to a waiting poller at once, run after run (no transfer-queue read limit)', async () => {
    const [port, uiPort] = await freePorts(2);
    server = await startEmbeddedTemporal({ dataDir, port, uiPort, namespace: NAMESPACE, searchAttributes: SEARCH_ATTRIBUTE_KEYS });
    const connection = await Connection.connect({ address: server.address });
    const taskQueue = { name: 'dispatch-probe' };
    // As the worker does: a poll is sent before the workflow starts (on the same connection, so it
    // reaches the server first). The server says
    // when it scheduled the task and when it handed it out; the gap is the dispatch wait. The
    // server's default reads its single shard's transfer queue at most 20 times a second, so
    // once that limiter's burst is spent each run waits for the next read (about 45 ms here).
    const waits: number[] = [];
    try {
      const client = new Client({ connection, namespace: NAMESPACE });
      for (let run = 0; run < 60; run++) {
        const poll = connection.withDeadline(Date.now() + 10_000, () =>
          connection.workflowService.pollWorkflowTaskQueue({ namespace: NAMESPACE, taskQueue, identity: 'dispatch-probe' }),
        );
        await client.workflow.start('dispatchProbe', { taskQueue: taskQueue.name, workflowId: `dispatch-probe-${run}` });
        const task = await poll;
        waits.push(tsToMs(task.startedTime) - tsToMs(task.scheduledTime));
      }
    } finally {
      await connection.close();
      await server.stop();
      server = undefined;
    }
    const lastHalf = waits.slice(30).sort((a, b) => a - b);
    expect(lastHalf[lastHalf.length >> 1]).toBeLessThan(20);
  });

  it('checks the search attributes of a start against its cache, not by reading the cluster metadata from SQLite', async () => {
    const [port, uiPort, metricsPort] = await freePorts(3);
    server = await startEmbeddedTemporal({
      dataDir,
      port,
      uiPort,
      metricsPort,
      namespace: NAMESPACE,
      searchAttributes: SEARCH_ATTRIBUTE_KEYS,
    });
    const metricsUrl = server.metricsUrl!;
    const connection = await Connection.connect({ address: server.address });
    const starts = 20;
    try {
      await waitUntil(
        async () => (await persistenceCalls(metricsUrl, 'GetCurrentClusterMetadata')) > 0,
        10_000,
        'start-up reads in the metrics',
      );
      const readsBefore = await persistenceCalls(metricsUrl, 'GetCurrentClusterMetadata');
      const createsBefore = await persistenceCalls(metricsUrl, 'CreateWorkflowExecution');
      const client = new Client({ connection, namespace: NAMESPACE });
      for (let run = 0; run < starts; run++) {
        // As the API starts an evaluation: with search attributes, which the server validates.
        await client.workflow.start('searchAttributeProbe', {
          taskQueue: 'nobody-polls-this',
          workflowId: `search-attribute-probe-${run}`,
          typedSearchAttributes: [
            { key: EvaluationStatusKey, value: 'queued' },
            { key: EvaluationLanguageKey, value: 'python' },
          ],
        });
      }
      // The metrics are reported about once a second; the starts' own writes show they are in.
      await waitUntil(
        async () => (await persistenceCalls(metricsUrl, 'CreateWorkflowExecution')) >= createsBefore + starts,
        10_000,
        'the starts in the metrics',
      );
      // Without the cache the 20 starts read it 60 times; with it, about once (a periodic refresh).
      expect((await persistenceCalls(metricsUrl, 'GetCurrentClusterMetadata')) - readsBefore).toBeLessThan(starts / 2);
    } finally {
      await connection.close();
      await server.stop();
      server = undefined;
    }
  });

  it('does not let the dev server outlive a Node process that is killed with SIGKILL', async () => {
    const holderDir = mkdtempSync(path.join(os.tmpdir(), 'crucible-embedded-temporal-holder-'));
    try {
      const [port, uiPort] = await freePorts(2);
      const holder = spawn(
        process.execPath,
        ['--import', 'tsx', path.join(__dirname, 'fixtures', 'hold-embedded-temporal.ts'), holderDir, String(port), String(uiPort)],
        { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      holder.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      holder.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const holderExited = new Promise((resolve) => holder.once('exit', resolve));
      await waitUntil(() => output.includes('READY') || holder.exitCode !== null, 90_000, 'the holder to start Temporal');
      expect(output).toContain('READY');
      expect(processesMentioning(path.join(holderDir, 'temporal.db')).length).toBeGreaterThan(0);

      holder.kill('SIGKILL');
      await holderExited;
      await waitUntil(
        () => processesMentioning(path.join(holderDir, 'temporal.db')).length === 0,
        30_000,
        'the orphaned dev server to exit',
      );
      await waitUntil(async () => !(await isListening(port)), 10_000, `port ${port} to close`);
    } finally {
      for (const pid of processesMentioning(path.join(holderDir, 'temporal.db'))) process.kill(pid, 'SIGKILL');
      rmSync(holderDir, { recursive: true, force: true });
    }
  });
});
