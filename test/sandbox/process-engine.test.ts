/**
 * The `process` engine (no isolation, rlimits only) against real processes.
 */
import { LIMIT_DEFAULTS, type Language, type Limits } from '../../src/domain/evaluation';
import { createEngine } from '../../src/sandbox';
import { ProcessEngine } from '../../src/sandbox/process-engine';

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

  test('a program that kills its init gets a result, not an infrastructure error', async () => {
    const result = await run('import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nimport time\ntime.sleep(1)');
    expect(result.signal).toBe('SIGKILL');
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
