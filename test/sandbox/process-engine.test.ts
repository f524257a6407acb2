/**
 * The `process` engine (no isolation, rlimits only) against real processes.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LIMIT_DEFAULTS, type Language, type Limits } from '../../src/domain/evaluation';
import { createEngine } from '../../src/sandbox';
import { ProcessEngine } from '../../src/sandbox/engines/process';
import { processesMentioning as processesWithMarker } from '../../src/sandbox/host/processes';

jest.setTimeout(30_000);

const engine = new ProcessEngine();
const FAST_LIMITS: Limits = { ...LIMIT_DEFAULTS, cpuTimeMs: 2000, wallTimeMs: 5000 };

function run(code: string, options: { language?: Language; limits?: Partial<Limits>; stdin?: Buffer } = {}) {
  return engine.run({
    language: options.language ?? 'python',
    code: Buffer.from(code),
    stdin: options.stdin,
    limits: { ...FAST_LIMITS, ...options.limits },
  });
}

describe('ProcessEngine', () => {
  test('is refused unless explicitly allowed', () => {
    expect(() => createEngine({ engine: 'process' })).toThrow(/explicitly allowed/);
    expect(createEngine({ engine: 'process', allowProcessEngine: true }).name).toBe('process');
  });

  test('runs python and javascript', async () => {
    const python = await run('import sys\nprint(sum(range(10)), sys.stdin.read())', { stdin: Buffer.from('in') });
    expect(python).toMatchObject({ exitCode: 0, signal: null, limitHit: null, engine: 'process' });
    expect(python.stdout.toString()).toBe('45 in\n');
    const javascript = await run('console.log(1+1)', { language: 'javascript' });
    expect(javascript.stdout.toString()).toBe('2\n');
  });

  test('exit codes, syntax errors and signals are results', async () => {
    expect(await run('import sys\nsys.exit(4)')).toMatchObject({ exitCode: 4, signal: null });
    const syntax = await run('print(1');
    expect(syntax.exitCode).not.toBe(0);
    expect(syntax.stderr.toString()).toContain('SyntaxError');
    expect(await run('import os\nos.kill(os.getpid(), 11)')).toMatchObject({ exitCode: null, signal: 'SIGSEGV' });
  });

  test('a program that tries to kill its init gets a result, not an infrastructure error', async () => {
    const result = await run(
      'import os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGKILL)\nexcept OSError as e:\n    print(e.errno)\nimport time\ntime.sleep(1)',
    );
    if (process.getuid?.() === 0) {
      // The init stays privileged while the program runs as 65534: EPERM, and an exact report.
      expect(result).toMatchObject({ exitCode: 0, signal: null, stdout: Buffer.from('1\n') });
    } else {
      expect(result.signal).toBe('SIGKILL');
    }
  });

  test('the environment is empty apart from the basics', async () => {
    process.env.CRUCIBLE_TEST_SECRET = 's3cr3t';
    try {
      const result = await run('import os\nprint(sorted(os.environ))');
      expect(result.stdout.toString()).toBe("['HOME', 'LANG', 'PATH', 'TMPDIR']\n");
    } finally {
      delete process.env.CRUCIBLE_TEST_SECRET;
    }
  });

  test('when the service is root, the program is not', async () => {
    const result = await run('import os\nprint(os.getuid(), os.getgid(), os.getgroups())');
    if (process.getuid?.() === 0) expect(result.stdout.toString()).toBe('65534 65534 []\n');
    else expect(result.stdout.toString()).toMatch(/^\d+ \d+/);
  });

  test('CPU, wall time, memory and output limits', async () => {
    const [cpu, wall, memory, output] = await Promise.all([
      run('while True: pass', { limits: { cpuTimeMs: 1000, wallTimeMs: 10_000 } }),
      run('import time\ntime.sleep(30)', { limits: { wallTimeMs: 1000 } }),
      run('a = []\nwhile True:\n    a.append(bytearray(10**6))', { limits: { memoryMb: 64 } }),
      run('import sys\nsys.stdout.write("x" * 10_000_000)', { limits: { maxOutputBytes: 1000 } }),
    ]);
    expect(cpu.limitHit).toBe('cpu_time');
    expect(wall.limitHit).toBe('wall_time');
    expect(memory.limitHit).toBe('memory');
    expect(output).toMatchObject({ limitHit: 'output', stdoutTruncated: true });
    expect(output.stdout.length).toBe(1000);
  });
});

describe('ProcessEngine without cgroups (rlimits, subreaper init, tree kill)', () => {
  const rlimited = new ProcessEngine({ cgroups: 'off' });
  const runRlimited = (code: string, limits: Partial<Limits> = {}) =>
    rlimited.run({ language: 'python', code: Buffer.from(code), limits: { ...FAST_LIMITS, ...limits } });

  const daemonCode = (marker: string, thenSleep: boolean) =>
    [
      'import os',
      'if os.fork() == 0:',
      '    os.setsid()',
      '    if os.fork() == 0:',
      `        os.execv('/usr/bin/python3', ['python3', '-c', 'import signal, time\\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\\ntime.sleep(120)', ${JSON.stringify(marker)}])`,
      '    os._exit(0)',
      'os.wait()',
      'print("parent done", flush=True)',
      ...(thenSleep ? ['import time', 'time.sleep(60)'] : []),
    ].join('\n');

  test('a setsid daemon is killed by the init when the program ends', async () => {
    const marker = `process-daemon-${randomUUID()}`;
    const result = await runRlimited(daemonCode(marker, false));
    expect(result).toMatchObject({ exitCode: 0, limitHit: null });
    expect(processesWithMarker(marker)).toEqual([]);
  });

  test('a setsid daemon is killed when the engine stops the run early (wall time)', async () => {
    const marker = `process-daemon-${randomUUID()}`;
    const result = await runRlimited(daemonCode(marker, true), { wallTimeMs: 1000 });
    expect(result).toMatchObject({ limitHit: 'wall_time', stdout: Buffer.from('parent done\n') });
    expect(processesWithMarker(marker)).toEqual([]);
  });

  test('memory (RLIMIT_AS) and CPU (RLIMIT_CPU)', async () => {
    const [memory, cpu] = await Promise.all([
      runRlimited('a = []\nwhile True:\n    a.append(bytearray(10**6))', { memoryMb: 64 }),
      runRlimited('while True: pass', { cpuTimeMs: 1000, wallTimeMs: 10_000 }),
    ]);
    expect(memory.limitHit).toBe('memory');
    expect(cpu).toMatchObject({ limitHit: 'cpu_time', signal: 'SIGXCPU' });
  });

  test('the work dir is removed, and links planted in it are not followed', async () => {
    const target = mkdtempSync(path.join(tmpdir(), 'crucible-target-'));
    writeFileSync(path.join(target, 'keep'), 'keep');
    try {
      const result = await runRlimited(
        `import os\nos.symlink(${JSON.stringify(target)}, 'link')\nos.makedirs('a/b')\nos.symlink('/', 'a/b/root')\nprint(os.getcwd())`,
      );
      const workDir = result.stdout.toString().trim();
      expect(workDir).toMatch(/crucible-run-/);
      expect(existsSync(path.dirname(workDir))).toBe(false);
      expect(readFileSync(path.join(target, 'keep'), 'utf8')).toBe('keep');
    } finally {
      rmSync(target, { recursive: true, force: true });
    }
  });
});
