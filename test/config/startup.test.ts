/** Configuration is validated once at start-up: a bad value stops the process with a message naming it. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/config';

const root = path.resolve(__dirname, '../..');

test('defaults when nothing is set', () => {
  const config = loadConfig({});
  expect(config).toMatchObject({
    port: 3000,
    engine: 'bwrap',
    allowProcessEngine: false,
    reviewTimeout: '24h',
    temporal: { namespace: 'default', taskQueue: 'evaluations', uiPort: 8233 },
  });
  expect(config.databaseUrl).toBeUndefined();
  expect(config.temporal.address).toBeUndefined();
});

test('each bad value is named', () => {
  expect(() => loadConfig({ PORT: 'eighty' })).toThrow(ConfigError);
  expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
  expect(() => loadConfig({ EVAL_ENGINE: 'docker' })).toThrow(/EVAL_ENGINE/);
  expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
  expect(() => loadConfig({ REVIEW_TIMEOUT: 'soon' })).toThrow(/REVIEW_TIMEOUT/);
});

function runWorker(env: Record<string, string>) {
  return spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src/main/worker.ts')], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none', TEMPORAL_ADDRESS: '127.0.0.1:1', ...env },
    encoding: 'utf8',
    timeout: 60000,
  });
}

test('an invalid SCAN_POLICY file stops start-up with a message naming the problem', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'policy-'));
  const file = path.join(dir, 'policy.json');
  fs.writeFileSync(file, JSON.stringify({ severity: { critical: 'explode', high: 'allow', warning: 'allow', info: 'allow' } }));
  try {
    const run = runWorker({ SCAN_POLICY: file });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(file);
    expect(run.stderr).toMatch(/critical/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an invalid environment variable stops the worker before it connects anywhere', () => {
  const run = runWorker({ WORKER_CONCURRENCY: '0' });
  expect(run.status).toBe(1);
  expect(run.stderr).toMatch(/WORKER_CONCURRENCY/);
});
