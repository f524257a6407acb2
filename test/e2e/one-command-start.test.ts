/**
 * `npm start` (package.json's script, as npm runs it) on a machine with no PostgreSQL or Temporal
 * configured: it builds dist/ when the source changed and runs the compiled service, with the
 * embedded PGlite and Temporal dev server (with Web UI); an evaluation end to end; a worker that
 * dies is replaced and evaluations go on; Ctrl-C stops everything, and a restart finds the old
 * evaluation.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from '../support/free-port';
import { waitFor } from '../support/harness';
import { descendantsOf, hostProcessesWhere } from '../../src/sandbox/host/processes';
import { parseOwnGroups } from '../../src/sandbox/host/cgroup-v1';
import { WORKER_CPU_GROUP, WORKER_CPU_SHARES, workerCpuGroupDirectory } from '../../src/main/worker-cpu-group';
import { WORKER_MALLOC_ARENA_MAX, WORKER_MAX_OLD_SPACE_MB, WORKER_NICENESS } from '../../src/main/worker-process';

/** A process's environment, one VAR=value per entry. */
function environ(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return []; // gone, or another user's
  }
}

const root = path.resolve(__dirname, '../..');
const startScript = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
let dataDir: string;
let child: ChildProcess | undefined;
let output = '';

let ports: { api: number; temporal: number; ui: number; pg: number };

async function start(): Promise<void> {
  output = '';
  // The script's last command execs node, so this child becomes the service itself once built.
  child = spawn('/bin/sh', ['-c', startScript], {
    cwd: root,
    env: {
      ...process.env,
      PATH: `${path.join(root, 'node_modules/.bin')}:${process.env.PATH}`,
      DATABASE_URL: '',
      TEMPORAL_ADDRESS: '',
      DATA_DIR: dataDir,
      PORT: String(ports.api),
      TEMPORAL_PORT: String(ports.temporal),
      TEMPORAL_UI_PORT: String(ports.ui),
      EMBEDDED_POSTGRES_PORT: String(ports.pg),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  await waitFor(
    async () => {
      if (child!.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
      return output.includes('Crucible is running') ? true : undefined;
    },
    'the service to start',
    120000,
    200,
  );
}

async function stop(): Promise<number | null> {
  const proc = child;
  if (!proc || proc.exitCode !== null) return proc?.exitCode ?? null;
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  proc.kill('SIGINT');
  return exited;
}

// The one-command start is secure by default: it writes a local API key under DATA_DIR.
const api = (p: string, init: RequestInit = {}) =>
  fetch(`http://127.0.0.1:${ports.api}${p}`, {
    ...init,
    headers: {
      ...(init.headers as Record<string, string>),
      authorization: `Bearer ${fs.readFileSync(path.join(dataDir, 'api-key'), 'utf8').trim()}`,
    },
  });

function cmdline(pid: number): string {
  return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
}

/** A process's group in the cgroup v1 cpu hierarchy ('' once it has exited). */
function cpuGroupOf(pid: number): string {
  try {
    return parseOwnGroups(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8')).get('cpu') ?? '';
  } catch {
    return '';
  }
}

/** The worker processes of the service started on `dir`. */
function workerPids(dir: string): number[] {
  return hostProcessesWhere((line) => /main\/worker\.[jt]s/.test(line)).filter((pid) => environ(pid).includes(`DATA_DIR=${dir}`));
}

function workerOf(dir: string): number {
  const pids = workerPids(dir);
  expect(pids).toHaveLength(1);
  return pids[0]!;
}

function temporalServerAlive(): boolean {
  return hostProcessesWhere((cmdline) => cmdline.includes('start-dev') && cmdline.includes(dataDir)).length > 0;
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crucible-start-'));
  const [api, temporal, ui, pg] = await freePorts(4);
  ports = { api: api!, temporal: temporal!, ui: ui!, pg: pg! };
});

afterAll(async () => {
  await stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('starts with embedded services, runs an evaluation, stops on Ctrl-C, and a restart finds it', async () => {
  await start();
  expect(output).toContain(`http://127.0.0.1:${ports.ui}`);
  expect(output).toContain(path.join(dataDir, 'api-key'));
  const anonymous = await fetch(`http://127.0.0.1:${ports.api}/v1/evaluations`);
  expect(anonymous.status).toBe(401);

  const res = await api('/v1/evaluations', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ language: 'python', code: 'print(sum(range(10)))' }),
  });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as any;
  const done: any = await waitFor(async () => {
    const body: any = await (await api(`/v1/evaluations/${id}`)).json();
    return body.status === 'completed' ? body : undefined;
  }, 'the evaluation to complete');
  expect(done).toMatchObject({ verdict: 'accepted', result: { stdout: '45\n' } });

  // The worker runs compiled, in a process of its own, below the API's priority, with two malloc
  // arenas and a bounded heap.
  const worker = workerOf(dataDir);
  expect(os.getPriority(worker)).toBe(WORKER_NICENESS);
  expect(environ(worker)).toContain(`MALLOC_ARENA_MAX=${WORKER_MALLOC_ARENA_MAX}`);
  expect(cmdline(worker)).toContain(`--max-old-space-size=${WORKER_MAX_OLD_SPACE_MB}`);
  expect(cmdline(child!.pid!)).toContain('dist/main/start.js');

  // Where the host has a writable cgroup v1 cpu hierarchy (as here), the worker is in the worker
  // CPU group, and so are the sandboxes it starts later: each runs in a session of its own, which
  // the kernel's autogroups would otherwise weigh like the API, whatever their niceness.
  const group = workerCpuGroupDirectory(fs.readFileSync('/proc/self/mountinfo', 'utf8'), fs.readFileSync('/proc/self/cgroup', 'utf8'));
  if (typeof group === 'string') {
    expect(cpuGroupOf(worker).endsWith(`/${WORKER_CPU_GROUP}`)).toBe(true);
    expect(fs.readFileSync(path.join(group, 'cpu.shares'), 'utf8').trim()).toBe(String(WORKER_CPU_SHARES));
    const sleeper = await api('/v1/evaluations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ language: 'python', code: 'import time\ntime.sleep(2)\nprint("rested")' }),
    });
    expect(sleeper.status).toBe(202);
    const sandboxed = await waitFor(async () => {
      const running = descendantsOf(worker).filter((pid) => {
        try {
          return cmdline(pid).includes('main.py');
        } catch {
          return false; // exited while we looked
        }
      });
      return running.length > 0 ? running : undefined;
    }, 'the sandboxed program to start');
    for (const pid of sandboxed) expect([pid, cpuGroupOf(pid)]).toEqual([pid, cpuGroupOf(worker)]);
    const sleeperId = ((await sleeper.json()) as { id: string }).id;
    await waitFor(async () => {
      const body: any = await (await api(`/v1/evaluations/${sleeperId}`)).json();
      return body.status === 'completed' ? body : undefined;
    }, 'the sleeping evaluation to complete');
  }

  // A worker that dies (here SIGKILL, as the OOM killer would) is replaced, and work goes on.
  process.kill(worker, 'SIGKILL');
  // It lowers its own priority as it starts.
  await waitFor(async () => {
    const pids = workerPids(dataDir).filter((pid) => pid !== worker);
    return pids.length === 1 && os.getPriority(pids[0]!) === WORKER_NICENESS ? true : undefined;
  }, 'a new worker process, at the worker priority');
  const after = await api('/v1/evaluations', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ language: 'python', code: 'print(6 * 7)' }),
  });
  expect(after.status).toBe(202);
  const afterId = ((await after.json()) as { id: string }).id;
  const afterDone: any = await waitFor(
    async () => {
      const body: any = await (await api(`/v1/evaluations/${afterId}`)).json();
      return body.status === 'completed' ? body : undefined;
    },
    'an evaluation on the new worker',
    60000,
  );
  expect(afterDone).toMatchObject({ verdict: 'accepted', result: { stdout: '42\n' } });

  const ui = await fetch(`http://127.0.0.1:${ports.ui}/`);
  expect(ui.status).toBe(200);
  expect((await api('/readyz')).status).toBe(200);

  expect(await stop()).toBe(0);
  await waitFor(async () => (temporalServerAlive() ? undefined : true), 'the embedded Temporal server to stop', 10000);

  await start();
  const again: any = await (await api(`/v1/evaluations/${id}`)).json();
  expect(again).toMatchObject({ id, status: 'completed', verdict: 'accepted', result: { stdout: '45\n' } });
  expect(await stop()).toBe(0);
}, 300_000);
