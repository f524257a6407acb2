/**
 * The attack suite: each attack against every engine available on this machine (real engines, no
 * mocks). Isolated engines (bwrap, gVisor) must stop every one; the `process` engine has no
 * isolation by design, so for the attacks that need isolation (network, files outside the work
 * dir, shared /tmp) the test asserts its documented behaviour instead, and for the rest (secrets
 * in the service's environment and /proc, resources, processes, host-side paths) it must hold too.
 *
 * The same attacks in C, C++, Go, Java and Bash are in language-attacks.test.ts.
 *
 * Every run ends with its documented verdict or a clean failure to do harm; afterwards nothing of
 * it is left (the run's cgroup is verified empty by the engine; marked processes are looked for
 * here), and the machine still runs programs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { computeVerdict } from '../../src/domain/verdict';
import { abortOnceStarted, describeEachEngine, execWithMarker, limiter, processesWithMarker, runner, text } from './engines';

const TIMEOUT = 90_000;
const REPO = path.resolve(__dirname, '../..');

/** A TCP listener standing in for a service of the host (Temporal's 7233 when it runs). */
let listener: Server;
let listenerPort = 0;
let listenerConnections = 0;
/** A stand-in for the worker: a process whose environment holds a secret. */
let decoyWorker: ChildProcess;
const ENV_SECRET = `env-secret-${randomUUID()}`;
const FILE_SECRET = `file-secret-${randomUUID()}`;
/** Host files an attack aims at: a secret (.env), a canary the host must never touch. */
let hostDir: string;
let dotEnv: string;
let canaryDir: string;
let canary: string;
const CANARY_TEXT = 'canary: the host never writes, chowns or deletes me\n';

beforeAll(async () => {
  listener = createServer((socket) => {
    listenerConnections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  listenerPort = (listener.address() as { port: number }).port;
  decoyWorker = spawn('/bin/sleep', ['300'], { env: { CRUCIBLE_WORKER_SECRET: ENV_SECRET }, stdio: 'ignore' });
  process.env.CRUCIBLE_TEST_SECRET = ENV_SECRET;

  hostDir = mkdtempSync(path.join(tmpdir(), 'crucible-attack-host-'));
  chmodSync(hostDir, 0o755);
  dotEnv = path.join(hostDir, '.env');
  writeFileSync(dotEnv, `DATABASE_URL=postgres://app:${FILE_SECRET}@127.0.0.1/app\n`, { mode: 0o600 });
  canaryDir = path.join(hostDir, 'canary');
  mkdirSync(canaryDir, { mode: 0o755 });
  canary = path.join(canaryDir, 'canary.txt');
  writeFileSync(canary, CANARY_TEXT, { mode: 0o644 });
});

afterAll(async () => {
  delete process.env.CRUCIBLE_TEST_SECRET;
  decoyWorker?.kill('SIGKILL');
  await new Promise<void>((resolve) => listener.close(() => resolve()));
  rmSync(hostDir, { recursive: true, force: true });
});

function canaryState(): string {
  const stats = statSync(canary);
  return JSON.stringify({
    text: readFileSync(canary, 'utf8'),
    uid: stats.uid,
    gid: stats.gid,
    mode: stats.mode,
    dir: readdirSync(canaryDir).sort(),
    dirMode: statSync(canaryDir).mode,
    passwd: createHash('sha256').update(readFileSync('/etc/passwd')).digest('hex'),
  });
}

describeEachEngine('attacks', (subject) => {
  const run = runner(subject, limiter(2));
  const it = (name: string, body: () => Promise<void>) => test.concurrent(name, body, TIMEOUT);

  afterAll(() => {
    // Nothing of this engine's runs may still be alive.
    expect(subject.leftovers()).toEqual([]);
  });

  describe('network', () => {
    const probe = () => String.raw`
import json, socket
results = {}
def tcp(name, host, port):
    s = socket.socket()
    s.settimeout(1.5)
    try:
        s.connect((host, port))
        results[name] = 'connected'
    except OSError as error:
        results[name] = type(error).__name__
    finally:
        s.close()
tcp('postgres', '127.0.0.1', 5432)
tcp('temporal', '127.0.0.1', 7233)
tcp('listener', '127.0.0.1', ${listenerPort})
tcp('metadata', '169.254.169.254', 80)
try:
    socket.getaddrinfo('example.com', 80)
    results['dns'] = 'resolved'
except OSError as error:
    results['dns'] = type(error).__name__
unix = socket.socket(socket.AF_UNIX)
try:
    unix.connect('/var/run/postgresql/.s.PGSQL.5432')
    results['pgsocket'] = 'connected'
except OSError as error:
    results['pgsocket'] = type(error).__name__
print(json.dumps(results))
`;

    it('python: PostgreSQL, Temporal, a host listener, cloud metadata, DNS and the PostgreSQL socket', async () => {
      const before = listenerConnections;
      const result = await run(probe(), { limits: { wallTimeMs: 10_000 } });
      expect(result).toMatchObject({ exitCode: 0, limitHit: null });
      const outcome = JSON.parse(text(result).stdout) as Record<string, string>;
      if (subject.isolated) {
        expect(outcome.postgres).not.toBe('connected');
        expect(outcome.temporal).not.toBe('connected');
        expect(outcome.listener).not.toBe('connected');
        expect(outcome.metadata).not.toBe('connected');
        expect(outcome.dns).not.toBe('resolved');
        expect(outcome.pgsocket).not.toBe('connected');
        expect(listenerConnections).toBe(before);
      } else {
        // Documented: the process engine has no network isolation at all.
        expect(outcome.listener).toBe('connected');
      }
    });

    it('javascript: a host listener and PostgreSQL', async () => {
      const code = `
const net = require('net');
const attempt = (options) => new Promise((resolve) => {
  const socket = net.connect(options);
  socket.setTimeout(1500, () => { socket.destroy(); resolve('timeout'); });
  socket.on('connect', () => { socket.destroy(); resolve('connected'); });
  socket.on('error', (error) => resolve(error.code));
});
(async () => {
  const out = {
    listener: await attempt({ host: '127.0.0.1', port: ${listenerPort} }),
    postgres: await attempt({ host: '127.0.0.1', port: 5432 }),
    pgsocket: await attempt({ path: '/var/run/postgresql/.s.PGSQL.5432' }),
  };
  console.log(JSON.stringify(out));
})();`;
      const result = await run(code, { language: 'javascript', limits: { wallTimeMs: 10_000 } });
      expect(result.exitCode).toBe(0);
      const outcome = JSON.parse(text(result).stdout) as Record<string, string>;
      if (subject.isolated) {
        expect(Object.values(outcome)).not.toContain('connected');
      } else {
        expect(outcome.listener).toBe('connected');
      }
    });
  });

  describe('secrets', () => {
    it("the service's environment, /proc/1/environ, the worker's /proc/<pid>/environ, .env, sources, /etc/shadow", async () => {
      const code = String.raw`
import json, os
out = {'env': sorted(os.environ)}
def read(name, path):
    try:
        with open(path, 'rb') as f:
            out[name] = f.read(1000000).decode('latin1')
    except OSError as error:
        out[name] = 'denied:' + type(error).__name__
read('init_environ', '/proc/1/environ')
read('self_parent_environ', '/proc/%d/environ' % os.getppid())
read('worker_environ', '/proc/${process.pid}/environ')
read('decoy_environ', '/proc/${decoyWorker.pid}/environ')
read('dotenv', ${JSON.stringify(dotEnv)})
read('source', ${JSON.stringify(path.join(REPO, 'src/sandbox/engine.ts'))})
read('package', ${JSON.stringify(path.join(REPO, 'package.json'))})
read('shadow', '/etc/shadow')
found = []
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
    try:
        with open('/proc/%s/environ' % pid, 'rb') as f:
            if b${JSON.stringify(ENV_SECRET)} in f.read():
                found.append(pid)
    except OSError:
        pass
out['environ_with_secret'] = found
print(json.dumps(out))
`;
      const result = await run(code);
      expect(result.exitCode).toBe(0);
      const { stdout } = text(result);
      // Never, in any engine: the service's environment, its processes' environments, shadow.
      expect(stdout).not.toContain(ENV_SECRET);
      expect(stdout).not.toContain('CRUCIBLE_TEST_SECRET');
      const out = JSON.parse(stdout) as Record<string, unknown>;
      expect(out.env).toEqual(expect.arrayContaining(['HOME', 'LANG', 'PATH']));
      expect((out.env as string[]).every((name) => ['HOME', 'LANG', 'PATH', 'PWD', 'TMPDIR'].includes(name))).toBe(true);
      expect(out.environ_with_secret).toEqual([]);
      expect(out.shadow).toMatch(/^denied:/);
      // The init's environment is the sandbox's own explicit one (gVisor lets it be read), or denied.
      if (!String(out.init_environ).startsWith('denied:')) {
        const names = String(out.init_environ)
          .split('\0')
          .filter(Boolean)
          .map((entry) => entry.split('=')[0]);
        expect(names.every((name) => ['HOME', 'LANG', 'PATH', 'TMPDIR'].includes(name))).toBe(true);
      }
      expect(out.worker_environ).toMatch(/^denied:/);
      expect(out.decoy_environ).toMatch(/^denied:/);
      expect(out.dotenv).toMatch(/^denied:/); // 0600, root's: not even the process engine reads it
      expect(stdout).not.toContain(FILE_SECRET);
      if (subject.isolated) {
        expect(out.source).toMatch(/^denied:FileNotFoundError/);
        expect(out.package).toMatch(/^denied:FileNotFoundError/);
      } else {
        // Documented: the process engine sees the host's world-readable files.
        expect(out.source).toContain('SandboxEngine');
      }
    });
  });

  describe('files', () => {
    it('writing outside the work dir', async () => {
      const escapeName = `crucible-escape-${randomUUID()}`;
      const targets = {
        hostTmp: path.join(tmpdir(), escapeName),
        hostDir: path.join(hostDir, escapeName),
        repo: path.join(REPO, escapeName),
        etc: `/etc/${escapeName}`,
        usr: `/usr/${escapeName}`,
        root: `/${escapeName}`,
      };
      const code = String.raw`
import json
targets = ${JSON.stringify(targets)}
out = {}
for name, target in targets.items():
    try:
        with open(target, 'w') as f:
            f.write('escaped')
        out[name] = 'written'
    except OSError as error:
        out[name] = type(error).__name__
print(json.dumps(out))
`;
      try {
        const result = await run(code);
        expect(result.exitCode).toBe(0);
        const out = JSON.parse(text(result).stdout) as Record<string, string>;
        for (const name of ['hostDir', 'repo', 'etc', 'usr', 'root'] as const) {
          expect([name, out[name]]).not.toEqual([name, 'written']);
          expect(existsSync(targets[name])).toBe(false);
        }
        if (subject.isolated) {
          // /tmp inside is the sandbox's own tmpfs: the host's /tmp is untouched.
          expect(existsSync(targets.hostTmp)).toBe(false);
        } else {
          // Documented: the process engine shares the host's world-writable /tmp.
          expect(out.hostTmp).toBe('written');
        }
      } finally {
        rmSync(targets.hostTmp, { force: true });
      }
    });

    it('symlinks and hard links planted in the work dir, swapped while the host cleans up, are never followed', async () => {
      const before = canaryState();
      const swapper = String.raw`
import os, time
os.setsid()
end = time.time() + 8
while time.time() < end:
    for target in (${JSON.stringify(canaryDir)}, '/'):
        try:
            os.rename('swap-link', 'swap')
        except OSError:
            pass
        try:
            os.makedirs('swap/inner', exist_ok=True)
            open('swap/inner/f', 'w').close()
        except OSError:
            pass
        try:
            os.symlink(target, 'swap-link')
        except OSError:
            pass
`;
      const code = String.raw`
import json, os
out = {}
def attempt(name, action):
    try:
        action()
        out[name] = 'ok'
    except OSError as error:
        out[name] = type(error).__name__
attempt('dir symlink', lambda: os.symlink(${JSON.stringify(canaryDir)}, 'dirlink'))
attempt('file symlink', lambda: os.symlink(${JSON.stringify(canary)}, 'filelink'))
attempt('root symlink', lambda: os.symlink('/', 'rootlink'))
attempt('hard link', lambda: os.link(${JSON.stringify(canary)}, 'hardlink'))
attempt('passwd hard link', lambda: os.link('/etc/passwd', 'passwdlink'))
os.makedirs('nested/deeper', exist_ok=True)
attempt('nested symlink', lambda: os.symlink(${JSON.stringify(canaryDir)}, 'nested/deeper/link'))
attempt('fifo', lambda: os.mkfifo('fifo'))
if os.fork() == 0:
    if os.fork() == 0:
        os.execv('/usr/bin/python3', ['python3', '-c', ${JSON.stringify(swapper)}])
    os._exit(0)
os.wait()
print(json.dumps(out))
`;
      const result = await run(code);
      expect(result.exitCode).toBe(0);
      expect(canaryState()).toBe(before);
      const out = JSON.parse(text(result).stdout) as Record<string, string>;
      // fs.protected_hardlinks: the unprivileged program cannot hard-link a file it does not own.
      if (!subject.isolated) expect(out['hard link']).not.toBe('ok');
    });

    it('leftovers are invisible to a later evaluation', async () => {
      const name = `leftover-${randomUUID()}`;
      const places = { work: name, tmp: `/tmp/${name}`, shm: `/dev/shm/${name}`, home: `~/${name}` };
      const write = String.raw`
import os
for place in ${JSON.stringify(Object.values(places))}:
    try:
        with open(os.path.expanduser(place), 'w') as f:
            f.write('left over')
    except OSError:
        pass
print('written')
`;
      const read = String.raw`
import json, os
places = ${JSON.stringify(places)}
print(json.dumps({k: os.path.exists(os.path.expanduser(v)) for k, v in places.items()}))
`;
      try {
        expect(text(await run(write)).stdout).toBe('written\n');
        const seen = JSON.parse(text(await run(read)).stdout) as Record<string, boolean>;
        expect(seen.work).toBe(false);
        expect(seen.home).toBe(false);
        if (subject.isolated) {
          expect(seen).toEqual({ work: false, tmp: false, shm: false, home: false });
        } else {
          // Documented: the process engine shares the host's /tmp and /dev/shm.
          expect(seen.tmp).toBe(true);
        }
      } finally {
        rmSync(`/tmp/${name}`, { force: true });
        rmSync(`/dev/shm/${name}`, { force: true });
      }
    });

    it('the program file cannot be changed, and the program cannot kill or trace its init', async () => {
      const code = String.raw`
import ctypes, json, os, signal
libc = ctypes.CDLL(None, use_errno=True)
out = {}
try:
    open('main.py', 'w')
    out['program'] = 'writable'
except OSError as error:
    out['program'] = type(error).__name__
init = os.getppid()
for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP):
    try:
        os.kill(init, sig)
        out[sig.name] = 'sent'
    except OSError as error:
        out[sig.name] = type(error).__name__
ctypes.set_errno(0)
out['ptrace'] = libc.ptrace(16, init, 0, 0)  # PTRACE_ATTACH
# The init's fds (its report channel among them) can perhaps be listed, never opened.
opened = []
try:
    names = os.listdir('/proc/%d/fd' % init)
except OSError:
    names = []
for name in names:
    for mode in (os.O_WRONLY, os.O_RDONLY):
        try:
            os.close(os.open('/proc/%d/fd/%s' % (init, name), mode))
            opened.append(name)
        except OSError:
            pass
out['fds'] = opened
print(json.dumps(out))
`;
      const result = await run(code);
      // The init survived whatever was tried, so the run has an exact report.
      expect(result).toMatchObject({ exitCode: 0, signal: null, limitHit: null });
      const out = JSON.parse(text(result).stdout) as Record<string, unknown>;
      expect(out.program).not.toBe('writable');
      expect(out.ptrace).toBe(-1);
      expect(out.fds).toEqual([]);
    });
  });

  describe('resources', () => {
    it('a fork bomb is contained; the machine still runs programs', async () => {
      const marker = `forkbomb-${randomUUID()}`;
      const result = await run(
        execWithMarker(marker, 'import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass'),
        { limits: { maxProcesses: 32, cpuTimeMs: 2000, wallTimeMs: 4000 } },
      );
      expect(['cpu_time', 'wall_time']).toContain(result.limitHit);
      expect(computeVerdict(result)).toBe('time_limit_exceeded');
      expect(processesWithMarker(marker)).toEqual([]);
      expect(text(await run('print("still fine")')).stdout).toBe('still fine\n');
    });

    it('a thread bomb fails cleanly at the process limit', async () => {
      const code = String.raw`
import threading, time
count = 0
try:
    while True:
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
        count += 1
except (RuntimeError, OSError) as error:
    print('stopped at', count)
`;
      const result = await run(code, { limits: { maxProcesses: 16 } });
      expect(result.limitHit).toBeNull();
      const count = Number(/stopped at (\d+)/.exec(text(result).stdout)?.[1]);
      expect(count).toBeGreaterThan(0);
      expect(count).toBeLessThanOrEqual(16);
    });

    test.concurrent.each([
      ['python', 'a = []\nwhile True:\n    a.append(bytearray(10**6))'],
      ['javascript', 'const a = []; for (;;) a.push(Buffer.alloc(1e6, 1));'],
    ] as const)(
      'a %s memory bomb is a memory limit',
      async (language, code) => {
        const result = await run(code, { language, limits: { memoryMb: 96 } });
        expect(result.limitHit).toBe('memory');
        expect(computeVerdict(result)).toBe('memory_limit_exceeded');
      },
      TIMEOUT,
    );

    it('filling the work dir and /tmp fails cleanly at their size', async () => {
      // The process engine has no size-bounded work dir: one file stops at RLIMIT_FSIZE.
      const files = subject.isolated ? 40 : 1;
      const code = String.raw`
import errno, os
written = 0
chunk = b'x' * (1 << 20)
try:
    for index in range(${files}):
        for place in ('.', '/tmp') if ${files} > 1 else ('.',):
            with open('%s/fill-%d' % (place, index), 'wb') as f:
                for _ in range(100):
                    f.write(chunk)
                    written += 1
    print('no limit', written)
except OSError as error:
    print(errno.errorcode[error.errno], written)
`;
      const result = await run(code, { limits: { memoryMb: 512 } });
      expect(result.limitHit).toBeNull();
      const [code_, megabytes] = text(result).stdout.trim().split(' ');
      expect(['ENOSPC', 'EFBIG']).toContain(code_);
      expect(Number(megabytes)).toBeLessThanOrEqual(subject.isolated ? 130 : 65);
    });

    it('filling /dev/shm fails cleanly at its size', async () => {
      if (!subject.isolated) {
        // Documented: the process engine's /dev/shm is the host's; only the memory limit bounds it.
        return;
      }
      const code = String.raw`
import errno
written = 0
try:
    with open('/dev/shm/fill', 'wb') as f:
        for _ in range(1024):
            f.write(b'x' * (1 << 20))
            written += 1
    print('no limit', written)
except OSError as error:
    print(errno.errorcode[error.errno], written)
`;
      const result = await run(code);
      const [code_, megabytes] = text(result).stdout.trim().split(' ');
      expect(code_).toBe('ENOSPC');
      expect(Number(megabytes)).toBeLessThanOrEqual(16);
    });

    test.concurrent.each([
      ['python', 'import sys\nchunk = b"x" * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.buffer.write(chunk)'],
      ['javascript', 'const chunk = Buffer.alloc(1 << 20, 120);\nfor (let i = 0; i < 1024; i++) process.stdout.write(chunk);'],
    ] as const)(
      '1 GB of %s stdout is cut at the cap and killed; the worker does not hold it',
      async (language, code) => {
        const cap = 1024 * 1024;
        const rssBefore = process.memoryUsage().rss;
        const started = Date.now();
        const result = await run(code, { language, limits: { maxOutputBytes: cap, wallTimeMs: 20_000, cpuTimeMs: 20_000 } });
        expect(result).toMatchObject({ limitHit: 'output', stdoutTruncated: true, stderrTruncated: false });
        expect(result.stdout.length).toBe(cap);
        expect(result.stdout.every((byte) => byte === 0x78)).toBe(true);
        expect(computeVerdict(result)).toBe('output_limit_exceeded');
        expect(Date.now() - started).toBeLessThan(10_000);
        expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * 1024 * 1024);
      },
      TIMEOUT,
    );

    it('an infinite loop is a CPU time limit, with the output it printed first', async () => {
      const result = await run('print("started", flush=True)\nwhile True: pass', { limits: { cpuTimeMs: 1000, wallTimeMs: 10_000 } });
      expect(result.limitHit).toBe('cpu_time');
      expect(result.cpuTimeMs).toBeGreaterThanOrEqual(1000);
      expect(text(result).stdout).toBe('started\n');
      expect(computeVerdict(result)).toBe('time_limit_exceeded');
    });

    it('sleeping past the wall time is a wall time limit, with the partial output', async () => {
      const result = await run('import time\nprint("before", flush=True)\ntime.sleep(60)', { limits: { wallTimeMs: 1000 } });
      expect(result).toMatchObject({ limitHit: 'wall_time', signal: 'SIGKILL', exitCode: null });
      expect(text(result).stdout).toBe('before\n');
      expect(result.timeMs).toBeLessThan(3000);
      expect(computeVerdict(result)).toBe('time_limit_exceeded');
    });

    it('a process that ignores SIGTERM is killed at the wall time', async () => {
      const marker = `noterm-${randomUUID()}`;
      const result = await run(
        execWithMarker(
          marker,
          'import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint("ignoring", flush=True)\nwhile True: time.sleep(1)',
        ),
        { limits: { wallTimeMs: 1000 } },
      );
      expect(result).toMatchObject({ limitHit: 'wall_time', signal: 'SIGKILL' });
      expect(text(result).stdout).toBe('ignoring\n');
      expect(processesWithMarker(marker)).toEqual([]);
    });

    it('a daemonized child (double fork, setsid, ignoring SIGTERM) neither keeps the run alive nor outlives it', async () => {
      const marker = `daemon-${randomUUID()}`;
      const daemon =
        'import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nsignal.signal(signal.SIGHUP, signal.SIG_IGN)\ntime.sleep(120)';
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
      expect(result).toMatchObject({ exitCode: 0, limitHit: null });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(processesWithMarker(marker)).toEqual([]);
    });

    it('10,000 open files fail cleanly at the open-file limit', async () => {
      const code = String.raw`
import errno
files = []
try:
    for _ in range(10000):
        files.append(open('/dev/null'))
    print('opened all', len(files))
except OSError as error:
    print(errno.errorcode[error.errno], len(files))
`;
      const result = await run(code);
      expect(result).toMatchObject({ exitCode: 0, limitHit: null });
      const [code_, count] = text(result).stdout.trim().split(' ');
      expect(code_).toBe('EMFILE');
      expect(Number(count)).toBeLessThan(1024);
    });

    it('cancellation reaches a busy program within 2 s and leaves nothing behind', async () => {
      const marker = `cancel-${randomUUID()}`;
      const { result, stopMs } = await abortOnceStarted((hooks) =>
        run(execWithMarker(marker, 'while True: pass'), { ...hooks, limits: { cpuTimeMs: 30_000, wallTimeMs: 60_000 } }),
      );
      expect(stopMs).toBeLessThan(2000);
      expect(result).toMatchObject({ cancelled: true, limitHit: null });
      expect(processesWithMarker(marker)).toEqual([]);
    });
  });
});

test('the attack files exist only where the tests put them', () => {
  // A guard on the suite itself: nothing it aimed at the repository was created there.
  expect(readdirSync(REPO).filter((entry) => entry.startsWith('crucible-escape-'))).toEqual([]);
  expect(lstatSync(REPO).isDirectory()).toBe(true);
});
