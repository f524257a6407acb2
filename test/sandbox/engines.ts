/**
 * Shared by the table-driven sandbox suites: every engine that can work on this machine, each
 * with a private place for its runs (so a test can tell its own leftovers from another's), and
 * helpers to look for processes that outlived a run.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LIMIT_DEFAULTS, type Language, type Limits } from '../../src/domain/evaluation';
import { BwrapEngine } from '../../src/sandbox/engines/bwrap';
import type { EngineName, RunResult, SandboxEngine } from '../../src/sandbox/engine';
import { GvisorEngine } from '../../src/sandbox/engines/gvisor';
import { ProcessEngine } from '../../src/sandbox/engines/process';
import { processesMentioning } from '../../src/sandbox/host/processes';

export const FAST_LIMITS: Limits = { ...LIMIT_DEFAULTS, cpuTimeMs: 2000, wallTimeMs: 5000 };

export interface EngineUnderTest {
  name: EngineName;
  /** Does the engine isolate the program from the host (files, network, processes)? */
  isolated: boolean;
  /** Why it cannot run on this machine; null when it can. */
  skipReason: string | null;
  engine: () => SandboxEngine;
  /** Host processes of this engine's runs still alive (gVisor: runsc's, by their private dir). */
  leftovers: () => number[];
  cleanup: () => void;
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function executable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function bwrapSkipReason(): string | null {
  if (!executable('/usr/bin/bwrap')) return 'bwrap engine: /usr/bin/bwrap is not installed (apt-get install bubblewrap)';
  try {
    execFileSync('/usr/bin/bwrap', ['--unshare-all', '--ro-bind', '/', '/', '--', '/bin/true'], { stdio: 'pipe', env: {} });
  } catch (error) {
    return `bwrap engine: this machine does not allow the namespaces bwrap needs (${(error as Error).message.split('\n')[0]})`;
  }
  return null;
}

function gvisorSkipReason(): string | null {
  if (!executable('/usr/bin/runsc')) return 'gvisor engine: /usr/bin/runsc is not installed (apt-get install runsc)';
  if (!isRoot()) return 'gvisor engine: runsc needs root here, and the tests do not run as root';
  return null;
}

/** A fresh directory whose path marks a test's own runs; removed by cleanup(). */
function privateDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export function enginesUnderTest(): EngineUnderTest[] {
  let gvisorRuns: string | null = null;
  const gvisorRunDir = () => (gvisorRuns ??= privateDir('crucible-test-gvisor-'));
  let gvisor: GvisorEngine | null = null;
  let bwrap: BwrapEngine | null = null;
  let processEngine: ProcessEngine | null = null;
  return [
    {
      name: 'bwrap',
      isolated: true,
      skipReason: bwrapSkipReason(),
      engine: () => (bwrap ??= new BwrapEngine()),
      leftovers: () => [],
      cleanup: () => {},
    },
    {
      name: 'gvisor',
      isolated: true,
      skipReason: gvisorSkipReason(),
      engine: () => (gvisor ??= new GvisorEngine({ runDirParent: gvisorRunDir() })),
      leftovers: () => (gvisorRuns === null ? [] : processesWithMarker(gvisorRuns)),
      cleanup: () => {
        if (gvisorRuns !== null) rmSync(gvisorRuns, { recursive: true, force: true });
      },
    },
    {
      name: 'process',
      isolated: false,
      skipReason: null,
      engine: () => (processEngine ??= new ProcessEngine()),
      leftovers: () => [],
      cleanup: () => {},
    },
  ];
}

/** describe.each over the engines, with a clear skip for one that cannot work here. */
export function describeEachEngine(title: string, body: (subject: EngineUnderTest) => void): void {
  const engines = enginesUnderTest();
  afterAll(() => engines.forEach((subject) => subject.cleanup()));
  for (const subject of engines) {
    if (subject.skipReason !== null) {
      describe(`${title} [${subject.name}]`, () => {
        test.skip(`skipped: ${subject.skipReason}`, () => {});
      });
      continue;
    }
    describe(`${title} [${subject.name}]`, () => body(subject));
  }
}

export async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * At most `slots` sandbox runs at a time across a file's concurrent tests (2 cores here): each
 * run takes a slot for its duration.
 */
/**
 * Starts a run through `start` (given the abort signal and an onProgramStart callback), aborts it
 * once the program has started, and returns the result with how long the abort took to end it.
 */
export async function abortOnceStarted<T>(
  start: (hooks: { signal: AbortSignal; onProgramStart: () => void }) => Promise<T>,
): Promise<{ result: T; stopMs: number }> {
  const controller = new AbortController();
  let started = false;
  const running = start({ signal: controller.signal, onProgramStart: () => (started = true) });
  await waitUntil(() => started, 30_000, 'the program to start');
  const abortedAt = Date.now();
  controller.abort();
  const result = await running;
  return { result, stopMs: Date.now() - abortedAt };
}

export function limiter(slots: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= slots) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

export interface RunOptions {
  language?: Language;
  limits?: Partial<Limits>;
  stdin?: Buffer;
  signal?: AbortSignal;
  onProgramStart?: () => void;
}

export function runner(subject: EngineUnderTest, slot: <T>(task: () => Promise<T>) => Promise<T>) {
  return (code: string | Buffer, options: RunOptions = {}): Promise<RunResult> =>
    slot(() =>
      subject.engine().run({
        language: options.language ?? 'python',
        code: Buffer.isBuffer(code) ? code : Buffer.from(code),
        stdin: options.stdin,
        limits: { ...FAST_LIMITS, ...options.limits },
        signal: options.signal,
        onProgramStart: options.onProgramStart,
      }),
    );
}

export function text(result: RunResult): { stdout: string; stderr: string } {
  return { stdout: result.stdout.toString('utf8'), stderr: result.stderr.toString('utf8') };
}

/** Python that replaces itself with a process whose command line carries `marker`. */
export function execWithMarker(marker: string, body: string): string {
  return `import os\nos.execv('/usr/bin/python3', ['python3', '-c', ${JSON.stringify(body)}, ${JSON.stringify(marker)}])\n`;
}

/** Host pids whose command line contains `marker`. */
export const processesWithMarker = processesMentioning;
