/**
 * The worker's sandbox engine, served by a small process of its own (host-process.ts).
 *
 * Node starts every child with fork+exec, and a fork costs in proportion to the forking
 * process's memory: spawn() blocks a 56 MB process for ~1.6 ms and a 900 MB one (the worker:
 * Temporal's workflow cache, Prisma, the Rust core) for ~36 ms. Every sandbox run spawns its
 * launcher, so the worker forwards check(), run() and build() over an IPC channel to a process
 * that holds only the engine, and the spawns happen there. See the README's "The sandbox host".
 *
 * What crosses the channel is data: the request without its signal and callbacks (Buffers
 * travel as bytes with `serialization: 'advanced'`), then events (program started, stage
 * started), then the result or the error (its class name, message, stack and cause). An abort of
 * the request's signal is a message. If the host dies, every call in flight fails with
 * SandboxInfrastructureError (so Temporal retries it) and the next call starts a new host.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  SandboxInfrastructureError,
  errorMessage,
  type BuildOutcome,
  type BuildRequest,
  type EngineCheck,
  type EngineName,
  type RunRequest,
  type RunResult,
  type SandboxEngine,
  type StageName,
} from '../engine';
import { EngineNotAvailableError, type CreateEngineOptions } from '../index';

/** What the host builds its engine from: createEngine's options that are plain data. */
export type HostEngineOptions = Pick<CreateEngineOptions, 'engine' | 'allowProcessEngine' | 'settings'>;

export interface RemoteEngineOptions extends HostEngineOptions {
  /** How long a new host may take to load and build its engine (from source, tsx compiles as it loads). */
  startTimeoutMs?: number;
  /** How long close() waits for the host to stop what it runs and exit before it is killed. */
  closeTimeoutMs?: number;
}

/** An error as it crosses the channel: its class is rebuilt from `name` on the other side. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  cause?: WireError;
}

export type CallMethod = 'check' | 'run' | 'build';
/** run's and build's requests without what cannot cross: the signal and the callbacks. */
export type WireRequest = Omit<RunRequest, 'signal' | 'onProgramStart' | 'onStageStart'> | Omit<BuildRequest, 'signal' | 'onStageStart'>;

/** `aborted`: the signal was aborted before the call, so the engine sees it aborted from the start (as in-process). */
export type ToHost =
  { type: 'call'; id: number; method: CallMethod; request?: WireRequest; aborted: boolean } | { type: 'abort'; id: number };

export type FromHost =
  | { type: 'ready'; pid: number }
  | { type: 'start_failed'; error: WireError }
  | { type: 'program_start'; id: number }
  | { type: 'stage_start'; id: number; stage: StageName }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; error: WireError };

const ENGINE_NAMES: readonly EngineName[] = ['bwrap', 'gvisor', 'process'];

export class RemoteSandboxEngine implements SandboxEngine {
  readonly name: EngineName;
  private readonly hostOptions: HostEngineOptions;
  private readonly startTimeoutMs: number;
  private readonly closeTimeoutMs: number;
  private host: Host | null = null;
  private closed = false;

  constructor(options: RemoteEngineOptions) {
    // The same refusals as createEngine, here, so that a bad configuration stops the worker at start.
    if (!ENGINE_NAMES.includes(options.engine)) {
      throw new EngineNotAvailableError(`unknown sandbox engine ${JSON.stringify(options.engine)}`);
    }
    if (options.engine === 'process' && !options.allowProcessEngine) {
      throw new EngineNotAvailableError(
        "the 'process' engine runs code without any isolation; it must be explicitly allowed (development only)",
      );
    }
    this.name = options.engine;
    this.hostOptions = { engine: options.engine, allowProcessEngine: options.allowProcessEngine, settings: options.settings };
    // It crosses as JSON: anything else (a function, a class instance) would not arrive as it is.
    const asJson: unknown = JSON.parse(JSON.stringify(this.hostOptions));
    if (!sameData(asJson, this.hostOptions)) throw new TypeError('the sandbox host options must be plain data (JSON)');
    this.startTimeoutMs = options.startTimeoutMs ?? 60_000;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
  }

  /** The pid of the current host process, if one is running (for tests and logs). */
  get hostPid(): number | undefined {
    return this.host?.child.pid;
  }

  /** Starts the host now (otherwise the first call does) and waits until it serves. */
  async start(): Promise<void> {
    await this.currentHost().ready;
  }

  async check(): Promise<EngineCheck> {
    try {
      return (await this.call('check', undefined, {})) as EngineCheck;
    } catch (error) {
      // check() answers, it does not throw: a host that cannot start is an engine that does not work.
      return { ok: false, detail: `engine=${this.name}; problem: the sandbox host process: ${errorMessage(error)}`, engine: this.name };
    }
  }

  async run(request: RunRequest): Promise<RunResult> {
    const { signal, onProgramStart, onStageStart, ...data } = request;
    return (await this.call('run', data, { signal, onProgramStart, onStageStart })) as RunResult;
  }

  async build(request: BuildRequest): Promise<BuildOutcome> {
    const { signal, onStageStart, ...data } = request;
    return (await this.call('build', data, { signal, onStageStart })) as BuildOutcome;
  }

  /** Stops the host: it aborts what it runs, waits for its sandboxes to be killed and exits. Later calls fail. */
  async close(): Promise<void> {
    this.closed = true;
    const host = this.host;
    this.host = null;
    if (host === null) return;
    await host.stop(this.closeTimeoutMs);
  }

  private currentHost(): Host {
    if (this.closed) throw new SandboxInfrastructureError('the sandbox engine is closed');
    if (this.host === null || this.host.lost !== null || !this.host.child.connected) {
      const host = new Host(this.hostOptions, this.startTimeoutMs, () => {
        if (this.host === host) this.host = null;
      });
      this.host = host;
    }
    return this.host;
  }

  private async call(method: CallMethod, request: WireRequest | undefined, hooks: Hooks): Promise<unknown> {
    const host = this.currentHost();
    await host.ready;
    return host.call(method, request, hooks);
  }
}

interface Hooks {
  signal?: AbortSignal;
  onProgramStart?: () => void;
  onStageStart?: (stage: StageName) => void;
}

interface Pending {
  hooks: Hooks;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** One host process: its start, its calls in flight, its end. */
class Host {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  /** Why this host no longer serves; null while it does. */
  lost: SandboxInfrastructureError | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly exited: Promise<void>;
  private readonly startTimer: NodeJS.Timeout;
  private markReady: () => void = () => {};
  private failStart: (error: Error) => void = () => {};

  constructor(
    options: HostEngineOptions,
    startTimeoutMs: number,
    private readonly onLost: () => void,
  ) {
    const entry = hostEntry();
    this.child = fork(entry.file, [JSON.stringify(options)], {
      execArgv: entry.execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    this.ready = new Promise<void>((resolve, reject) => {
      this.markReady = resolve;
      this.failStart = reject;
    });
    // A call awaiting ready is told why; nobody awaiting it is not an unhandled rejection.
    this.ready.catch(() => {});
    this.startTimer = setTimeout(() => {
      this.lose(`did not start within ${startTimeoutMs} ms`);
      this.child.kill('SIGKILL');
    }, startTimeoutMs);
    this.child.on('message', (message: FromHost) => this.onMessage(message));
    this.child.on('error', (error) => this.lose(`failed: ${error.message}`));
    // A dead host's channel usually closes just before its exit is reaped: wait a moment, to say how it ended.
    this.child.on('disconnect', () => setTimeout(() => this.lose('closed its channel'), 200).unref());
    this.child.on('exit', (code, signal) => this.lose(`exited (${signal ?? `status ${code}`})`));
    // The channel holds this process open while the host starts; the timer need not.
    this.startTimer.unref();
  }

  call(method: CallMethod, request: WireRequest | undefined, hooks: Hooks): Promise<unknown> {
    if (this.lost !== null) return Promise.reject(this.lost);
    const id = this.nextId++;
    const { signal } = hooks;
    const onAbort = () => this.send({ type: 'abort', id });
    return new Promise<unknown>((resolve, reject) => {
      const done = () => {
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(id);
        if (this.pending.size === 0) this.idle();
      };
      this.pending.set(id, {
        hooks,
        resolve: (value) => {
          done();
          resolve(value);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      });
      this.busy();
      this.send({ type: 'call', id, method, request, aborted: signal?.aborted === true });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Closes the channel (the host aborts its runs and exits), then kills it if it takes too long. */
  async stop(timeoutMs: number): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      if (this.child.connected) this.child.disconnect();
      const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
      await this.exited;
      clearTimeout(timer);
    }
    this.lose('was closed');
  }

  /** Marks the host lost and fails every call in flight; true the first time. */
  lose(why: string): boolean {
    if (this.lost !== null) return false;
    clearTimeout(this.startTimer);
    const pid = this.child.pid ?? 'not started';
    this.lost = new SandboxInfrastructureError(
      `the sandbox host process (pid ${pid}) ${why}; a call in flight there is lost and may be retried`,
    );
    this.failStart(this.lost);
    for (const call of [...this.pending.values()]) call.reject(this.lost);
    this.idle();
    this.onLost();
    return true;
  }

  private onMessage(message: FromHost): void {
    if (message.type === 'ready') {
      clearTimeout(this.startTimer);
      this.idle();
      this.markReady();
      return;
    }
    if (message.type === 'start_failed') {
      this.lose(`could not build its engine: ${reviveError(message.error).message}`);
      return;
    }
    const call = this.pending.get(message.id);
    if (call === undefined) return;
    switch (message.type) {
      case 'program_start':
        return callHook(() => call.hooks.onProgramStart?.());
      case 'stage_start':
        return callHook(() => call.hooks.onStageStart?.(message.stage));
      case 'result':
        return call.resolve(asBuffers(message.value));
      case 'error':
        return call.reject(reviveError(message.error));
    }
  }

  private send(message: ToHost): void {
    if (this.lost !== null || !this.child.connected) return;
    try {
      this.child.send(message, (error: Error | null) => {
        if (error) this.failCall(message, error);
      });
    } catch (error) {
      this.failCall(message, error);
    }
  }

  private failCall(message: ToHost, error: unknown): void {
    // A request that cannot be sent (an abort that cannot is moot: the host is going, and with it the run).
    if (message.type !== 'call') return;
    this.pending
      .get(message.id)
      ?.reject(new SandboxInfrastructureError(`cannot send the ${message.method} call to the sandbox host: ${errorMessage(error)}`));
  }

  /** The host (its channel, its process) holds this process open only while a call waits on it. */
  private busy(): void {
    this.child.channel?.ref();
    this.child.ref();
  }

  private idle(): void {
    if (this.pending.size > 0) return;
    this.child.channel?.unref();
    this.child.unref();
  }
}

function callHook(hook: () => void): void {
  try {
    hook();
  } catch {
    // a caller's callback failing is not the run's business (as in the engines)
  }
}

/** Node options that make a process run something else than its entry, or open a debugger port. */
const NOT_FOR_THE_HOST = /^(-e|--eval|-p|--print|-pe|-ep|--inspect.*|--debug.*)$/;

/**
 * host-process.ts from source (tsx), host-process.js from a build: the same extension as this
 * module's, with this process's Node options (so `--import tsx` carries over), minus an
 * `--eval`/`--print` script (the host would run that instead) and the inspector's (whose port it
 * would fight over). A .ts entry under a process that does not load tsx (jest) gets it.
 */
export function hostEntry(): { file: string; execArgv: string[] } {
  const file = path.join(__dirname, `host-process${path.extname(__filename)}`);
  const execArgv: string[] = [];
  for (let index = 0; index < process.execArgv.length; index++) {
    const arg = process.execArgv[index];
    const [flag, inline] = arg.split(/=(.*)/s);
    if (!NOT_FOR_THE_HOST.test(flag)) execArgv.push(arg);
    // -e SCRIPT, --print SCRIPT: the script is the next argument (--inspect's port is never separate).
    else if (inline === undefined && /^(-e|--eval|-p|--print|-pe|-ep)$/.test(flag)) index++;
  }
  if (file.endsWith('.ts') && !execArgv.some((arg) => /\btsx\b/.test(arg))) {
    execArgv.push('--import', pathToFileURL(require.resolve('tsx')).href);
  }
  return { file, execArgv };
}

/** An error for the channel: class name, message, stack, and its cause (one level of Error). */
export function wireError(error: unknown): WireError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const wire: WireError = { name: error.name, message: error.message, stack: error.stack };
  if (error.cause instanceof Error) wire.cause = wireError(error.cause);
  return wire;
}

const KNOWN_ERRORS: Record<string, new (message: string) => Error> = {
  SandboxInfrastructureError,
  EngineNotAvailableError,
  RangeError,
  TypeError,
  SyntaxError,
  Error,
};
const madeErrors = new Map<string, new (message: string) => Error>();

/**
 * The error again, of the same class where the class is known (SandboxInfrastructureError decides
 * retries; RangeError is a caller's bug), else of a class with the same name: Temporal names a
 * failure by its error's constructor.
 */
export function reviveError(wire: WireError): Error {
  let Class = KNOWN_ERRORS[wire.name] ?? madeErrors.get(wire.name);
  if (Class === undefined) {
    const name = wire.name;
    Class = { [name]: class extends Error {} }[name];
    Object.defineProperty(Class.prototype, 'name', { value: name });
    madeErrors.set(name, Class);
  }
  const error = new Class(wire.message);
  if (wire.cause !== undefined) error.cause = reviveError(wire.cause);
  if (wire.stack !== undefined) error.stack = wire.stack;
  return error;
}

/**
 * Buffers again where the channel delivered plain Uint8Arrays, anywhere in a result or request
 * (Node 20's advanced serialisation keeps Buffers, a structured clone does not). The tests are
 * cross-realm safe: under jest, the channel's objects come from another context than the caller's.
 */
export function asBuffers(value: unknown): unknown {
  if (ArrayBuffer.isView(value)) {
    if (Buffer.isBuffer(value) || Object.prototype.toString.call(value) !== '[object Uint8Array]') return value;
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  if (Array.isArray(value)) return value.map(asBuffers);
  if (value !== null && typeof value === 'object' && Object.prototype.toString.call(value) === '[object Object]') {
    const object = value as Record<string, unknown>;
    for (const key of Object.keys(object)) object[key] = asBuffers(object[key]);
  }
  return value;
}

function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (b === undefined) return a === undefined;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (!Array.isArray(b) && Object.getPrototypeOf(b) !== Object.prototype) return false;
  const aRecord = a as Record<string, unknown>;
  const bRecord = b as Record<string, unknown>;
  const keys = Object.keys(bRecord).filter((key) => bRecord[key] !== undefined);
  return keys.length === Object.keys(aRecord).length && keys.every((key) => sameData(aRecord[key], bRecord[key]));
}
