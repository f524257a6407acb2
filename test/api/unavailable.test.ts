/**
 * When Temporal or PostgreSQL is unreachable the API answers 503 with the documented body and
 * leaves nothing half-created behind.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { assembleApi } from '../../src/api/assemble';
import { createDb, createPool } from '../../src/db/client';
import { createLogger } from '../../src/logging/logger';
import { Metrics } from '../../src/metrics/metrics';
import { loadPolicy } from '../../src/scanner/policy';
import { freePorts } from '../support/free-port';
import { databaseUrl, temporalAddress } from '../support/harness';

/** A port nothing listens on. */
const deadPort = async () => (await freePorts(1))[0]!;

function build(dbUrl: string, temporalAddr: string) {
  const db = createDb(dbUrl, { maxConnections: 2 });
  const log = createLogger('silent');
  const rateLimitPool = createPool(dbUrl, {
    maxConnections: 2,
    onIdleError: (err) => log.warn({ err }, 'an idle connection of the rate limiter failed'),
  });
  const connection = Connection.lazy({ address: temporalAddr });
  const { app } = assembleApi({
    db,
    client: new Client({ connection }),
    taskQueue: 'test-unavailable',
    policy: loadPolicy(undefined),
    log,
    metrics: new Metrics({ defaultMetrics: false }),
    reviewTimeout: '1h',
    authDisabled: true,
    rateLimitPerMinute: 1000,
    rateLimitPool,
    rateLimitKeyPrefix: `test-${randomUUID()}`,
    maxInFlight: { perTenant: 1000, total: 10000 },
    webhooks: { enabled: false, allowPrivate: false },
  });
  return {
    app,
    db,
    close: async () => {
      await connection.close();
      await rateLimitPool.end();
      await db.$disconnect();
    },
  };
}

const body = JSON.stringify({ language: 'python', code: 'print(1)' });
const submit = (app: ReturnType<typeof build>['app']) =>
  app.request('/v1/evaluations', { method: 'POST', headers: { 'content-type': 'application/json' }, body });

test('Temporal unreachable: 503 temporal_unavailable, and the row written first is removed again', async () => {
  const svc = build(databaseUrl(), `127.0.0.1:${await deadPort()}`);
  try {
    const before = await svc.db.evaluation.count();
    const res = await submit(svc.app);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect(await res.json()).toEqual({ error: expect.objectContaining({ code: 'temporal_unavailable' }) });
    expect(await svc.db.evaluation.count()).toBe(before);
    const ready = await svc.app.request('/readyz');
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not_ready', checks: { temporal: { ok: false }, postgresql: { ok: true } } });
  } finally {
    await svc.close();
  }
});

test('PostgreSQL unreachable: 503 database_unavailable, and no workflow is started', async () => {
  const url = new URL(databaseUrl());
  url.hostname = '127.0.0.1';
  url.port = String(await deadPort());
  const svc = build(url.toString(), temporalAddress());
  try {
    const res = await submit(svc.app);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: expect.objectContaining({ code: 'database_unavailable' }) });
    const client = new Client({ connection: await Connection.connect({ address: temporalAddress() }) });
    expect((await client.workflow.count('TaskQueue = "test-unavailable"')).count).toBe(0);
    await client.connection.close();
  } finally {
    await svc.close();
  }
});
