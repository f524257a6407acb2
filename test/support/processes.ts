/** Starting the real `worker` and `api` entry points as child processes, so a test can signal them. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { waitFor } from './harness';

const root = path.resolve(__dirname, '../..');

export interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function spawnWorker(env: Record<string, string>): Promise<WorkerProcess> {
  return spawnEntry('src/main/worker.ts', env, 'worker started');
}

/** The `api` entry point (src/main/api.ts); ready once it logs that it listens. */
export async function spawnApi(env: Record<string, string>): Promise<WorkerProcess> {
  return spawnEntry('src/main/api.ts', env, 'API listening');
}

async function spawnEntry(entry: string, env: Record<string, string>, readyText: string): Promise<WorkerProcess> {
  // tsx as a loader, not its CLI: the CLI runs the script in a grandchild that a SIGKILL would miss.
  return spawnNode(['--import', 'tsx', path.join(root, entry)], { cwd: root, env, readyText, what: entry });
}

export interface SpawnNodeOptions {
  cwd: string;
  env: Record<string, string>;
  /** Printed once the process is up. */
  readyText: string;
  /** Names the process in errors. */
  what: string;
}

/** `node <args>` as a child process, resolved once its output contains `readyText`. */
export async function spawnNode(args: string[], options: SpawnNodeOptions): Promise<WorkerProcess> {
  const { cwd, env, readyText, what: entry } = options;
  let output = '';
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`${entry} exited early:\n${output}`);
      return output.includes(readyText) ? true : undefined;
    },
    `${entry} to start`,
    90000,
    200,
  );
  return {
    child,
    output: () => output,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
