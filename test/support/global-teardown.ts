import { Client as PgClient } from 'pg';

export default async function globalTeardown(): Promise<void> {
  const env = globalThis.__crucibleTestEnv;
  if (!env) return;
  await env.temporal.teardown();
  if (process.env.KEEP_TEST_DATABASE) return;
  const admin = new PgClient({ connectionString: env.adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${env.database} WITH (FORCE)`);
  await admin.end();
}
