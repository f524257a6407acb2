/**
 * The bundle benchmark keeps working: with a few cases (not timed, so any machine passes) it
 * starts the service against the test run's Temporal server and PostgreSQL and prints its rows.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { temporalAddress, uniqueQueue } from '../support/harness';

const root = path.resolve(__dirname, '../..');

test('npm run bench:bundle with 3 cases prints the bundle, the separate submissions and their ratio', async () => {
  const args = [
    ...['--import', 'tsx', path.join(root, 'bench/bundle.ts'), '--cases', '3', '--parallelism', '2'],
    ...['--temporal-address', temporalAddress(), '--task-queue', uniqueQueue('bench-bundle')],
  ];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));

  expect({ code, output }).toEqual({ code: 0, output: expect.any(String) });
  expect(output).toMatch(/\| 3 cases as one bundle \(parallelism 2\) +\| [\d.]+ s, [\d.]+ ms per case/);
  expect(output).toMatch(/\| 3 separate submissions \(2 at a time\) +\| [\d.]+ s, [\d.]+ ms per submission/);
  expect(output).toMatch(/\| per case: bundle \/ separate +\| [\d.]+x/);
  expect(output).toContain('npm run bench:bundle -- --cases 3 --parallelism 2 --language python');
}, 120_000);
