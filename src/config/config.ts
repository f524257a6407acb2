/**
 * Configuration: every environment variable the service reads, parsed and validated once at
 * start-up. A bad value stops the process with a message naming the variable.
 *
 * `ConfigEnv` is the one place a variable is declared: its type, its default and a one-line
 * description. README's configuration table is generated from it (scripts/config-docs.ts), and
 * `Config`, the shape the rest of the code reads, is the output type of its transform, so a
 * setting cannot exist in one of them and be missing from another.
 */
import path from 'node:path';
import { z } from 'zod';
import { LIMIT_MAXIMA, TASK_QUEUE } from '../domain/evaluation';
import {
  DEFAULT_BASH_PATH,
  DEFAULT_BWRAP_PATH,
  DEFAULT_GCC_PATH,
  DEFAULT_GO_PATH,
  DEFAULT_GVISOR_PLATFORM,
  DEFAULT_GXX_PATH,
  DEFAULT_JAVA_PATH,
  DEFAULT_JAVAC_PATH,
  DEFAULT_PYTHON_PATH,
  DEFAULT_RUNSC_PATH,
  DEFAULT_WEBHOOK_TIMEOUT_MS,
  GVISOR_PLATFORMS,
} from './defaults';
import { ConfigError } from './errors';

export { ConfigError };

/**
 * Documentation of one variable; README's configuration table is rendered from it. A type alias
 * rather than an interface because zod's `.meta()` takes an index-signature type.
 */
export type ConfigVariableDoc = {
  /** One line, Markdown; the "meaning" column. */
  description: string;
  /** What leaving a variable without a default unset means, when more than "not used". */
  whenUnset?: string;
};

const booleanFlag = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

const port = z.coerce.number().int().min(0).max(65535);

const int = (min: number, max?: number) =>
  max === undefined ? z.coerce.number().int().min(min) : z.coerce.number().int().min(min).max(max);

// zod's own meta type accepts any key; this makes a description required and a misspelt key an error.
const doc = (description: string, whenUnset?: string): ConfigVariableDoc =>
  whenUnset === undefined ? { description } : { description, whenUnset };

// The order here is the order of README's table.
export const ConfigEnv = z.object({
  PORT: port.default(3000).meta(doc('API port')),
  HOST: z.string().min(1).default('127.0.0.1').meta(doc('API bind address (`0.0.0.0` to expose it)')),
  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/ })
    .optional()
    .meta(doc('PostgreSQL connection URL', 'embedded PGlite')),
  EMBEDDED_POSTGRES_PORT: port.default(5433).meta(doc('port of the embedded PostgreSQL')),
  TEMPORAL_ADDRESS: z.string().min(1).optional().meta(doc('Temporal frontend `host:port`', 'embedded dev server')),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default').meta(doc('Temporal namespace')),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default(TASK_QUEUE).meta(doc('task queue of the workflow and activities')),
  TEMPORAL_TLS: booleanFlag
    .default(false)
    .meta(doc('connect to Temporal over TLS (implied by the other `TEMPORAL_TLS_*` variables and `TEMPORAL_API_KEY`)')),
  TEMPORAL_TLS_CA: z.string().min(1).optional().meta(doc('CA file for a private CA')),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional().meta(doc('server name for a private CA')),
  TEMPORAL_TLS_CERT: z.string().min(1).optional().meta(doc('client certificate file for mTLS')),
  TEMPORAL_TLS_KEY: z.string().min(1).optional().meta(doc('client key file for mTLS')),
  TEMPORAL_API_KEY: z.string().min(1).optional().meta(doc('API key (Temporal Cloud); sent over TLS only')),
  TEMPORAL_PORT: port.default(7233).meta(doc('port of the embedded dev server')),
  TEMPORAL_UI_PORT: port.default(8233).meta(doc('Web UI port of the embedded dev server')),
  TEMPORAL_SERVER_METRICS_PORT: port
    .min(1)
    .optional()
    .meta(
      doc(
        "port of the embedded dev server's own Prometheus metrics (persistence time by operation, task queues)",
        'a free port the server picks and prints at start',
      ),
    ),
  // src/temporal/cli.ts reads it from the environment it is given, because the test setup looks for
  // the CLI without a Config; it is declared here to be validated and documented with the rest.
  TEMPORAL_CLI_PATH: z.string().min(1).optional().meta(doc('Temporal CLI used for the embedded server', '`temporal` on `PATH`')),
  DATA_DIR: z.string().min(1).default('./.data').meta(doc('embedded PostgreSQL and Temporal data')),
  EVAL_ENGINE: z.enum(['bwrap', 'gvisor', 'process']).default('bwrap').meta(doc('sandbox engine: `bwrap`, `gvisor` or `process`')),
  ALLOW_PROCESS_ENGINE: booleanFlag.default(false).meta(doc('the `process` engine has no isolation; it is refused unless this is `true`')),
  SANDBOX_PYTHON: z
    .string()
    .min(1)
    .default(DEFAULT_PYTHON_PATH)
    .meta(doc("Python that runs the sandbox's init and Python submissions (inside `/usr` it needs no extra bind)")),
  SANDBOX_NODE: z.string().min(1).optional().meta(doc('Node.js that runs JavaScript submissions', 'the node running the service')),
  SANDBOX_INIT: z
    .enum(['auto', 'python'])
    .default('auto')
    .meta(
      doc(
        "the sandbox's init: `auto` compiles the C init once per start (into a private cache under the OS temp dir) and falls back to the Python init when it cannot; `python` always uses the Python init",
      ),
    ),
  SANDBOX_CC: z.string().min(1).optional().meta(doc('C compiler for the sandbox init', '`/usr/bin/cc`, else `/usr/bin/gcc`')),
  SANDBOX_GCC: z
    .string()
    .min(1)
    .default(DEFAULT_GCC_PATH)
    .meta(doc('C compiler (a missing toolchain makes its language unavailable, see `GET /v1/languages`)')),
  SANDBOX_GXX: z.string().min(1).default(DEFAULT_GXX_PATH).meta(doc('C++ compiler')),
  SANDBOX_GO: z.string().min(1).default(DEFAULT_GO_PATH).meta(doc('Go toolchain (`go build`)')),
  SANDBOX_JAVAC: z.string().min(1).default(DEFAULT_JAVAC_PATH).meta(doc('Java compiler')),
  SANDBOX_JAVA: z.string().min(1).default(DEFAULT_JAVA_PATH).meta(doc('Java runtime that runs compiled Java submissions')),
  SANDBOX_BASH: z.string().min(1).default(DEFAULT_BASH_PATH).meta(doc('Bash that runs Bash submissions')),
  SANDBOX_BWRAP: z.string().min(1).default(DEFAULT_BWRAP_PATH).meta(doc('bubblewrap binary of the `bwrap` engine')),
  SANDBOX_RUNSC: z.string().min(1).default(DEFAULT_RUNSC_PATH).meta(doc('runsc binary of the `gvisor` engine')),
  GVISOR_PLATFORM: z
    .enum(GVISOR_PLATFORMS)
    .default(DEFAULT_GVISOR_PLATFORM)
    .meta(doc('gVisor platform: `ptrace` (works everywhere), `systrap` (runsc from 2023) or `kvm` (needs `/dev/kvm`)')),
  SCAN_POLICY: z.string().min(1).optional().meta(doc('path of a JSON scan policy', 'built-in policy')),
  SCANNER_PYTHON: z.string().min(1).default(DEFAULT_PYTHON_PATH).meta(doc('Python used to parse submissions for the scanner')),
  REVIEW_TIMEOUT: z
    .string()
    .regex(/^\d+(ms|s|m|h|d)$/, 'a duration such as 30s, 15m or 24h')
    .default('24h')
    .meta(doc('how long a submission held for review waits before it is rejected')),
  AUTH_DISABLED: booleanFlag
    .default(false)
    .meta(doc('`true` lets every caller in as tenant `default` with all scopes (local development only)')),
  RATE_LIMIT_PER_MINUTE: int(1).default(600).meta(doc('requests per API key per minute (per address: 4× that, before authentication)')),
  MAX_IN_FLIGHT_PER_TENANT: int(1).default(100).meta(doc('unfinished evaluations a tenant may have; beyond it 429 with `Retry-After`')),
  MAX_IN_FLIGHT_TOTAL: int(1).default(1000).meta(doc('unfinished evaluations overall; beyond it 503 with `Retry-After`')),
  WEBHOOK_SECRET: z
    .string()
    .min(32, 'at least 32 characters')
    .optional()
    .meta(
      doc(
        'key that signs webhook deliveries (Standard Webhooks): a `whsec_` base64 secret of 24+ bytes, or any other string of 32+ characters used as raw bytes; `callbackUrl` is refused without it',
        'webhooks off',
      ),
    ),
  WEBHOOK_ALLOW_PRIVATE: booleanFlag
    .default(false)
    .meta(doc('allow callbacks to loopback and private addresses (never to metadata addresses)')),
  WEBHOOK_TIMEOUT_MS: int(100, 25000).default(DEFAULT_WEBHOOK_TIMEOUT_MS).meta(doc('timeout of one delivery attempt')),
  CORS_ORIGINS: z.string().optional().meta(doc('comma-separated origins allowed to call the API from a browser', 'no CORS')),
  WORKER_METRICS_PORT: port.optional().meta(doc('a standalone worker serves `/metrics` on this port')),
  TEMPORAL_METRICS_BIND_ADDRESS: z
    .string()
    .regex(/^[^\s:]+:\d{1,5}$/, 'host:port')
    .optional()
    .meta(
      doc(
        "`host:port` where the worker serves the Temporal SDK's own Prometheus metrics (`/metrics`: schedule-to-start latency, slots, polls), e.g. `0.0.0.0:9464`",
      ),
    ),
  OTEL_TRACES_EXPORTER: z
    .enum(['none', 'otlp', 'console'])
    .default('none')
    .meta(
      doc(
        'OpenTelemetry traces from the API request through the workflow and its activities: `otlp` sends them to `OTEL_EXPORTER_OTLP_ENDPOINT` (OTLP/HTTP, the standard `OTEL_EXPORTER_OTLP_*` variables apply), `console` prints them',
      ),
    ),
  WORKER_CONCURRENCY: int(1, 256).default(8).meta(doc('activities one worker runs at once')),
  WORKER_MAX_CACHED_WORKFLOWS: int(2, 100000)
    .default(250)
    .meta(
      doc(
        'open runs a worker keeps in memory between their steps; a run pushed out is replayed from its history when its next step comes (bounds the worker memory under a backlog)',
      ),
    ),
  API_DRAIN_SECONDS: int(0, 300)
    .default(5)
    .meta(
      doc(
        'on SIGTERM, how long the API answers 503 (with Retry-After) and fails /readyz before it closes its listener, so load balancers stop sending first',
      ),
    ),
  // The longest program the API accepts, plus time to report it: a deploy then never cuts a run short.
  WORKER_SHUTDOWN_GRACE_SECONDS: int(0, 3600)
    .default(Math.ceil(LIMIT_MAXIMA.wallTimeMs / 1000) + 30)
    .meta(
      doc(
        'how long a stopping worker (SIGTERM, a deploy) lets running evaluations finish before it cancels them; it polls for no new work meanwhile',
      ),
    ),
  RECONCILE_INTERVAL_SECONDS: int(1, 3600)
    .default(15)
    .meta(
      doc(
        "how often the reconciler's Temporal Schedule runs: a workflow terminated, timed out or deleted in the Web UI leaves its evaluation `failed` within about this long",
      ),
    ),
  PUBLIC_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .meta(doc("the API's base URL as operators reach it; makes the API links on a run's page in the Web UI absolute")),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .meta(doc('`fatal` … `trace`, or `silent`')),
});

/** The environment, validated, in the shape the code reads. */
export const ConfigSchema = ConfigEnv.transform((c) => ({
  port: c.PORT,
  host: c.HOST,
  databaseUrl: c.DATABASE_URL,
  temporal: {
    address: c.TEMPORAL_ADDRESS,
    namespace: c.TEMPORAL_NAMESPACE,
    taskQueue: c.TEMPORAL_TASK_QUEUE,
    port: c.TEMPORAL_PORT,
    uiPort: c.TEMPORAL_UI_PORT,
    serverMetricsPort: c.TEMPORAL_SERVER_METRICS_PORT,
    security: {
      tls: c.TEMPORAL_TLS,
      caFile: c.TEMPORAL_TLS_CA,
      certFile: c.TEMPORAL_TLS_CERT,
      keyFile: c.TEMPORAL_TLS_KEY,
      serverName: c.TEMPORAL_TLS_SERVER_NAME,
      apiKey: c.TEMPORAL_API_KEY,
    },
  },
  embeddedPostgresPort: c.EMBEDDED_POSTGRES_PORT,
  dataDir: path.resolve(c.DATA_DIR),
  engine: c.EVAL_ENGINE,
  allowProcessEngine: c.ALLOW_PROCESS_ENGINE,
  /** The engines' binaries, the languages' toolchains and gVisor's platform (createEngine's `settings`). */
  sandbox: {
    pythonPath: c.SANDBOX_PYTHON,
    nodePath: c.SANDBOX_NODE,
    init: { mode: c.SANDBOX_INIT, compilerPath: c.SANDBOX_CC },
    gccPath: c.SANDBOX_GCC,
    gxxPath: c.SANDBOX_GXX,
    goPath: c.SANDBOX_GO,
    javacPath: c.SANDBOX_JAVAC,
    javaPath: c.SANDBOX_JAVA,
    bashPath: c.SANDBOX_BASH,
    bwrapPath: c.SANDBOX_BWRAP,
    runscPath: c.SANDBOX_RUNSC,
    gvisorPlatform: c.GVISOR_PLATFORM,
  },
  scanPolicyPath: c.SCAN_POLICY,
  scannerPython: c.SCANNER_PYTHON,
  reviewTimeout: c.REVIEW_TIMEOUT,
  workerConcurrency: c.WORKER_CONCURRENCY,
  workerMaxCachedWorkflows: c.WORKER_MAX_CACHED_WORKFLOWS,
  workerShutdownGraceSeconds: c.WORKER_SHUTDOWN_GRACE_SECONDS,
  apiDrainSeconds: c.API_DRAIN_SECONDS,
  /** How often the reconciler's schedule runs (seconds). */
  reconcileIntervalSeconds: c.RECONCILE_INTERVAL_SECONDS,
  /** Base URL of the API as operators reach it, for links on a run's page in the Web UI. */
  publicUrl: c.PUBLIC_URL?.replace(/\/+$/, ''),
  workerMetricsPort: c.WORKER_METRICS_PORT,
  temporalMetricsBindAddress: c.TEMPORAL_METRICS_BIND_ADDRESS,
  tracesExporter: c.OTEL_TRACES_EXPORTER,
  corsOrigins: (c.CORS_ORIGINS ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean),
  authDisabled: c.AUTH_DISABLED,
  rateLimitPerMinute: c.RATE_LIMIT_PER_MINUTE,
  maxInFlight: { perTenant: c.MAX_IN_FLIGHT_PER_TENANT, total: c.MAX_IN_FLIGHT_TOTAL },
  webhooks: { secret: c.WEBHOOK_SECRET, allowPrivate: c.WEBHOOK_ALLOW_PRIVATE, timeoutMs: c.WEBHOOK_TIMEOUT_MS },
  logLevel: c.LOG_LEVEL,
}));

export type Config = z.output<typeof ConfigSchema>;

/** What connection-security.ts needs to secure a Temporal connection. */
export type TemporalSecuritySettings = Config['temporal']['security'];

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset", as in most shells' `VAR= command`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = ConfigSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new ConfigError(`Invalid configuration:\n${problems}`);
  }
  return parsed.data;
}
