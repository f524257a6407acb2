/**
 * `npm start` on a machine with no PostgreSQL or Temporal configured: embedded PGlite and
 * Temporal dev server (with Web UI), an evaluation end to end, Ctrl-C stops everything, and a
 * restart finds the old evaluation.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from '../support/free-port';
import { waitFor } from '../support/harness';
import { hostProcessesWhere } from '../../src/sandbox/host/processes';
import { WORKER_MALLOC_ARENA_MAX, WORKER_NICENESS } from '../../src/main/worker-process';

/** A process's environment, one VAR=value per entry. */
function environ(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return []; // gone, or another user's
  }
}

const root = path.resolve(__dirname, '../..');
let dataDir: string;
let child: ChildProcess | undefined;
let output = '';

let ports: { api: number; temporal: number; ui: number; pg: number };

async function start(): Promise<void> {
  output = '';
  child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/main/start.ts')], {
    cwd: root,
    env: {
      ...process.env,
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

  // The worker runs in a process of its own, below the API's priority, with two malloc arenas.
  const [worker] = hostProcessesWhere((cmdline) => cmdline.includes('src/main/worker.ts')).filter((pid) =>
    environ(pid).includes(`DATA_DIR=${dataDir}`),
  );
  expect(worker).toBeDefined();
  expect(os.getPriority(worker!)).toBe(WORKER_NICENESS);
  expect(environ(worker!)).toContain(`MALLOC_ARENA_MAX=${WORKER_MALLOC_ARENA_MAX}`);

  const ui = await fetch(`http://127.0.0.1:${ports.ui}/`);
  expect(ui.status).toBe(200);
  expect((await api('/readyz')).status).toBe(200);

  expect(await stop()).toBe(0);
  await waitFor(async () => (temporalServerAlive() ? undefined : true), 'the embedded Temporal server to stop', 10000);

  await start();
  const again: any = await (await api(`/v1/evaluations/${id}`)).json();
  expect(again).toMatchObject({ id, status: 'completed', verdict: 'accepted', result: { stdout: '45\n' } });
  expect(await stop()).toBe(0);
});
