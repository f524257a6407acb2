/**
 * Request budgets kept in PostgreSQL (table rate_limits, see prisma/schema.prisma) by
 * rate-limiter-flexible's RateLimiterPostgres. Every API process on the same database counts
 * against the same budgets, so running several processes no longer multiplies the limit.
 *
 * Each budget is a fixed window that starts with a caller's first request: the library's upsert
 * sets the row's `expire` then and keeps it until it has passed. Refused requests are counted in
 * the row too, but they cannot extend the window, so the budget is full again when it ends.
 */
import type { Pool, QueryConfig, QueryResult } from 'pg';
import { RateLimiterPostgres } from 'rate-limiter-flexible';
import { CoalescingLimiter } from './coalescing';
import type { RequestLimiter } from './middleware';

/** Created by a migration, so the API needs no DDL rights and the schema describes every table. */
const TABLE = 'rate_limits';

/**
 * The prefix of the service's budgets. API processes share a budget exactly when they share the
 * database and this prefix; tests give each app a prefix of its own so they do not share.
 */
export const DEFAULT_BUDGET_PREFIX = 'api';

export interface PostgresLimiterOptions {
  pool: Pool;
  /** Requests allowed per caller per window. */
  limit: number;
  windowSeconds: number;
  /** Names the budget: limiters with the same prefix count the same requests, others never do. */
  keyPrefix: string;
}

/**
 * A budget in PostgreSQL, its concurrent requests in this process counted by one write (see
 * ./coalescing): every request of a caller updates the same row.
 */
export function postgresLimiter(options: PostgresLimiterOptions): RequestLimiter {
  assertPositiveInteger('limit', options.limit);
  assertPositiveInteger('windowSeconds', options.windowSeconds);
  // The library stores keys without a prefix when it is empty; two such budgets would mix.
  if (options.keyPrefix === '') throw new RangeError('keyPrefix must not be empty');
  const store = new RateLimiterPostgres({
    storeClient: unnamedStatements(options.pool),
    storeType: 'pool',
    tableName: TABLE,
    tableCreated: true,
    points: options.limit,
    duration: options.windowSeconds,
    keyPrefix: options.keyPrefix,
  });
  return new CoalescingLimiter(store);
}

export interface RequestLimits {
  /** Per client address, in front of authentication. */
  perAddress: RequestLimiter;
  /** Per API key (per client address when authentication is disabled). */
  perCaller: RequestLimiter;
}

export interface RequestLimitsOptions {
  pool: Pool;
  /** Requests per API key per minute. */
  perMinute: number;
  keyPrefix?: string;
}

/**
 * The API's two budgets. The per-address one is four times the per-key one: it only has to stop
 * a flood of bad keys (each costs a database lookup) without starving several keys used from
 * one address.
 */
export function requestLimits(options: RequestLimitsOptions): RequestLimits {
  const prefix = options.keyPrefix ?? DEFAULT_BUDGET_PREFIX;
  return {
    perAddress: postgresLimiter({ pool: options.pool, limit: options.perMinute * 4, windowSeconds: 60, keyPrefix: `${prefix}:address` }),
    perCaller: postgresLimiter({ pool: options.pool, limit: options.perMinute, windowSeconds: 60, keyPrefix: `${prefix}:caller` }),
  };
}

/**
 * The pool as the library uses it, but with its statements sent unnamed. The library names them
 * (prepared once per connection), and in the embedded PostgreSQL every connection shares one
 * session, so a second connection preparing the same name fails with "prepared statement
 * already exists". Unnamed, each statement is parsed per call: a small cost next to the round trip.
 */
function unnamedStatements(pool: Pool): { query(config: QueryConfig): Promise<QueryResult> } {
  return { query: (config) => pool.query({ text: config.text, values: config.values }) };
}

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
}
