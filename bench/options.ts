/**
 * The suite's flags. Every size is a flag, so the same code runs as a full benchmark and as a
 * short smoke (a few evaluations); `reproduce()` turns the options back into the command line.
 */
import { parseArgs } from 'node:util';

export const PHASES = ['sequential', 'throughput', 'post', 'backlog'] as const;
export type Phase = (typeof PHASES)[number];

export interface BenchOptions {
  /** Target a running service instead of starting one (then apiKey and databaseUrl are needed). */
  url?: string;
  apiKey?: string;
  databaseUrl?: string;
  /** Temporal frontend: with --url, used for the history breakdown; without, the started service uses it instead of an embedded server. */
  temporalAddress?: string;
  taskQueue?: string;
  pgAdminUrl: string;
  phases: Phase[];
  sequential: number;
  history: number;
  throughput: number;
  concurrency: number;
  rate: number;
  rateSeconds: number;
  backlog: number;
  workerConcurrency?: number;
  apiPid?: number;
  workerPid?: number;
  /** Folder for V8 CPU profiles of the started service's Node processes (API and worker), written when it stops. */
  cpuProfDir?: string;
}

const HELP = `npm run bench -- [flags]
  --url URL --api-key KEY --database-url URL   target a running service (default: start one with npm start's entry point)
  --temporal-address HOST:PORT                with --url: break sequential runs down by workflow history;
                                              without: the started service uses this server instead of an embedded one
  --task-queue NAME                           task queue of the started service (with --temporal-address)
  --pg-admin-url URL                          where the started service gets a fresh database (default $TEST_PG_ADMIN_URL or local postgres)
  --only sequential,throughput,post,backlog   phases to run (default: all but backlog unless --backlog > 0)
  --sequential N      evaluations one at a time (default 50)
  --history N         of those, how many to break down by workflow history (default 10)
  --throughput N      evaluations for the throughput run (default 300)
  --concurrency C     clients of the throughput and POST-under-load runs (default 8)
  --rate R            POSTs per second fired by autocannon while the worker is saturated (default 50)
  --rate-seconds S    how long (default 10)
  --backlog N         evaluations submitted at once, RSS sampled, until all finish (default 0: skipped; the goal is 10000)
  --worker-concurrency N   WORKER_CONCURRENCY of the started service
  --api-pid P --worker-pid P   processes whose RSS the backlog run samples, with --url
  --cpu-prof DIR      the started service's Node processes (API, worker, and their worker threads) write V8 CPU
                      profiles (.cpuprofile, for Chrome DevTools or speedscope) into DIR when the suite stops them`;

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      'api-key': { type: 'string' },
      'database-url': { type: 'string' },
      'temporal-address': { type: 'string' },
      'task-queue': { type: 'string' },
      'pg-admin-url': { type: 'string' },
      only: { type: 'string' },
      sequential: { type: 'string', default: '50' },
      history: { type: 'string', default: '10' },
      throughput: { type: 'string', default: '300' },
      concurrency: { type: 'string', default: '8' },
      rate: { type: 'string', default: '50' },
      'rate-seconds': { type: 'string', default: '10' },
      backlog: { type: 'string', default: '0' },
      'worker-concurrency': { type: 'string' },
      'api-pid': { type: 'string' },
      'worker-pid': { type: 'string' },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const int = (name: string, value: string | undefined, min = 0): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, not ${value}`);
    return n;
  };
  const backlog = int('backlog', values.backlog)!;
  const phases = values.only
    ? values.only.split(',').map((p) => {
        if (!(PHASES as readonly string[]).includes(p)) throw new Error(`--only: unknown phase ${p} (${PHASES.join(', ')})`);
        return p as Phase;
      })
    : PHASES.filter((p) => p !== 'backlog' || backlog > 0);
  const options: BenchOptions = {
    url: values.url,
    apiKey: values['api-key'] ?? process.env.API_KEY,
    databaseUrl: values['database-url'],
    temporalAddress: values['temporal-address'],
    taskQueue: values['task-queue'],
    pgAdminUrl: values['pg-admin-url'] ?? process.env.TEST_PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
    phases,
    sequential: int('sequential', values.sequential, 1)!,
    history: int('history', values.history)!,
    throughput: int('throughput', values.throughput, 1)!,
    concurrency: int('concurrency', values.concurrency, 1)!,
    rate: int('rate', values.rate, 1)!,
    rateSeconds: int('rate-seconds', values['rate-seconds'], 1)!,
    backlog,
    workerConcurrency: int('worker-concurrency', values['worker-concurrency'], 1),
    apiPid: int('api-pid', values['api-pid'], 1),
    workerPid: int('worker-pid', values['worker-pid'], 1),
    cpuProfDir: values['cpu-prof'],
  };
  if (options.url && options.cpuProfDir) throw new Error('--cpu-prof profiles a service the suite starts, not one given by --url');
  if (options.url && (!options.apiKey || !options.databaseUrl)) {
    throw new Error(
      '--url needs --api-key (or API_KEY) and --database-url: the stage split and the lost/duplicated counts read PostgreSQL',
    );
  }
  return options;
}

/** The command that reruns one phase with the sizes of this run (secrets left as placeholders). */
export function reproduce(options: BenchOptions, phase: Phase): string {
  const flags: string[] = [`--only ${phase}`];
  if (options.url) flags.push(`--url ${options.url} --api-key $KEY --database-url $DATABASE_URL`);
  if (options.temporalAddress) flags.push(`--temporal-address ${options.temporalAddress}`);
  if (options.workerConcurrency !== undefined) flags.push(`--worker-concurrency ${options.workerConcurrency}`);
  if (phase === 'sequential') flags.push(`--sequential ${options.sequential} --history ${options.history}`);
  if (phase === 'throughput') flags.push(`--throughput ${options.throughput} --concurrency ${options.concurrency}`);
  if (phase === 'post') flags.push(`--concurrency ${options.concurrency} --rate ${options.rate} --rate-seconds ${options.rateSeconds}`);
  if (phase === 'backlog') flags.push(`--backlog ${options.backlog}`);
  return `npm run bench -- ${flags.join(' ')}`;
}
