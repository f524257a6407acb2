/**
 * The warm Python scanner (a fork server, one fresh child per scan) against the real interpreter:
 * it reports exactly what a new interpreter per scan reports, each scan runs in its own process
 * that is gone afterwards, deadlines and a dying server turn into the same typed errors, and a
 * lost server is replaced on the next scan.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { closePythonScanServers, scanCode, ScanError } from '../../src/scanner';
import { ForkServerPool } from '../../src/scanner/python-fork-server';
import { PYTHON_SCANNER_SCRIPT } from '../../src/scanner/python-scanner';
import { DEFAULT_PYTHON_PATH } from '../../src/sandbox/languages';
import { hostProcessesWhere } from '../../src/sandbox/host/processes';

const CORPUS = path.join(__dirname, '../fixtures/scanner/python');
const serve = ['-I', '-S', '-B', PYTHON_SCANNER_SCRIPT, '--serve', '--cpu-seconds', '5', '--memory-mb', '512'];
/** About a second of parsing (under the scanner's 1 MiB backstop): long enough to be caught in flight. */
const SLOW_INPUT = Buffer.from('import os\nos.system(1)\n'.repeat(40_000));
const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const scanError = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a ScanError');
    },
    (error: unknown) => {
      if (!(error instanceof ScanError)) throw error;
      return error;
    },
  );

afterAll(() => closePythonScanServers());

test('reports exactly what a new interpreter per scan reports, for every program of the corpus', async () => {
  const files = ['benign', 'malicious'].flatMap((folder) =>
    readdirSync(path.join(CORPUS, folder)).map((name) => path.join(CORPUS, folder, name)),
  );
  expect(files.length).toBeGreaterThan(20);
  for (const file of files) {
    const code = readFileSync(file);
    const [warm, oneShot] = await Promise.all([scanCode('python', code), scanCode('python', code, { oneShot: true })]);
    expect({ file, report: warm }).toEqual({ file, report: oneShot });
  }
});

describe('the fork server', () => {
  let pool: ForkServerPool;
  beforeEach(() => (pool = new ForkServerPool(DEFAULT_PYTHON_PATH, serve)));
  afterEach(() => pool.close());

  test('runs every scan in a fresh process that is gone once the scan is answered', async () => {
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await pool.run(Buffer.from(`x = ${i}\n`), 10_000));
    const pids = results.map((r) => r.pid!);
    expect(new Set(pids).size).toBe(5);
    expect(pids.filter(isAlive)).toEqual([]);
    for (const r of results) expect(JSON.parse(r.stdout)).toEqual({ findings: [], syntaxError: null });
  });

  test('kills a scan at its deadline and keeps serving', async () => {
    const timedOut = await pool.run(SLOW_INPUT, 200);
    expect(timedOut).toMatchObject({ timedOut: true, pid: expect.any(Number) });
    expect(isAlive(timedOut.pid!)).toBe(false);
    const next = await pool.run(Buffer.from('print(1)\n'), 10_000);
    expect(JSON.parse(next.stdout)).toEqual({ findings: [], syntaxError: null });
  });

  test('a server killed during a scan fails that scan retryably, and the next scan gets a new server', async () => {
    const servers = () => hostProcessesWhere((cmdline) => cmdline.includes('--serve') && cmdline.includes(PYTHON_SCANNER_SCRIPT));
    const before = new Set(servers());
    const pending = pool.run(SLOW_INPUT, 10_000);
    await pool.run(Buffer.from('pass\n'), 10_000); // a second server answers meanwhile: the first is busy
    const mine = servers().filter((pid) => !before.has(pid));
    expect(mine.length).toBeGreaterThanOrEqual(1);
    for (const pid of mine) process.kill(pid, 'SIGKILL');
    const outcome = await pending.then(
      (result) => ({ finished: result.exitCode === 0 }),
      (error: ScanError) => ({ code: error.code, retryable: error.retryable }),
    );
    // Either the kill came after the scan was answered, or the scan failed as a retryable error.
    expect([{ finished: true }, { code: 'scanner_failed', retryable: true }]).toContainEqual(outcome);
    const next = await pool.run(Buffer.from('print(2)\n'), 10_000);
    expect(JSON.parse(next.stdout)).toEqual({ findings: [], syntaxError: null });
  });
});

describe('a fork server that misbehaves', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'fake-scan-server-'));
    const fakes = {
      mute: 'exec sleep 30',
      dying: 'head -c 1 >/dev/null; echo "boom" >&2; exit 3',
      // Its last words reach stderr after it has exited (a child of its still holds the pipe).
      dyingLate: 'head -c 1 >/dev/null; (sleep 0.05; echo "late boom" >&2) & exit 3',
    };
    for (const [name, body] of Object.entries(fakes)) {
      writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`);
      chmodSync(path.join(dir, name), 0o755);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const scanWith = (name: string, timeoutMs = 10_000) =>
    scanCode('python', Buffer.from('print(1)\n'), { pythonPath: path.join(dir, name), timeoutMs });

  test('one that never answers is killed at the deadline: scan_timeout', async () => {
    const started = Date.now();
    const error = await scanError(scanWith('mute', 300));
    expect({ code: error.code, retryable: error.retryable }).toEqual({ code: 'scan_timeout', retryable: true });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  test('one that dies fails the scan as a retryable scanner_failed with its stderr', async () => {
    const error = await scanError(scanWith('dying'));
    expect({ code: error.code, retryable: error.retryable }).toEqual({ code: 'scanner_failed', retryable: true });
    expect(error.message).toMatch(/status 3.*boom/s);
  });

  test('what it writes to stderr as it dies is in the error, even when it arrives after the exit', async () => {
    const error = await scanError(scanWith('dyingLate'));
    expect({ code: error.code, retryable: error.retryable }).toEqual({ code: 'scanner_failed', retryable: true });
    expect(error.message).toMatch(/status 3.*late boom/s);
  });

  test('a missing interpreter is scanner_unavailable', async () => {
    const error = await scanError(scanWith('no-such-python'));
    expect(error.code).toBe('scanner_unavailable');
  });
});
