/**
 * Configuration: every environment variable the service reads, parsed and validated once at
 * start-up. A bad value stops the process with a message naming the variable.
 */
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors';

export { ConfigError };

const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const port = z.coerce.number().int().min(0).max(65535);

const ConfigSchema = z.object({
  PORT: port.default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('evaluations'),
  TEMPORAL_TLS: booleanFlag.default(false),
  TEMPORAL_TLS_CA: z.string().min(1).optional(),
  TEMPORAL_TLS_CERT: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  EMBEDDED_POSTGRES_PORT: port.default(5433),
  DATA_DIR: z.string().min(1).default('./.data'),
  EVAL_ENGINE: z.enum(['bwrap', 'gvisor', 'process']).default('bwrap'),
  ALLOW_PROCESS_ENGINE: booleanFlag.default(false),
  SCAN_POLICY: z.string().min(1).optional(),
  SCANNER_PYTHON: z.string().min(1).default('/usr/bin/python3'),
  REVIEW_TIMEOUT: z
    .string()
    .regex(/^\d+(ms|s|m|h|d)$/, 'a duration such as 30s, 15m or 24h')
    .default('24h'),
  WORKER_METRICS_PORT: port.optional(),
  CORS_ORIGINS: z.string().optional(),
  AUTH_DISABLED: booleanFlag.default(false),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(600),
  MAX_IN_FLIGHT_PER_TENANT: z.coerce.number().int().min(1).default(100),
  MAX_IN_FLIGHT_TOTAL: z.coerce.number().int().min(1).default(1000),
  WEBHOOK_SECRET: z.string().min(32, 'at least 32 characters').optional(),
  WEBHOOK_ALLOW_PRIVATE: booleanFlag.default(false),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(25000).default(10000),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
  RECONCILE_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(3600).default(15),
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** What connection-security.ts needs to secure a Temporal connection. */
export interface TemporalSecuritySettings {
  tls: boolean;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  serverName?: string;
  apiKey?: string;
}

export type RawConfig = z.infer<typeof ConfigSchema>;

export interface Config {
  port: number;
  host: string;
  databaseUrl?: string;
  temporal: { address?: string; namespace: string; taskQueue: string; port: number; uiPort: number; security: TemporalSecuritySettings };
  embeddedPostgresPort: number;
  dataDir: string;
  engine: RawConfig['EVAL_ENGINE'];
  allowProcessEngine: boolean;
  scanPolicyPath?: string;
  scannerPython: string;
  reviewTimeout: string;
  workerConcurrency: number;
  /** How often the reconciler's schedule runs (seconds). */
  reconcileIntervalSeconds: number;
  /** Base URL of the API as operators reach it, for links on a run's page in the Web UI. */
  publicUrl?: string;
  workerMetricsPort?: number;
  corsOrigins: string[];
  authDisabled: boolean;
  rateLimitPerMinute: number;
  maxInFlight: { perTenant: number; total: number };
  webhooks: { secret?: string; allowPrivate: boolean; timeoutMs: number };
  logLevel: RawConfig['LOG_LEVEL'];
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset", as in most shells' `VAR= command`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = ConfigSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new ConfigError(`Invalid configuration:\n${problems}`);
  }
  const c = parsed.data;
  return {
    port: c.PORT,
    host: c.HOST,
    databaseUrl: c.DATABASE_URL,
    temporal: { address: c.TEMPORAL_ADDRESS, namespace: c.TEMPORAL_NAMESPACE, taskQueue: c.TEMPORAL_TASK_QUEUE,
      port: c.TEMPORAL_PORT,
      uiPort: c.TEMPORAL_UI_PORT,
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
    scanPolicyPath: c.SCAN_POLICY,
    scannerPython: c.SCANNER_PYTHON,
    reviewTimeout: c.REVIEW_TIMEOUT,
    workerConcurrency: c.WORKER_CONCURRENCY,
    reconcileIntervalSeconds: c.RECONCILE_INTERVAL_SECONDS,
    publicUrl: c.PUBLIC_URL?.replace(/\/+$/, ''),
    workerMetricsPort: c.WORKER_METRICS_PORT,
    webhooks: { secret: c.WEBHOOK_SECRET, allowPrivate: c.WEBHOOK_ALLOW_PRIVATE, timeoutMs: c.WEBHOOK_TIMEOUT_MS },
    authDisabled: c.AUTH_DISABLED,
    rateLimitPerMinute: c.RATE_LIMIT_PER_MINUTE,
    maxInFlight: { perTenant: c.MAX_IN_FLIGHT_PER_TENANT, total: c.MAX_IN_FLIGHT_TOTAL },
    corsOrigins: (c.CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean),
    logLevel: c.LOG_LEVEL,
  };
}
