/**
 * Embedded Temporal for a one-command start: the Temporal CLI's dev server (server plus Web UI,
 * state in a SQLite file under dataDir so workflows survive a restart, the namespace and search
 * attributes created with it), run through the Temporal SDK's own ephemeral-server support
 * (TestWorkflowEnvironment.createLocal), which builds the command line, waits for the frontend
 * and kills the server on stop.
 *
 * Which binary: TEMPORAL_CLI_PATH, else `temporal` on PATH (see src/temporal/cli.ts), else the
 * SDK downloads the CLI into dataDir (needs internet once).
 *
 * The server's own output goes straight to this process's stdout and stderr (the SDK forwards
 * it; there is no hook for it), so it runs at log level error.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { TestWorkflowEnvironment, type DevServerConfig } from '@temporalio/testing';
import { locateTemporalCli, TEMPORAL_CLI_INSTALL_HINT, TemporalCliNotFoundError } from '../temporal/cli';
import { acquireDataDirLock } from './data-dir-lock';

export interface EmbeddedTemporalOptions {
  /** Folder for the SQLite state (temporal.db) and, if one is downloaded, the CLI. */
  dataDir: string;
  /** Frontend gRPC port (TEMPORAL_PORT for the one-command start). */
  port: number;
  /** Web UI port (TEMPORAL_UI_PORT for the one-command start). */
  uiPort: number;
  /**
   * Port for the server's own Prometheus metrics (TEMPORAL_SERVER_METRICS_PORT); unset, the CLI
   * picks a free one and prints it. They show what no client sees, such as the time each
   * persistence operation spends in SQLite.
   */
  metricsPort?: number;
  /** Default "default" (always created; another name is created in addition). */
  namespace?: string;
  /** Registered on the namespace when the database is created. */
  searchAttributes: NonNullable<DevServerConfig['searchAttributes']>;
  /** What this module does (not the server's output, see above). */
  log?: (line: string) => void;
  /** Interface for the frontend and the UI; default 127.0.0.1 (use 0.0.0.0 inside a container). */
  ip?: string;
  /** How long to wait for the Web UI after the frontend answers; default 60 s. */
  startTimeoutMs?: number;
  /** Environment used to find the CLI; default process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface EmbeddedTemporal {
  /** host:port for @temporalio/client and the worker. */
  address: string;
  uiUrl: string;
  /** The server's Prometheus endpoint, when a metrics port was given. */
  metricsUrl?: string;
  /** Stops the server and waits until it is gone. */
  stop(): Promise<void>;
}

export class EmbeddedTemporalStartError extends Error {
  override readonly name = 'EmbeddedTemporalStartError';
}

const DEFAULT_START_TIMEOUT_MS = 60_000;
const UI_POLL_INTERVAL_MS = 200;
/** The embedded server's niceness (see wrappedCli): below the API (0), above the worker (10). */
export const SERVER_NICENESS = 5;
/** Below "warn" the dev server prints routine notices (e.g. about its cluster id) on every fresh start. */
const SERVER_LOG = { format: 'pretty', level: 'error' };

/**
 * How the dev server hands tasks to the worker without waiting, for one worker process:
 *
 * - One partition per task queue. The dev server defaults to four: a task lands in one partition
 *   and a poller waits on another, and the server forwards between them only after a delay, so
 *   after the first few runs every workflow and activity task waited tens of milliseconds (about
 *   45 ms per activity on this kind of machine) before a worker got it. One process polling one
 *   server gains nothing from partitions.
 * - The history service's transfer queue read up to 1,000 times a second instead of 20. Every
 *   workflow task that is not handed back eagerly (a new run's first, the one after an activity
 *   completes) reaches matching through that queue, and the dev server has a single history
 *   shard, so all runs share one reader limited to 20 reads a second (the server's default,
 *   `history.transferProcessorMaxPollRPS`, which it applies per shard). Once its burst was spent,
 *   back-to-back evaluations waited about 25 ms per workflow task for the next read: a sequential
 *   median of 149 ms against 90 ms without the limit. Under load a read takes every task waiting,
 *   so the higher limit adds reads only when tasks come one at a time.
 *
 * A production cluster sets these itself (dynamic config); see the README's "Speed" section.
 */
export const TASK_DISPATCH_ARGS = [
  '--dynamic-config-value',
  'matching.numTaskqueueReadPartitions=1',
  '--dynamic-config-value',
  'matching.numTaskqueueWritePartitions=1',
  '--dynamic-config-value',
  'history.transferProcessorMaxPollRPS=1000',
];

/**
 * The server's search-attribute cache on. The dev server turns it off unless this key is given,
 * so that an attribute created while it runs is usable at once; then every check of a run's
 * search attributes (its start, each upsert) reads the cluster metadata and the namespace from
 * SQLite: 16 GetCurrentClusterMetadata and 7 GetNamespace calls per evaluation, 23 of its 40.
 * The dev server has one SQLite connection for history and visibility alike, and under load its
 * calls queue on it: in the POST-under-load phase 6 calls were in flight on average, 3.7 with the
 * cache. The attributes here are registered when the database is created, before the server
 * serves anything (and a server started on an older file refuses to start without them, see
 * checkReady), so nothing waits for a refresh.
 */
export const SEARCH_ATTRIBUTE_CACHE_ARGS = ['--dynamic-config-value', 'system.forceSearchAttributesCacheRefreshOnRead=false'];

/**
 * The embedded server's SQLite file in write-ahead-log mode: a commit appends to the log instead
 * of rewriting pages through a rollback journal, so each history write costs less I/O, and
 * readers do not wait for writers. Synchronous stays SQLite's default (FULL), so a committed
 * write survives a crash of the process or the machine as before.
 */
export const SQLITE_WAL_ARGS = ['--sqlite-pragma', 'journal_mode=wal'];

export async function startEmbeddedTemporal(options: EmbeddedTemporalOptions): Promise<EmbeddedTemporal> {
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const ip = options.ip ?? '127.0.0.1';
  const namespace = options.namespace ?? 'default';
  const log = options.log ?? (() => undefined);
  const host = ip === '0.0.0.0' ? '127.0.0.1' : ip;
  const address = `${host}:${options.port}`;
  const uiUrl = `http://${host}:${options.uiPort}`;
  const metricsUrl = options.metricsPort !== undefined ? `http://${host}:${options.metricsPort}/metrics` : undefined;
  const metricsArgs = options.metricsPort !== undefined ? ['--metrics-port', String(options.metricsPort)] : [];

  const lock = acquireDataDirLock(path.join(dataDir, 'embedded-temporal.pid'), `embedded Temporal data folder ${dataDir}`);
  let environment: TestWorkflowEnvironment | undefined;
  try {
    // The SDK only checks that *something* answers gRPC on the port: a server already there
    // (another service, or a dev server left behind) would be taken for ours.
    await assertPortFree(ip, options.port, 'TEMPORAL_PORT');
    await assertPortFree(ip, options.uiPort, 'TEMPORAL_UI_PORT');
    if (options.metricsPort !== undefined) await assertPortFree(ip, options.metricsPort, 'TEMPORAL_SERVER_METRICS_PORT');
    const cli = await locateTemporalCli(options.env ?? process.env);
    if (!cli) log('no Temporal CLI found (TEMPORAL_CLI_PATH, PATH); letting the Temporal SDK download one');
    const server: Omit<DevServerConfig, 'type'> = {
      executable: cli
        ? { type: 'existing-path', path: wrappedCli(cli, dataDir) }
        : { type: 'cached-download', downloadDir: path.join(dataDir, 'temporal-cli') },
      dbFilename: path.join(dataDir, 'temporal.db'),
      ip,
      port: options.port,
      ui: true,
      uiPort: options.uiPort,
      namespace,
      searchAttributes: options.searchAttributes,
      log: SERVER_LOG,
      extraArgs: [...TASK_DISPATCH_ARGS, ...SEARCH_ATTRIBUTE_CACHE_ARGS, ...SQLITE_WAL_ARGS, ...metricsArgs],
    };
    try {
      environment = await TestWorkflowEnvironment.createLocal({ server });
    } catch (error) {
      if (!cli) {
        throw new TemporalCliNotFoundError(
          'no Temporal CLI found (TEMPORAL_CLI_PATH unset, no `temporal` on PATH) and the Temporal SDK could not ' +
            `download and start one (${(error as Error).message}); ${TEMPORAL_CLI_INSTALL_HINT}`,
          { cause: error },
        );
      }
      throw new EmbeddedTemporalStartError(
        `the Temporal dev server (${cli}) did not start: ${(error as Error).message} (its output is above)`,
        { cause: error },
      );
    }
    await checkReady(environment, namespace, options.searchAttributes, uiUrl, options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  } catch (error) {
    await environment?.teardown();
    lock.release();
    throw error;
  }

  const running = environment;
  let stopping: Promise<void> | undefined;
  return {
    address,
    uiUrl,
    ...(metricsUrl !== undefined ? { metricsUrl } : {}),
    stop: () =>
      (stopping ??= (async () => {
        try {
          await running.teardown();
        } finally {
          lock.release();
        }
      })()),
  };
}

async function assertPortFree(ip: string, port: number, setting: string): Promise<void> {
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new EmbeddedTemporalStartError(`port ${port} (${setting}) is already in use on ${ip}; stop what uses it or choose another port`)
          : error,
      ),
    );
    probe.listen(port, ip, () => probe.close(() => resolve()));
  });
}

/**
 * The namespace and search attributes are written to the database before the frontend answers,
 * but only when the namespace is new: an attribute added to the code later is missing from an
 * older temporal.db, and waiting would not change that. The Web UI starts alongside the
 * frontend, so it is polled.
 */
async function checkReady(
  environment: TestWorkflowEnvironment,
  namespace: string,
  searchAttributes: EmbeddedTemporalOptions['searchAttributes'],
  uiUrl: string,
  timeoutMs: number,
): Promise<void> {
  const { customAttributes } = await environment.connection.operatorService.listSearchAttributes({ namespace });
  const missing = searchAttributes.map((key) => key.name).filter((name) => !(name in (customAttributes ?? {})));
  if (missing.length > 0) {
    throw new EmbeddedTemporalStartError(
      `namespace ${namespace} lacks the search attributes ${missing.join(', ')}; register them with ` +
        '`temporal operator search-attribute create` against the running server, or start with an empty data folder',
    );
  }
  const deadline = Date.now() + timeoutMs;
  let problem: string;
  for (;;) {
    problem = await fetch(uiUrl).then(
      async (response) => {
        await response.body?.cancel();
        return response.ok ? '' : `answered ${response.status}`;
      },
      (error: Error) => error.message,
    );
    if (!problem) return;
    if (Date.now() >= deadline) break;
    await delay(UI_POLL_INTERVAL_MS);
  }
  throw new EmbeddedTemporalStartError(`the Temporal Web UI at ${uiUrl} was not ready after ${timeoutMs} ms: ${problem}`);
}

/**
 * The SDK kills the server on stop, but nothing kills it when this process dies abruptly
 * (SIGKILL, OOM killer): it would keep the ports and the database. On Linux the kernel can send
 * it SIGTERM then (parent-death signal, set by util-linux `setpriv --pdeathsig`, which then execs
 * the CLI so the SDK's pid stays the server's). The SDK takes only an executable path, so the
 * wrapper is a small script in the data folder. The signal follows the thread that started the
 * server, one of the SDK runtime's worker threads, which live as long as the process.
 *
 * The same wrapper starts the server at niceness SERVER_NICENESS, below the API in this process:
 * on a saturated machine a POST's admission (the API and PostgreSQL) goes first, and the
 * server's work (workflow starts, which carry on after the 202, and the running evaluations)
 * takes what is left, still ahead of the worker (niceness 10, in a CPU group of its own).
 * Elsewhere (macOS, no setpriv) the CLI runs unwrapped.
 */
function wrappedCli(cli: string, dataDir: string): string {
  if (process.platform !== 'linux') return cli;
  const help = spawnSync('setpriv', ['--help'], { encoding: 'utf8' });
  if (help.error || !help.stdout.includes('--pdeathsig')) return cli;
  const wrapper = path.join(dataDir, 'temporal-cli-with-pdeathsig');
  const quoted = `'${cli.replace(/'/g, `'\\''`)}'`;
  writeFileSync(wrapper, `#!/bin/sh\nexec nice -n ${SERVER_NICENESS} setpriv --pdeathsig TERM -- ${quoted} "$@"\n`);
  chmodSync(wrapper, 0o755);
  return wrapper;
}
