/**
 * RemoteSandboxEngine (src/sandbox/remote/): the worker's engine served by a sandbox host process,
 * against real bubblewrap. Its results must be the direct engine's; its callbacks, cancellation
 * and errors must reach the caller as they do from the direct engine; a dead host must fail its
 * calls as infrastructure errors and be replaced; and the sandboxes must be spawned by the host.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Language, Limits } from '../../src/domain/evaluation';
import { SandboxInfrastructureError, type RunRequest, type RunResult, type StageName } from '../../src/sandbox/engine';
import { BwrapEngine } from '../../src/sandbox/engines/bwrap';
import { isAlive, killIfAlive } from '../../src/sandbox/host/processes';
import { RemoteSandboxEngine } from '../../src/sandbox/remote/remote-engine';
import { FAST_LIMITS, abortOnceStarted, enginesUnderTest, execWithMarker, processesWithMarker, text, waitUntil } from './engines';

jest.setTimeout(60_000);

const bwrap = enginesUnderTest().find((subject) => subject.name === 'bwrap')!;
const describeIfBwrap = bwrap.skipReason === null ? describe : describe.skip;
if (bwrap.skipReason !== null) test.skip(`skipped: ${bwrap.skipReason}`, () => {});

/** The parent pid of a host process, from /proc (null once it is gone). */
function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

function ancestorsOf(pid: number): number[] {
  const chain: number[] = [];
  for (let current = parentOf(pid); current !== null && current > 1; current = parentOf(current)) chain.push(current);
  return chain;
}

function request(code: string, options: { language?: Language; limits?: Partial<Limits>; stdin?: Buffer } = {}): RunRequest {
  return {
    language: options.language ?? 'python',
    code: Buffer.from(code),
    stdin: options.stdin,
    limits: { ...FAST_LIMITS, ...options.limits },
  };
}

/** What must not differ between the direct and the remote engine (times and memory vary run to run). */
function comparable(result: RunResult) {
  const { timeMs, cpuTimeMs, memoryKb, ...rest } = result;
  return { ...rest, measured: { timeMs: timeMs >= 0, cpuTimeMs: cpuTimeMs >= 0, memoryKb: memoryKb > 0 } };
}

describeIfBwrap('RemoteSandboxEngine (bwrap, through the sandbox host process)', () => {
  const direct = new BwrapEngine();
  const remote = new RemoteSandboxEngine({ engine: 'bwrap' });
  const markers: string[] = [];
  const marked = (body: string) => {
    const marker = `remote-engine-${randomUUID()}`;
    markers.push(marker);
    return { marker, code: execWithMarker(marker, body) };
  };

  afterEach(() => {
    for (const marker of markers.splice(0)) processesWithMarker(marker).forEach(killIfAlive);
  });
  afterAll(() => remote.close());

  test('starts a host process of its own, named like the engine, and its check() is the engine’s', async () => {
    await remote.start();
    expect(remote.name).toBe('bwrap');
    expect(remote.hostPid).toEqual(expect.any(Number));
    expect(remote.hostPid).not.toBe(process.pid);
    expect(parentOf(remote.hostPid!)).toBe(process.pid);
    const check = await remote.check();
    expect(check).toMatchObject({ ok: true, engine: 'bwrap' });
    expect(check.detail).toMatch(/^engine=bwrap; /);
  });

  test.each([
    ['prints and exits 0', request('print(sum(range(10)))')],
    ['a non-zero exit code', request('import sys\nprint("bye")\nsys.exit(3)')],
    [
      'binary stdin larger than a pipe buffer, reversed',
      request('import sys\nsys.stdout.buffer.write(sys.stdin.buffer.read()[::-1])', {
        stdin: Buffer.concat([Buffer.from([0, 1, 2, 255, 10]), Buffer.alloc(300_000, 'ab')]),
        limits: { maxOutputBytes: 1024 * 1024 },
      }),
    ],
    ['the output limit', request('while True: print("x" * 1000)', { limits: { maxOutputBytes: 10_000 } })],
    ['the wall-time limit', request('import time\ntime.sleep(10)', { limits: { wallTimeMs: 300 } })],
  ])('%s: the same result as the direct engine', async (_, runRequest) => {
    const [viaHost, inProcess] = [await remote.run(runRequest), await direct.run(runRequest)];
    expect(Buffer.isBuffer(viaHost.stdout) && Buffer.isBuffer(viaHost.stderr)).toBe(true);
    expect(comparable(viaHost)).toEqual(comparable(inProcess));
  });

  test('a limit the engine refuses is still a RangeError, with its message', async () => {
    const bad = request('print(1)', { limits: { cpuTimeMs: -1 } });
    const directError = await direct.run(bad).catch((error: unknown) => error as Error);
    const remoteError = await remote.run(bad).catch((error: unknown) => error as Error);
    expect(directError).toBeInstanceOf(RangeError);
    expect(remoteError).toBeInstanceOf(RangeError);
    expect((remoteError as Error).message).toBe((directError as Error).message);
  });

  test('onProgramStart and onStageStart reach the caller, before the result', async () => {
    const events: string[] = [];
    const result = await remote.run({
      ...request('print("hi")'),
      onProgramStart: () => events.push('program'),
      onStageStart: (stage: StageName) => events.push(`stage:${stage}`),
    });
    events.push('result');
    expect(text(result).stdout).toBe('hi\n');
    expect(events).toEqual(['stage:run', 'program', 'result']);
  });

  test('the sandbox is spawned by the host process, not by this one', async () => {
    const { marker, code } = marked('import time\ntime.sleep(30)');
    const controller = new AbortController();
    let started = false;
    const running = remote.run({
      ...request(code, { limits: { wallTimeMs: 60_000 } }),
      signal: controller.signal,
      onProgramStart: () => (started = true),
    });
    await waitUntil(() => started && processesWithMarker(marker).length > 0, 30_000, 'the program to start');
    const [program] = processesWithMarker(marker);
    const ancestors = ancestorsOf(program);
    expect(ancestors).toContain(remote.hostPid);
    // The host's child (the launcher, exec'd into setpriv then bwrap) is the sandbox's outermost process.
    const launcher = ancestors[ancestors.indexOf(remote.hostPid!) - 1];
    expect(parentOf(launcher)).toBe(remote.hostPid);
    controller.abort();
    expect(await running).toMatchObject({ cancelled: true });
  });

  test('an aborted infinite loop ends as cancelled within 2 s, and nothing is left', async () => {
    const { marker, code } = marked('while True: pass');
    const { result, stopMs } = await abortOnceStarted((hooks) =>
      remote.run({ ...request(code, { limits: { cpuTimeMs: 30_000, wallTimeMs: 60_000 } }), ...hooks }),
    );
    expect(stopMs).toBeLessThan(2000);
    expect(result).toMatchObject({ cancelled: true, limitHit: null });
    await waitUntil(() => processesWithMarker(marker).length === 0, 2000, 'the program to be gone');
  });

  test('a signal aborted before the call: cancelled, as from the direct engine', async () => {
    const controller = new AbortController();
    controller.abort();
    const viaHost = await remote.run({ ...request('print(1)'), signal: controller.signal });
    const inProcess = await direct.run({ ...request('print(1)'), signal: controller.signal });
    expect(viaHost).toMatchObject({ cancelled: true });
    expect(comparable(viaHost)).toEqual(comparable(inProcess));
  });

  (existsSync('/usr/bin/gcc') ? test : test.skip)('C: build() once, then run({ built }) twice', async () => {
    const stages: StageName[] = [];
    const outcome = await remote.build({
      language: 'c',
      code: Buffer.from(
        '#include <stdio.h>\nint main(void) { int n; if (scanf("%d", &n) != 1) return 2; printf("%d\\n", n * n); return 0; }\n',
      ),
      onStageStart: (stage) => stages.push(stage),
    });
    expect(stages).toEqual(['compile']);
    if (!outcome.ok) throw new Error(`the build failed: ${outcome.result.stderr.toString()}`);
    expect(outcome.program.compilation).toMatchObject({ ok: true });
    expect(outcome.program.files.length).toBeGreaterThan(0);
    for (const file of outcome.program.files) expect(Buffer.isBuffer(file.content)).toBe(true);
    for (const n of [7, 12]) {
      const result = await remote.run({ ...request('', { language: 'c', stdin: Buffer.from(`${n}\n`) }), built: outcome.program });
      expect(result).toMatchObject({ exitCode: 0, limitHit: null, engine: 'bwrap' });
      expect(text(result).stdout).toBe(`${n * n}\n`);
    }
  });

  test('a host killed mid-run: that run fails as SandboxInfrastructureError, its sandbox dies, the next run gets a new host', async () => {
    const { marker, code } = marked('import time\ntime.sleep(30)');
    let started = false;
    const running = remote.run({ ...request(code, { limits: { wallTimeMs: 60_000 } }), onProgramStart: () => (started = true) });
    const outcome = running.then(
      () => null,
      (error: unknown) => error,
    );
    await waitUntil(() => started, 30_000, 'the program to start');
    const killed = remote.hostPid!;
    process.kill(killed, 'SIGKILL');
    const error = await outcome;
    expect(error).toBeInstanceOf(SandboxInfrastructureError);
    expect((error as Error).message).toMatch(/^the sandbox host process \(pid \d+\) (exited \(SIGKILL\)|closed its channel)/);
    // bwrap dies with its parent (--die-with-parent), and the program with bwrap's PID namespace.
    await waitUntil(() => processesWithMarker(marker).length === 0, 5000, 'the orphaned sandbox to die');

    const next = await remote.run(request('print("again")'));
    expect(text(next).stdout).toBe('again\n');
    expect(remote.hostPid).not.toBe(killed);
    expect(isAlive(killed)).toBe(false);
  });

  test('a worker that dies (SIGKILL): its host aborts the run, the sandbox dies, the host exits', async () => {
    const { marker, code } = marked('while True: pass');
    // A worker of its own (this process must live on): it starts a run and says which host serves it.
    const script = `
      const { RemoteSandboxEngine } = require(${JSON.stringify(path.resolve(__dirname, '../../src/sandbox/remote/remote-engine.ts'))});
      const engine = new RemoteSandboxEngine({ engine: 'bwrap' });
      engine.run({
        language: 'python',
        code: Buffer.from(${JSON.stringify(code)}),
        limits: ${JSON.stringify({ ...FAST_LIMITS, cpuTimeMs: 30_000, wallTimeMs: 60_000 })},
        onProgramStart: () => console.log('host ' + engine.hostPid),
      });`;
    const worker = spawn(process.execPath, ['--import', pathToFileURL(require.resolve('tsx')).href, '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    worker.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await waitUntil(() => /host \d+\n/.test(output), 30_000, 'the other worker to start its run');
      const host = Number(/host (\d+)/.exec(output)![1]);
      expect(processesWithMarker(marker).length).toBeGreaterThan(0);
      worker.kill('SIGKILL');
      await waitUntil(() => processesWithMarker(marker).length === 0, 3000, 'the sandbox to be killed');
      await waitUntil(() => !isAlive(host), 5000, 'the host to exit');
    } finally {
      worker.kill('SIGKILL');
    }
  });

  test('close() stops the host; a call afterwards is refused as an infrastructure error', async () => {
    await remote.start();
    const pid = remote.hostPid!;
    await remote.close();
    expect(remote.hostPid).toBeUndefined();
    await waitUntil(() => parentOf(pid) !== process.pid, 2000, 'the host to be gone');
    await expect(remote.run(request('print(1)'))).rejects.toBeInstanceOf(SandboxInfrastructureError);
  });
});
