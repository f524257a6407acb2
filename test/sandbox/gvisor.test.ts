/**
 * What is particular to the gVisor engine (the attacks and verdicts are in attacks.test.ts and
 * correctness.test.ts, for every engine): the OCI bundle it writes, `runsc run` rather than
 * `runsc do`, and that neither runsc's processes nor its files outlive a run, however it ends.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LIMIT_DEFAULTS, type Limits } from '../../src/domain/evaluation';
import { createEngine } from '../../src/sandbox';
import { SandboxInfrastructureError } from '../../src/sandbox/engine';
import { GvisorEngine } from '../../src/sandbox/engines/gvisor';
import { enginesUnderTest, processesWithMarker, text, waitUntil } from './engines';

const skipReason = enginesUnderTest().find((subject) => subject.name === 'gvisor')?.skipReason ?? null;
const describeGvisor = skipReason === null ? describe : describe.skip;
if (skipReason !== null) test.skip(`gvisor engine tests skipped: ${skipReason}`, () => {});

const LIMITS: Limits = { ...LIMIT_DEFAULTS, cpuTimeMs: 2000, wallTimeMs: 5000 };

describeGvisor('GvisorEngine', () => {
  let runs: string;
  let engine: GvisorEngine;

  beforeAll(() => {
    runs = mkdtempSync(path.join(tmpdir(), 'crucible-test-gvisor-'));
    engine = new GvisorEngine({ runDirParent: runs });
  });

  afterAll(() => rmSync(runs, { recursive: true, force: true }));

  /** Nothing of any run is left: no runsc process mentions the runs' dir, and the dir is empty. */
  function expectNothingLeft(): void {
    expect(processesWithMarker(runs)).toEqual([]);
    expect(readdirSync(runs)).toEqual([]);
  }

  test('createEngine returns it for EVAL_ENGINE=gvisor', () => {
    expect(createEngine({ engine: 'gvisor' }).name).toBe('gvisor');
  });

  test('check() names the engine, its mode and platform, and runs a program', async () => {
    const check = await engine.check();
    expect(check).toMatchObject({ ok: true, engine: 'gvisor', mode: 'cgroups' });
    expect(check.detail).toMatch(/^engine=gvisor; mode=cgroups .*; platform=ptrace; network=none; python ok in \d+ ms$/);
    expectNothingLeft();
  });

  test('check() reports a missing runsc, and a run is an infrastructure error', async () => {
    const broken = new GvisorEngine({ runscPath: '/nonexistent/runsc', runDirParent: runs });
    const check = await broken.check();
    expect(check.ok).toBe(false);
    expect(check.detail).toMatch(/^engine=gvisor; .*problem: \/nonexistent\/runsc is not executable/);
    await expect(broken.run({ language: 'python', code: Buffer.from('print(1)'), limits: LIMITS })).rejects.toBeInstanceOf(
      SandboxInfrastructureError,
    );
    expectNothingLeft();
  });

  test('the program runs on gVisor’s kernel, as 65534 without capabilities, seeing only the spec’s mounts', async () => {
    const code = [
      'import json, os, platform',
      'status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)',
      'print(json.dumps({',
      '  "release": platform.release(),',
      '  "uid": [os.getuid(), os.geteuid(), os.getgid()],',
      '  "caps": [status["CapPrm"], status["CapEff"], status["CapBnd"]],',
      '  "root": sorted(os.listdir("/")),',
      '  "etc": sorted(os.listdir("/etc")),',
      '  "work": sorted(os.listdir(".")),',
      '  "cwd": os.getcwd(),',
      '  "env": sorted(os.environ),',
      '  "interfaces": sorted(name for _, name in __import__("socket").if_nameindex()),',
      '}))',
    ].join('\n');
    const result = await engine.run({ language: 'python', code: Buffer.from(code), limits: LIMITS });
    expect(result.exitCode).toBe(0);
    const seen = JSON.parse(text(result).stdout) as Record<string, unknown>;
    expect(seen.release).not.toBe(readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()); // not the host's kernel
    expect(seen.uid).toEqual([65534, 65534, 65534]);
    expect(seen.caps).toEqual(['0000000000000000', '0000000000000000', '0000000000000000']);
    expect(seen.etc).toEqual(expect.arrayContaining(['group', 'passwd']));
    for (const hidden of ['root', 'home', 'var', 'run', 'opt', 'srv', 'mnt', 'boot', 'work2']) {
      expect(seen.root).not.toContain(hidden);
    }
    expect(seen.work).toEqual(['main.py']);
    expect(seen.cwd).toBe('/work');
    expect(seen.env).toEqual(['HOME', 'LANG', 'PATH', 'TMPDIR']);
    expect(seen.interfaces).toEqual(['lo']);
    expectNothingLeft();
  });

  test('each run gets its own OCI bundle for `runsc run --bundle` (never `runsc do`), with --network=none', async () => {
    let bundle: Record<string, any> | null = null;
    let runscCommand = '';
    const result = await engine.run({
      language: 'javascript',
      code: Buffer.from('console.log("bundled")'),
      limits: LIMITS,
      onProgramStart: () => {
        const [runDir] = readdirSync(runs);
        bundle = JSON.parse(readFileSync(path.join(runs, runDir, 'bundle', 'config.json'), 'utf8'));
        const launcher = processesWithMarker(path.join(runs, runDir)).find((pid) =>
          readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('run'),
        );
        runscCommand = launcher === undefined ? '' : readFileSync(`/proc/${launcher}/cmdline`, 'utf8').split('\0').join(' ');
      },
    });
    expect(text(result).stdout).toBe('bundled\n');
    expect(runscCommand).toMatch(
      /\/usr\/bin\/runsc --root \S+ --network=none --platform=ptrace --ignore-cgroups --oci-seccomp run --bundle \S+ crucible-/,
    );
    expect(runscCommand).not.toMatch(/ do /);
    const spec = bundle as unknown as Record<string, any>;
    expect(spec.root).toEqual({ path: 'rootfs', readonly: true });
    expect(spec.process.env).toEqual(['PATH=/usr/local/bin:/usr/bin:/bin', 'HOME=/work', 'TMPDIR=/tmp', 'LANG=C.UTF-8']);
    expect(spec.process.noNewPrivileges).toBe(true);
    expect(spec.process.rlimits).toEqual(
      expect.arrayContaining([
        { type: 'RLIMIT_NOFILE', soft: 512, hard: 512 },
        { type: 'RLIMIT_CORE', soft: 0, hard: 0 },
      ]),
    );
    expect(spec.process.capabilities.bounding).toEqual(['CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_KILL']);
    expect(spec.process.args).toEqual(expect.arrayContaining(['--user=65534:65534', '--report=framed:1']));
    const mounts = spec.mounts as Array<{ destination: string; type: string; options?: string[] }>;
    for (const mount of mounts.filter((m) => m.type === 'bind')) expect(mount.options).toContain('ro');
    const tmpfsSizes = Object.fromEntries(
      mounts.filter((m) => m.type === 'tmpfs').map((m) => [m.destination, m.options?.find((o) => o.startsWith('size='))]),
    );
    expect(tmpfsSizes).toEqual({ '/tmp': 'size=65536k', '/dev/shm': 'size=16384k', '/work': 'size=65536k' });
    expect(spec.linux.namespaces.map((n: { type: string }) => n.type).sort()).toEqual(['ipc', 'mount', 'network', 'pid', 'uts']);
    expectNothingLeft();
  });

  test.each([
    ['a normal end', 'print("done")', {}, null],
    ['the wall time', 'import time\ntime.sleep(60)', { wallTimeMs: 500 }, 'wall_time'],
    ['the CPU time', 'while True: pass', { cpuTimeMs: 500 }, 'cpu_time'],
    ['the output cap', 'while True: print("x" * 1000)', { maxOutputBytes: 10_000 }, 'output'],
    ['the memory limit', 'a = []\nwhile True: a.append(bytearray(10**6))', { memoryMb: 64 }, 'memory'],
  ] as const)('after %s, runsc’s processes and files are gone', async (_name, code, limits, limitHit) => {
    const result = await engine.run({ language: 'python', code: Buffer.from(code), limits: { ...LIMITS, ...limits } });
    expect(result.limitHit).toBe(limitHit);
    expectNothingLeft();
  });

  test('a cancelled run is stopped through runsc within 2 s and leaves nothing', async () => {
    const controller = new AbortController();
    let started = false;
    const running = engine.run({
      language: 'python',
      code: Buffer.from('while True: pass'),
      limits: { ...LIMITS, cpuTimeMs: 60_000, wallTimeMs: 60_000 },
      signal: controller.signal,
      onProgramStart: () => {
        started = true;
      },
    });
    await waitUntil(() => started, 30_000, 'the program to start');
    const abortedAt = Date.now();
    controller.abort();
    const result = await running;
    expect(Date.now() - abortedAt).toBeLessThan(2000);
    expect(result.cancelled).toBe(true);
    expectNothingLeft();
  });

  test('a sandbox that does not start in time is an infrastructure error, and is cleaned up', async () => {
    const slow = new GvisorEngine({ runDirParent: runs, startupTimeoutMs: 1 });
    await expect(slow.run({ language: 'python', code: Buffer.from('print(1)'), limits: LIMITS })).rejects.toThrow(
      /did not start the program within 1 ms/,
    );
    expectNothingLeft();
  });
});
