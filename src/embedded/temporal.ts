/**
 * Embedded Temporal for a one-command start: the Temporal CLI's dev server (`temporal server
 * start-dev`, server plus Web UI, state in a SQLite file under dataDir, so workflows survive a
 * restart), with the search attributes registered and the namespace created.
 *
 * Which binary: TEMPORAL_CLI_PATH, else `temporal` on PATH (see src/temporal/cli.ts), else the
 * Temporal TypeScript SDK downloads the CLI into dataDir (needs internet once). Without any of
 * them the error says how to install it.
 */
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { locateTemporalCli, TEMPORAL_CLI_INSTALL_HINT, TemporalCliNotFoundError } from '../temporal/cli';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock';
import { startSupervisedProcess, type SupervisedProcess } from './supervised-process';
import { waitForTemporal } from './temporal-readiness';

export interface EmbeddedTemporalOptions {
  /** Folder for the SQLite state (temporal.db) and, if one is downloaded, the CLI. */
  dataDir: string;
  /** Frontend gRPC port (TEMPORAL_PORT for the one-command start). */
  port: number;
  /** Web UI port (TEMPORAL_UI_PORT for the one-command start). */
  uiPort: number;
  /** Default "default" (always created; another name is created in addition). */
  namespace?: string;
  /** `Name=Type` pairs as `--search-attribute` takes them, e.g. 'EvaluationStatus=Keyword'. */
  searchAttributes: string[];
  /** The server's own output, line by line (it logs at level warn). */
  log?: (line: string) => void;
  /** Interface for the frontend and the UI; default 127.0.0.1 (use 0.0.0.0 inside a container). */
  ip?: string;
  /** How long to wait for the server to become ready; default 60 s. */
  startTimeoutMs?: number;
  /** Environment used to find and run the CLI; default process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface EmbeddedTemporal {
  /** host:port for @temporalio/client and the worker. */
  address: string;
  uiUrl: string;
  /** Stops the server (SIGTERM, SIGKILL after 15 s) and waits until it is gone. */
  stop(): Promise<void>;
}

export class EmbeddedTemporalStartError extends Error {
  override readonly name = 'EmbeddedTemporalStartError';
}

const DEFAULT_START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;
const SERVER_PID_FILE = 'temporal-server.pid';

interface ResolvedOptions {
  dataDir: string;
  dbFilename: string;
  ip: string;
  port: number;
  uiPort: number;
  namespace: string;
  searchAttributes: string[];
  log: (line: string) => void;
  startTimeoutMs: number;
  env: NodeJS.ProcessEnv;
}

export async function startEmbeddedTemporal(options: EmbeddedTemporalOptions): Promise<EmbeddedTemporal> {
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const resolved: ResolvedOptions = {
    dataDir,
    dbFilename: path.join(dataDir, 'temporal.db'),
    ip: options.ip ?? '127.0.0.1',
    port: options.port,
    uiPort: options.uiPort,
    namespace: options.namespace ?? 'default',
    searchAttributes: options.searchAttributes,
    log: options.log ?? (() => undefined),
    startTimeoutMs: options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    env: options.env ?? process.env,
  };
  const lock = acquireDataDirLock(path.join(dataDir, 'embedded-temporal.pid'), `embedded Temporal data folder ${dataDir}`);
  try {
    await stopOrphanedServer(resolved);
    const cli = await locateTemporalCli(resolved.env);
    return cli ? await startWithCli(cli, resolved, lock) : await startWithDownloadedCli(resolved, lock);
  } catch (error) {
    lock.release();
    throw error;
  }
}

function serverArgs(options: ResolvedOptions): string[] {
  return [
    'server',
    'start-dev',
    '--db-filename',
    options.dbFilename,
    '--ip',
    options.ip,
    '--port',
    String(options.port),
    '--ui-port',
    String(options.uiPort),
    '--namespace',
    options.namespace,
    ...options.searchAttributes.flatMap((attribute) => ['--search-attribute', attribute]),
    '--log-level',
    'warn',
  ];
}

async function startWithCli(cli: string, options: ResolvedOptions, lock: DataDirLock): Promise<EmbeddedTemporal> {
  const endpoints = endpointsOf(options);
  const server = startSupervisedProcess({ command: cli, args: serverArgs(options), env: options.env, log: options.log });
  const pidFile = path.join(options.dataDir, SERVER_PID_FILE);
  writeFileSync(pidFile, `${server.pid}\n`);
  const cleanUp = async () => {
    await server.stop(STOP_GRACE_MS);
    if (existsSync(pidFile)) unlinkSync(pidFile);
    lock.release();
  };
  const serverExit = server.exited.then((exit) => {
    throw new EmbeddedTemporalStartError(
      `the Temporal dev server (${cli}) exited during start-up (code ${exit.code}, signal ${exit.signal}); ` +
        `is port ${options.port} or ${options.uiPort} already in use? Its output:\n${server.recentOutput()}`,
    );
  });
  serverExit.catch(() => undefined); // observed below by Promise.race; after start-up an exit is not an error here
  try {
    await Promise.race([waitForTemporal(readinessTarget(options), options.startTimeoutMs, server.exited), serverExit]);
  } catch (error) {
    await cleanUp();
    if (error instanceof EmbeddedTemporalStartError) throw error;
    throw new EmbeddedTemporalStartError(`${(error as Error).message}\nServer output:\n${server.recentOutput()}`, { cause: error });
  }
  let stopping: Promise<void> | undefined;
  void server.exited.then((exit) => {
    if (!stopping) options.log(`the Temporal dev server exited unexpectedly (code ${exit.code}, signal ${exit.signal})`);
  });
  return { ...endpoints, stop: () => (stopping ??= cleanUp()) };
}

/** No CLI installed: let the Temporal SDK download one (once, into dataDir) and run it. */
async function startWithDownloadedCli(options: ResolvedOptions, lock: DataDirLock): Promise<EmbeddedTemporal> {
  options.log('no Temporal CLI found (TEMPORAL_CLI_PATH, PATH); letting the Temporal SDK download one');
  let environment: TestWorkflowEnvironment;
  try {
    // Loaded only here: it pulls in the SDK's native core, which the CLI path does not need.
    const { TestWorkflowEnvironment } = await import('@temporalio/testing');
    environment = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'cached-download', downloadDir: path.join(options.dataDir, 'temporal-cli') },
        dbFilename: options.dbFilename,
        ip: options.ip,
        port: options.port,
        ui: true,
        uiPort: options.uiPort,
        namespace: options.namespace,
        // Passed as flags because this API wants SearchAttributeKey objects and we have Name=Type strings.
        extraArgs: options.searchAttributes.flatMap((attribute) => ['--search-attribute', attribute]),
        log: { format: 'pretty', level: 'warn' },
      },
    });
  } catch (error) {
    throw new TemporalCliNotFoundError(
      `no Temporal CLI found (TEMPORAL_CLI_PATH unset, no \`temporal\` on PATH) and downloading one failed ` +
        `(${(error as Error).message}); ${TEMPORAL_CLI_INSTALL_HINT}`,
      { cause: error },
    );
  }
  const cleanUp = async () => {
    await environment.teardown();
    lock.release();
  };
  try {
    await waitForTemporal(readinessTarget(options), options.startTimeoutMs);
  } catch (error) {
    await cleanUp();
    throw new EmbeddedTemporalStartError((error as Error).message, { cause: error });
  }
  let stopping: Promise<void> | undefined;
  return { ...endpointsOf(options), stop: () => (stopping ??= cleanUp()) };
}

function endpointsOf(options: ResolvedOptions): { address: string; uiUrl: string } {
  const host = options.ip === '0.0.0.0' ? '127.0.0.1' : options.ip;
  return { address: `${host}:${options.port}`, uiUrl: `http://${host}:${options.uiPort}` };
}

function readinessTarget(options: ResolvedOptions) {
  const { address, uiUrl } = endpointsOf(options);
  return {
    address,
    uiUrl,
    namespace: options.namespace,
    searchAttributeNames: options.searchAttributes.map((attribute) => attribute.split('=')[0]),
  };
}

/**
 * A dev server left running by a previous run that was killed before it could stop it (where the
 * parent-death signal is unavailable) would hold the ports and the SQLite file. Only a process
 * whose command line names this data folder's database is touched.
 */
async function stopOrphanedServer(options: ResolvedOptions): Promise<void> {
  const pidFile = path.join(options.dataDir, SERVER_PID_FILE);
  if (!existsSync(pidFile)) return;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  const cmdline = `/proc/${pid}/cmdline`;
  if (Number.isInteger(pid) && pid > 0 && existsSync(cmdline) && readFileSync(cmdline, 'utf8').includes(options.dbFilename)) {
    options.log(`stopping Temporal dev server ${pid} left over from an earlier run`);
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + STOP_GRACE_MS;
    while (existsSync(cmdline) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    if (existsSync(cmdline)) process.kill(pid, 'SIGKILL');
  }
  unlinkSync(pidFile);
}
