/**
 * The attack suite in every language beyond Python and JavaScript (C, C++, Go, Java, Bash), with
 * the real toolchains, against every engine available here: network access, reading secrets (the
 * service's environment, other processes' /proc, files outside the work dir), a fork bomb, a
 * memory bomb and an output flood. Isolated engines (bwrap, gVisor) must stop each one; for the
 * `process` engine, which has no isolation by design, the test asserts its documented behaviour
 * where isolation is needed (network, world-readable files) and the same safety elsewhere.
 * (Apart from attacks.test.ts so that each file's sandboxes share the 2 cores as before.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { computeVerdict } from '../../src/domain/verdict';
import { describeEachEngine, limiter, runner, text } from './engines';
import { NEW_LANGUAGES, PROGRAMS, defaultLimitsOf } from './language-programs';

const REPO = path.resolve(__dirname, '../..');

/** A TCP listener standing in for a service of the host (Temporal's 7233 when it runs). */
let listener: Server;
let listenerPort = 0;
let listenerConnections = 0;
/** A stand-in for the worker: a process whose environment holds a secret. */
let decoyWorker: ChildProcess;
const ENV_SECRET = `env-secret-${randomUUID()}`;
const FILE_SECRET = `file-secret-${randomUUID()}`;
let hostDir: string;
let dotEnv: string;

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
});

afterAll(async () => {
  delete process.env.CRUCIBLE_TEST_SECRET;
  decoyWorker?.kill('SIGKILL');
  await new Promise<void>((resolve) => listener.close(() => resolve()));
  rmSync(hostDir, { recursive: true, force: true });
});

describeEachEngine('language attacks', (subject) => {
  const run = runner(subject, limiter(2));

  afterAll(() => {
    // Nothing of this engine's runs (compilers and programs) may still be alive.
    expect(subject.leftovers()).toEqual([]);
  });

  describe.each(NEW_LANGUAGES)('in %s', (language) => {
    const programs = PROGRAMS[language];
    const limits = defaultLimitsOf(language);
    const each = (name: string, body: () => Promise<void>) => test.concurrent(name, body, 180_000);

    each('network: PostgreSQL, Temporal, a host listener and cloud metadata are unreachable', async () => {
      const before = listenerConnections;
      const targets = ['127.0.0.1 5432', '127.0.0.1 7233', `127.0.0.1 ${listenerPort}`, '169.254.169.254 80'];
      const result = await run(programs.connect, {
        language,
        limits: { ...limits, wallTimeMs: 20_000 },
        stdin: Buffer.from(`${targets.join('\n')}\n`),
      });
      expect(result).toMatchObject({ exitCode: 0, limitHit: null });
      const lines = text(result).stdout.trim().split('\n');
      expect(lines).toHaveLength(targets.length);
      if (subject.isolated) {
        expect(lines.filter((line) => line.endsWith(' connected'))).toEqual([]);
        expect(listenerConnections).toBe(before);
      } else {
        // Documented: the process engine has no network isolation at all.
        expect(lines).toContain(`127.0.0.1:${listenerPort} connected`);
      }
    });

    each("secrets: the service's environment, other processes' /proc, files outside the work dir", async () => {
      const paths = [
        '/proc/1/environ',
        `/proc/${process.pid}/environ`,
        `/proc/${decoyWorker.pid}/environ`,
        dotEnv,
        path.join(REPO, 'package.json'),
        '/etc/shadow',
      ];
      const result = await run(programs.snoop, { language, limits, stdin: Buffer.from(`${paths.join('\n')}\n`) });
      expect(result).toMatchObject({ exitCode: 0, limitHit: null });
      const { stdout } = text(result);
      expect(stdout).not.toContain(ENV_SECRET);
      expect(stdout).not.toContain(FILE_SECRET);
      expect(stdout).not.toContain('CRUCIBLE_TEST_SECRET');
      const names = stdout
        .split('\n')
        .filter((line) => line.startsWith('env '))
        .map((line) => line.slice(4));
      // The sandbox's own environment, plus what the language's runtime is given (Go's GOMAXPROCS, GOMEMLIMIT).
      const allowed = ['HOME', 'LANG', 'PATH', 'PWD', 'TMPDIR', 'GOMAXPROCS', 'GOMEMLIMIT', 'SHLVL', '_', 'OLDPWD'];
      expect(names.filter((name) => !allowed.includes(name))).toEqual([]);
      const outcome = (file: string) =>
        stdout
          .split('\n')
          .find((line) => line.startsWith(`${file} `))
          ?.slice(file.length + 1) ?? 'missing';
      for (const file of [`/proc/${process.pid}/environ`, `/proc/${decoyWorker.pid}/environ`, dotEnv, '/etc/shadow']) {
        expect([file, outcome(file)]).toEqual([file, 'denied']);
      }
      if (subject.isolated) expect(outcome(path.join(REPO, 'package.json'))).toBe('denied');
    });

    each('a fork bomb is contained and leaves nothing behind', async () => {
      const result = await run(programs.forkBomb, { language, limits: { ...limits, maxProcesses: 32, cpuTimeMs: 3000, wallTimeMs: 6000 } });
      // Stopped by a time limit, or (bash) it gave up when fork failed: never a hang, never an escape.
      expect(result.limitHit === 'cpu_time' || result.limitHit === 'wall_time' || result.limitHit === null).toBe(true);
      expect(result.timeMs).toBeLessThan(15_000);
      // The engine verified the run's cgroup empty; this file's afterAll checks for gVisor leftovers
      // (not here: another test's sandbox may be running at this moment).
      expect(text(await run('print("still fine")')).stdout).toBe('still fine\n');
    });

    each('a memory bomb is a memory limit', async () => {
      const result = await run(programs.memoryBomb, {
        language,
        limits: { ...limits, memoryMb: 128, cpuTimeMs: 10_000, wallTimeMs: 20_000 },
      });
      expect(result.limitHit).toBe('memory');
      expect(computeVerdict(result)).toBe('memory_limit_exceeded');
    });

    each('1 GB of stdout is cut at the cap and killed', async () => {
      const cap = 1024 * 1024;
      const result = await run(programs.outputFlood, {
        language,
        limits: { ...limits, maxOutputBytes: cap, wallTimeMs: 20_000, cpuTimeMs: 20_000 },
      });
      expect(result).toMatchObject({ limitHit: 'output', stdoutTruncated: true });
      expect(result.stdout.length).toBe(cap);
      expect(result.stdout.every((byte) => byte === 0x78)).toBe(true);
      expect(computeVerdict(result)).toBe('output_limit_exceeded');
    });
  });
});
