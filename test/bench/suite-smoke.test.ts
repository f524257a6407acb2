/**
 * The benchmark suite keeps working: a run with a few evaluations per phase (not timed, so any
 * machine passes) starts the service against the test run's Temporal server and PostgreSQL,
 * prints every phase's rows and finds nothing lost or duplicated.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { temporalAddress, uniqueQueue } from '../support/harness';

const root = path.resolve(__dirname, '../..');

test('npm run bench with tiny sizes prints every phase and loses nothing', async () => {
  const args = [
    ...['--import', 'tsx', path.join(root, 'bench/e2e-latency.ts')],
    ...['--temporal-address', temporalAddress(), '--task-queue', uniqueQueue('bench')],
    ...['--sequential', '2', '--history', '2', '--throughput', '4', '--concurrency', '2'],
    ...['--rate', '5', '--rate-seconds', '1', '--backlog', '6'],
  ];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));

  expect({ code, output }).toEqual({ code: 0, output: expect.any(String) });
  for (const measure of [
    'sequential (2): POST -> finished',
    'sequential (2): stage EVALUATION_QUEUED -> SCAN_COMPLETED',
    'sequential (2): history, activity execute: dispatch',
    'throughput (4, concurrency 2): evaluations finished per second',
    'POST under load (5/s for 1 s, 2 clients saturating): POST latency (autocannon)',
    'backlog (6 submitted at once): peak RSS of',
  ]) {
    expect(output).toContain(measure);
  }
  // The CPU accounting found each of the service's processes and the database's backends (the
  // Temporal server here is the test suite's, not the service's, so it is not among them).
  const cpu = output.split('\n').find((line) => line.includes('CPU per evaluation, by process'));
  for (const process of ['worker', 'sandbox host with its sandboxes', 'API', 'PostgreSQL', 'all'])
    expect(cpu).toMatch(new RegExp(`${process} [\\d.]+ ms`));
  const integrity = output.split('\n').filter((line) => line.includes('lost / duplicated'));
  expect(integrity).toHaveLength(4);
  for (const line of integrity) expect(line).toMatch(/\| 0 \/ 0 of \d+ +\| met: 0 \/ 0/);
  expect(output).toMatch(/npm run bench -- --only backlog .*--backlog 6/);
}, 60_000);
