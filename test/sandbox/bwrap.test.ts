/**
 * The bwrap engine against real bubblewrap (no mocks). Needs /usr/bin/bwrap and Debian's
 * /usr/bin/python3; runs independently of the integration suite's global setup.
 */
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LIMIT_DEFAULTS, type Language, type Limits } from '../../src/domain/evaluation';
import { BwrapEngine } from '../../src/sandbox/engines/bwrap';
import { SandboxInfrastructureError, type RunResult } from '../../src/sandbox/engine';
import { createEngine } from '../../src/sandbox';
import { createLanguageRegistry } from '../../src/sandbox/languages';
import { processesMentioning as processesWithMarker } from '../../src/sandbox/host/processes';

jest.setTimeout(30_000);

const engine = new BwrapEngine();
const FAST_LIMITS: Limits = { ...LIMIT_DEFAULTS, cpuTimeMs: 2000, wallTimeMs: 5000 };

function run(
  code: string,
  options: { language?: Language; limits?: Partial<Limits>; stdin?: Buffer; signal?: AbortSignal; onStageStart?: () => void } = {},
) {
  return engine.run({
    language: options.language ?? 'python',
    code: Buffer.from(code),
    stdin: options.stdin,
    limits: { ...FAST_LIMITS, ...options.limits },
    signal: options.signal,
    onStageStart: options.onStageStart,
  });
}

async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Python that replaces itself with a process whose command line carries `marker`. */
function execWithMarker(marker: string, body: string): string {
  return `import os\nos.execv('/usr/bin/python3', ['python3', '-c', ${JSON.stringify(body)}, ${JSON.stringify(marker)}])\n`;
}

function text(result: RunResult) {
  return { stdout: result.stdout.toString('utf8'), stderr: result.stderr.toString('utf8') };
}

describe('BwrapEngine: programs and their endings', () => {
  test('prints and exits 0', async () => {
    const result = await run('print(sum(range(10)))');
    expect(text(result)).toEqual({ stdout: '45\n', stderr: '' });
    expect(result).toMatchObject({ exitCode: 0, signal: null, limitHit: null, engine: 'bwrap', cancelled: false });
    expect(result.cpuTimeMs).toBeGreaterThan(0);
    expect(result.memoryKb).toBeGreaterThan(1000);
    expect(result.timeMs).toBeGreaterThan(0);
  });

  test('stdin round trip, binary and larger than a pipe buffer', async () => {
    const input = Buffer.concat([Buffer.from([0, 1, 2, 255, 10]), Buffer.alloc(300_000, 'ab')]);
    const result = await run('import sys\ndata = sys.stdin.buffer.read()\nsys.stdout.buffer.write(data[::-1])', {
      stdin: input,
      limits: { maxOutputBytes: 1024 * 1024 },
    });
    expect(result.exitCode).toBe(0);
    expect(result.stdout.equals(Buffer.from(input).reverse())).toBe(true);
  });

  test('a non-zero exit code is reported as such', async () => {
    const result = await run('import sys\nprint("bye")\nsys.exit(3)');
    expect(result).toMatchObject({ exitCode: 3, signal: null, limitHit: null });
    expect(text(result).stdout).toBe('bye\n');
  });

  test('exit(139) is an exit code, not a signal', async () => {
    const result = await run('import os\nos._exit(139)');
    expect(result).toMatchObject({ exitCode: 139, signal: null });
  });

  test('a syntax error is a normal result with Python’s message', async () => {
    const result = await run('print(1');
    expect(result.exitCode).not.toBe(0);
    expect(result.signal).toBeNull();
    expect(text(result).stderr).toContain('SyntaxError');
  });

  test('death by a signal is reported by name', async () => {
    const result = await run('import os\nos.kill(os.getpid(), 11)');
    expect(result).toMatchObject({ exitCode: null, signal: 'SIGSEGV', limitHit: null });
  });

  test('javascript runs with node', async () => {
    const result = await run('console.log(1+1)', { language: 'javascript' });
    expect(text(result)).toEqual({ stdout: '2\n', stderr: '' });
    expect(result.exitCode).toBe(0);
  });

  test('javascript with a node installed outside /usr (as with nvm) binds just that binary', async () => {
    const prefix = mkdtempSync(path.join(tmpdir(), 'crucible-node-'));
    try {
      mkdirSync(path.join(prefix, 'bin'));
      mkdirSync(path.join(prefix, 'etc'));
      writeFileSync(path.join(prefix, 'etc', 'npmrc'), '//registry.npmjs.org/:_authToken=secret\n');
      const nodePath = path.join(prefix, 'bin', 'node');
      copyFileSync(process.execPath, nodePath);
      chmodSync(nodePath, 0o755);
      const nvmLikeEngine = new BwrapEngine({ languages: createLanguageRegistry({ nodePath }) });
      const code = `const fs = require('fs');
console.log(process.execPath === ${JSON.stringify(nodePath)});
console.log(fs.readdirSync(${JSON.stringify(prefix)}).join(','));
console.log(fs.existsSync(${JSON.stringify(path.join(prefix, 'etc', 'npmrc'))}));`;
      const result = await nvmLikeEngine.run({ language: 'javascript', code: Buffer.from(code), limits: FAST_LIMITS });
      expect(text(result)).toEqual({ stdout: 'true\nbin\nfalse\n', stderr: '' });
    } finally {
      rmSync(prefix, { recursive: true, force: true });
    }
  });

  test('javascript out of heap is a memory limit', async () => {
    const result = await run('const a = []; for (;;) a.push(new Array(1e6).fill(1));', {
      language: 'javascript',
      limits: { memoryMb: 128 },
    });
    expect(result.limitHit).toBe('memory');
  });

  test('concurrent runs do not interfere', async () => {
    const results = await Promise.all([1, 2, 3, 4].map((n) => run(`print(${n} * 10)`)));
    expect(results.map((r) => text(r).stdout)).toEqual(['10\n', '20\n', '30\n', '40\n']);
  });

  test('check() runs a trivial program', async () => {
    const check = await engine.check();
    expect(check).toMatchObject({ ok: true, engine: 'bwrap', mode: 'cgroups' });
    expect(check.detail).toMatch(/^engine=bwrap; mode=cgroups .*; seccomp on; bwrap runs as host uid 65534; python ok in \d+ ms$/);
  });
});

describe('BwrapEngine: limits', () => {
  test('an infinite loop hits the CPU limit', async () => {
    const result = await run('while True: pass', { limits: { cpuTimeMs: 1000, wallTimeMs: 10_000 } });
    expect(result.limitHit).toBe('cpu_time');
    expect(result.exitCode).toBeNull();
    expect(result.cpuTimeMs).toBeGreaterThanOrEqual(1000);
    expect(result.timeMs).toBeLessThan(5000);
  });

  test('sleeping past the wall time is killed', async () => {
    const started = Date.now();
    const result = await run('import time\nprint("before", flush=True)\ntime.sleep(30)', { limits: { wallTimeMs: 1000 } });
    expect(result.limitHit).toBe('wall_time');
    expect(result.signal).toBe('SIGKILL');
    expect(text(result).stdout).toBe('before\n');
    expect(Date.now() - started).toBeLessThan(4000);
  });

  test('a memory bomb hits the memory limit', async () => {
    const result = await run('a = []\nwhile True:\n    a.append(bytearray(10**6))', { limits: { memoryMb: 64 } });
    expect(result.limitHit).toBe('memory');
    expect(result.exitCode).not.toBe(0);
  });

  test('10 MB of stdout is cut at the cap, keeping the first bytes', async () => {
    const cap = 64 * 1024;
    const result = await run('import sys\nsys.stdout.write("0123456789" * 1_000_000)', { limits: { maxOutputBytes: cap } });
    expect(result.limitHit).toBe('output');
    expect(result.stdoutTruncated).toBe(true);
    expect(result.stdout.length).toBe(cap);
    expect(result.stdout.toString()).toBe('0123456789'.repeat(cap / 10 + 1).slice(0, cap));
  });

  test('stderr has its own cap', async () => {
    const result = await run('import sys\nprint("ok")\nsys.stderr.write("e" * 100_000)', { limits: { maxOutputBytes: 1000 } });
    expect(result).toMatchObject({ limitHit: 'output', stderrTruncated: true, stdoutTruncated: false });
    expect(result.stderr.length).toBe(1000);
  });

  test('a fork bomb is contained and the machine stays usable', async () => {
    const marker = `forkbomb-${randomUUID()}`;
    const result = await run(
      execWithMarker(marker, 'import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass'),
      {
        limits: { maxProcesses: 32, cpuTimeMs: 2000, wallTimeMs: 4000 },
      },
    );
    expect(['cpu_time', 'wall_time']).toContain(result.limitHit);
    expect(processesWithMarker(marker)).toEqual([]);
    expect(text(await run('print("still fine")')).stdout).toBe('still fine\n');
  });

  test('the process limit makes fork fail', async () => {
    const code = [
      'import os, time',
      'children = 0',
      'try:',
      '    for _ in range(50):',
      '        if os.fork() == 0:',
      '            time.sleep(5)',
      '            os._exit(0)',
      '        children += 1',
      'except OSError as error:',
      '    print("fork failed after", children, error.errno)',
    ].join('\n');
    const result = await run(code, { limits: { maxProcesses: 8 } });
    expect(text(result).stdout).toMatch(/^fork failed after [5-8] 11\n$/); // EAGAIN
  });
});

describe('BwrapEngine: nothing outlives a run', () => {
  test('a double-forked setsid daemon ignoring SIGTERM is gone after the run', async () => {
    const marker = `daemon-${randomUUID()}`;
    const daemon = 'import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)';
    const code = [
      'import os',
      'if os.fork() == 0:',
      '    os.setsid()',
      '    if os.fork() == 0:',
      `        os.execv('/usr/bin/python3', ['python3', '-c', ${JSON.stringify(daemon)}, ${JSON.stringify(marker)}])`,
      '    os._exit(0)',
      'os.wait()',
      'print("parent done")',
    ].join('\n');
    const started = Date.now();
    const result = await run(code);
    expect(text(result).stdout).toBe('parent done\n');
    expect(result.limitHit).toBeNull();
    expect(Date.now() - started).toBeLessThan(3000); // the daemon did not keep the run alive
    expect(processesWithMarker(marker)).toEqual([]);
  });

  test('aborting a busy program returns promptly, cancelled, with no process left', async () => {
    const marker = `abort-${randomUUID()}`;
    const controller = new AbortController();
    const running = run(execWithMarker(marker, 'while True: pass'), {
      signal: controller.signal,
      limits: { cpuTimeMs: 20_000, wallTimeMs: 30_000 },
    });
    await waitUntil(() => processesWithMarker(marker).length > 0, 5000, 'the program to start');
    const abortedAt = Date.now();
    controller.abort();
    const result = await running;
    expect(Date.now() - abortedAt).toBeLessThan(2000);
    expect(result.cancelled).toBe(true);
    expect(result.limitHit).toBeNull();
    expect(processesWithMarker(marker)).toEqual([]);
  });

  test('an abort that lands while the sandbox is being set up still cancels the run', async () => {
    const marker = `abort-setup-${randomUUID()}`;
    const controller = new AbortController();
    const started = Date.now();
    // The stage-start callback runs after the cgroup and launch are prepared and before the
    // launcher is watched: an abort there once went unheard, and the loop ran to its wall limit.
    const result = await run(execWithMarker(marker, 'while True: pass'), {
      signal: controller.signal,
      onStageStart: () => controller.abort(),
      limits: { cpuTimeMs: 20_000, wallTimeMs: 30_000 },
    });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(result.cancelled).toBe(true);
    expect(processesWithMarker(marker)).toEqual([]);
  });

  test('an already aborted signal runs nothing', async () => {
    const controller = new AbortController();
    controller.abort();
    const result = await run('print(1)', { signal: controller.signal });
    expect(result).toMatchObject({ cancelled: true, stdout: Buffer.alloc(0) });
  });

  test('empty run cgroups of a dead worker are removed when an engine starts', async () => {
    const memoryGroup = /:memory:(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
    const parent = memoryGroup === undefined ? null : path.posix.join('/sys/fs/cgroup/memory', memoryGroup);
    if (parent === null || !existsSync(parent)) return; // no cgroup v1 memory controller here
    const deadPid = await new Promise<number>((resolve, reject) => {
      const child = spawn('/bin/true');
      child.once('error', reject);
      child.once('exit', () => resolve(child.pid as number));
    });
    const stale = path.posix.join(parent, `crucible-${deadPid}-1-stale`);
    try {
      mkdirSync(stale);
    } catch {
      return; // not allowed to create groups here: the engine runs without cgroups
    }
    const freshEngine = new BwrapEngine();
    expect((await freshEngine.run({ language: 'python', code: Buffer.from('pass'), limits: FAST_LIMITS })).exitCode).toBe(0);
    expect(existsSync(stale)).toBe(false);
  });

  test('no run cgroup is left behind', async () => {
    const ownGroups = readFileSync('/proc/self/cgroup', 'utf8');
    const memoryGroup = /:memory:(.*)$/m.exec(ownGroups)?.[1];
    if (memoryGroup === undefined) return; // no cgroup v1 memory controller on this host
    const entries = readdirSync(path.posix.join('/sys/fs/cgroup/memory', memoryGroup));
    expect(entries.filter((entry) => entry.startsWith(`crucible-${process.pid}-`))).toEqual([]);
  });
});

describe('BwrapEngine: isolation', () => {
  test('no network: local services are unreachable', async () => {
    const code = [
      'import socket',
      'for port in (5432, 7233):',
      '    s = socket.socket()',
      '    s.settimeout(2)',
      '    try:',
      '        s.connect(("127.0.0.1", port))',
      '        print(port, "connected")',
      '    except OSError as error:',
      '        print(port, "failed", type(error).__name__)',
      'try:',
      '    socket.create_connection(("1.1.1.1", 53), timeout=2)',
      '    print("internet connected")',
      'except OSError as error:',
      '    print("internet failed")',
      'print(sorted(name for _, name in socket.if_nameindex()))',
    ].join('\n');
    const { stdout } = text(await run(code));
    expect(stdout).toBe("5432 failed ConnectionRefusedError\n7233 failed ConnectionRefusedError\ninternet failed\n['lo']\n");
  });

  test("the service's environment is invisible", async () => {
    process.env.CRUCIBLE_TEST_SECRET = 's3cr3t';
    try {
      const code = [
        'import os',
        'print(sorted(os.environ))',
        'for pid in [p for p in os.listdir("/proc") if p.isdigit()]:',
        '    try:',
        '        print(pid, open(f"/proc/{pid}/environ", "rb").read())',
        '    except OSError as error:',
        '        print(pid, "unreadable", error.errno)',
      ].join('\n');
      const { stdout } = text(await run(code));
      expect(stdout).not.toContain('s3cr3t');
      expect(stdout).not.toContain('CRUCIBLE_TEST_SECRET');
      expect(stdout.split('\n')[0]).toBe("['HOME', 'LANG', 'PATH', 'PWD', 'TMPDIR']");
      expect(stdout).toMatch(/^1 unreadable 13$/m); // the init is not dumpable
    } finally {
      delete process.env.CRUCIBLE_TEST_SECRET;
    }
  });

  test("the service's files and secrets are invisible, and only the work dir is writable", async () => {
    const packageJson = path.resolve(__dirname, '../../package.json');
    const code = [
      'import os',
      'def attempt(label, action):',
      '    try:',
      '        action()',
      '        print(label, "ok")',
      '    except OSError as error:',
      '        print(label, "denied")',
      `attempt("repo", lambda: open(${JSON.stringify(packageJson)}).read())`,
      'attempt("shadow", lambda: open("/etc/shadow").read())',
      'attempt("write usr", lambda: open("/usr/x", "w"))',
      'attempt("write root", lambda: open("/x", "w"))',
      'attempt("write etc", lambda: open("/etc/x", "w"))',
      'attempt("write dev", lambda: open("/dev/x", "w"))',
      'attempt("write program", lambda: open("main.py", "w"))',
      'attempt("write work", lambda: open("/work/out.txt", "w").write("hi"))',
      'attempt("write tmp", lambda: open("/tmp/t.txt", "w").write("hi"))',
      'print("root", sorted(os.listdir("/")))',
      'print("etc", sorted(os.listdir("/etc")))',
      'print("work", sorted(os.listdir("/work")))',
      'print("uid", os.getuid(), os.getgid())',
    ].join('\n');
    const { stdout } = text(await run(code));
    const lines = stdout.split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        'repo denied',
        'shadow denied',
        'write usr denied',
        'write root denied',
        'write etc denied',
        'write dev denied',
        'write program denied',
        'write work ok',
        'write tmp ok',
        "etc ['alternatives', 'group', 'ld.so.cache', 'passwd']",
        "work ['main.py', 'out.txt']",
        'uid 65534 65534',
      ]),
    );
    // An interpreter installed outside /usr (node under ~/.nvm) is bound at its own path; only
    // that path may make /root or /home appear, and nothing else of them (see languages.test.ts).
    const interpreterRoots = Object.values(createLanguageRegistry()).flatMap((runtime) =>
      runtime.hostPaths.map((hostPath) => hostPath.split('/')[1]),
    );
    const root = lines.find((line) => line.startsWith('root '));
    for (const hidden of ['root', 'home', 'run', 'var', 'opt', 'srv', 'mnt', 'boot', 'sys']) {
      if (!interpreterRoots.includes(hidden)) expect(root).not.toContain(`'${hidden}'`);
    }
  });

  test('the sandbox has no capabilities and cannot create user namespaces', async () => {
    const code = [
      'import os',
      'status = open("/proc/self/status").read()',
      'print([line for line in status.splitlines() if line.startswith(("CapEff", "CapBnd", "NoNewPrivs"))])',
      'r = os.system("/usr/bin/unshare --user true 2>/dev/null")',
      'print("unshare", "failed" if r != 0 else "worked")',
    ].join('\n');
    const { stdout } = text(await run(code));
    expect(stdout).toContain("'CapEff:\\t0000000000000000'");
    expect(stdout).toContain("'CapBnd:\\t0000000000000000'");
    expect(stdout).toContain('unshare failed');
  });
});

describe('BwrapEngine: seccomp', () => {
  const onX64 = process.arch === 'x64' ? test : test.skip;
  onX64('kernel interfaces with a history of escapes fail with EPERM; ordinary calls work', async () => {
    const code = [
      'import ctypes',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'for name, number in [("ptrace", 101), ("bpf", 321), ("userfaultfd", 323), ("io_uring_setup", 425), ("keyctl", 250), ("getppid", 110)]:',
      '    ctypes.set_errno(0)',
      '    result = libc.syscall(number, 0, 0, 0, 0)',
      '    print(name, result, ctypes.get_errno())',
    ].join('\n');
    const { stdout } = text(await run(code));
    expect(stdout).toBe('ptrace -1 1\nbpf -1 1\nuserfaultfd -1 1\nio_uring_setup -1 1\nkeyctl -1 1\ngetppid 1 0\n');
  });
});

describe('BwrapEngine: without cgroups (rlimits only, as on a cgroup v2 host)', () => {
  const rlimitEngine = new BwrapEngine({ cgroups: 'off' });
  const runRlimited = (code: string, limits: Partial<Limits> = {}) =>
    rlimitEngine.run({ language: 'python', code: Buffer.from(code), limits: { ...FAST_LIMITS, ...limits } });

  test('runs programs', async () => {
    const result = await runRlimited('print(sum(range(10)))');
    expect(result).toMatchObject({ exitCode: 0, stdout: Buffer.from('45\n') });
  });

  test('memory is bounded by RLIMIT_AS', async () => {
    const result = await runRlimited('a = []\nwhile True:\n    a.append(bytearray(10**6))', { memoryMb: 64 });
    expect(result.limitHit).toBe('memory');
    expect(text(result).stderr).toContain('MemoryError');
  });

  test('CPU is bounded by RLIMIT_CPU', async () => {
    const result = await runRlimited('while True: pass', { cpuTimeMs: 1000, wallTimeMs: 10_000 });
    expect(result.limitHit).toBe('cpu_time');
    expect(result.signal).toBe('SIGXCPU');
  });
});

describe('engine construction and infrastructure errors', () => {
  test.each(['auto', 'off'] as const)('a missing bwrap is an infrastructure error (cgroups %s)', async (cgroups) => {
    const broken = new BwrapEngine({ bwrapPath: '/nonexistent/bwrap', cgroups });
    await expect(broken.run({ language: 'python', code: Buffer.from('print(1)'), limits: FAST_LIMITS })).rejects.toBeInstanceOf(
      SandboxInfrastructureError,
    );
  });

  test('check() reports a missing bwrap', async () => {
    const broken = new BwrapEngine({ bwrapPath: '/nonexistent/bwrap' });
    const check = await broken.check();
    expect(check.ok).toBe(false);
    expect(check.detail).toContain('/nonexistent/bwrap');
  });

  test('a missing interpreter is an infrastructure error, not a user failure', async () => {
    // Missing for the init (init.py) and for the program alike, whichever init the engine runs.
    const missing = '/usr/bin/no-such-python';
    const broken = new BwrapEngine({ initPythonPath: missing, languages: createLanguageRegistry({ pythonPath: missing }) });
    await expect(broken.run({ language: 'python', code: Buffer.from('print(1)'), limits: FAST_LIMITS })).rejects.toBeInstanceOf(
      SandboxInfrastructureError,
    );
  });

  test('limits that cannot be applied are a caller error, not an infrastructure error', async () => {
    const attempt = engine.run({ language: 'python', code: Buffer.from('print(1)'), limits: { ...FAST_LIMITS, memoryMb: 0 } });
    await expect(attempt).rejects.toBeInstanceOf(RangeError);
  });

  test('createEngine', () => {
    expect(createEngine({ engine: 'bwrap' }).name).toBe('bwrap');
    expect(() => createEngine({ engine: 'process' })).toThrow(/explicitly allowed/);
    expect(createEngine({ engine: 'gvisor' }).name).toBe('gvisor');
  });
});
