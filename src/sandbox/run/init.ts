/**
 * The init's protocol, on the TypeScript side: how it is started (initArgv) and what it reports
 * (parseInitLine). The init itself is init.c (compiled, see compiled-init.ts) or, where it cannot be
 * built, init.py: the same program twice, and the protocol tests run both.
 *
 * Why it exists: bubblewrap's own PID-1 reaper reports a signal death as exit code 128+n, and
 * `runsc run` does the same, so a program that calls exit(139) and one killed by SIGSEGV would
 * look the same. This small init forks the user's program, waits for it with wait4() (exact exit
 * status and rusage), and reports on a channel that only the engine reads:
 *
 *   {"event":"started"}                     once the program's exec() succeeded
 *   {"exitCode":..,"signal":..,...}         when it ended (or {"execError": ...})
 *
 * Nothing outlives the program: when the program's main process ends, the init kills every
 * process that is left (kill(-1) as PID 1 of a PID namespace; as a child subreaper outside one,
 * each orphan that was reparented to it), reaps them, and only then reports. A program that
 * daemonized (double fork + setsid) or ignores signals is gone before the result exists.
 *
 * Two ways to report (`--report`):
 * - `fds:STATUS,OUT,ERR` (bwrap, process): the program's stdout and stderr are the given fds,
 *   the report lines go to STATUS.
 * - `framed:FD` (gVisor, where `runsc run` passes only stdin/stdout/stderr into the sandbox):
 *   the program writes into pipes that the init relays, in frames, to FD, together with the
 *   report lines. A frame is one type byte ('o' stdout, 'e' stderr, 'r' report line), a 4-byte
 *   big-endian length and the payload. Only the init holds FD, so the program cannot forge a frame.
 *
 * It is careful about the program it supervises:
 * - it makes itself non-dumpable, so a program with the same uid cannot ptrace it or read its fds
 *   or environment through /proc/<init>/...;
 * - with `--user=UID:GID` (the engine started it privileged: gVisor, the process engine run as
 *   root), the program runs as that unprivileged user and cannot signal or trace the init at all;
 * - as PID 1 of a namespace it only receives signals it has a handler for (bwrap);
 * - the report fd and the exec-error pipe are close-on-exec, so the program never holds them.
 * Resource limits (rlimits) are applied in the child only, so they bind the program, not init.
 *
 * init.py is written for Debian's python3 run with -I -S, and imports only modules that load in a
 * few milliseconds (no json, no signal module: `signal` pulls in enum). init.c needs only the C
 * library. The only difference between the two is the text of an execError message.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Python source of the init (init.py), passed to `python3 -I -S -c`: nothing has to be bound into
 * the sandbox for it, and the host never creates a file the sandbox could see. Read once.
 */
export const SANDBOX_INIT_SOURCE = readFileSync(initSourcePath(), 'utf8');

/** init.py sits next to this module, in src/ and in a build (which copies every non-TypeScript file). */
function initSourcePath(): string {
  const file = path.join(__dirname, 'init.py');
  if (!existsSync(file)) throw new Error(`the sandbox init is missing: ${file}`);
  return file;
}

/** A resource limit for the program, named like Python's resource.RLIMIT_<name>. */
export interface ProgramRlimit {
  name: 'CPU' | 'FSIZE' | 'NOFILE' | 'CORE' | 'AS' | 'NPROC' | 'STACK';
  soft: number;
  hard: number;
}

/** How the init reports: see the module comment. */
export type InitChannel =
  { kind: 'fds'; statusFd: number; stdoutFd: number; stderrFd: number; artefactFd?: number } | { kind: 'framed'; fd: number };

/** Which init, and how it is started: the compiled binary at a path inside the sandbox, or init.py. */
export type InitProgram = { kind: 'compiled'; path: string } | { kind: 'python'; python: string };

export interface InitInvocation {
  program: InitProgram;
  channel: InitChannel;
  rlimits: readonly ProgramRlimit[];
  /** Run the program as this user (the init must be privileged to switch). */
  user?: { uid: number; gid: number };
  /** Become a child subreaper, to find and kill orphans when not PID 1 of a namespace. */
  subreaper?: boolean;
  /**
   * Files to bring back out of the work dir once the program exited with code 0 (a compile
   * stage's artefacts): frames 'n' and 'a' on the artefact fd, or on the framed channel. `depth`:
   * levels of the work dir searched (default 1, its top level; more: a name may be `app/Main.class`).
   */
  collect?: { patterns: readonly string[]; maxBytes: number; maxFiles: number; depth?: number };
  /**
   * The program's stdin is this read-only file inside the sandbox rather than the init's own
   * stdin. gVisor: a host pipe handed through `runsc run` is not a pipe to the program (fstat
   * says otherwise, so the JVM's available() fails with "Illegal seek"); a file is a file.
   */
  stdinFile?: string;
  command: readonly string[];
}

/** argv that starts the init (inside whatever sandbox the caller builds). */
export function initArgv(invocation: InitInvocation): string[] {
  const limits = invocation.rlimits.map((limit) => `${limit.name}:${limit.soft}:${limit.hard}`).join(',');
  const { channel } = invocation;
  const report =
    channel.kind === 'fds'
      ? `fds:${[channel.statusFd, channel.stdoutFd, channel.stderrFd, channel.artefactFd].filter((fd) => fd !== undefined).join(',')}`
      : `framed:${channel.fd}`;
  const options = [`--report=${report}`, `--rlimits=${limits}`];
  const { collect } = invocation;
  if (collect !== undefined) {
    if (collect.patterns.some((pattern) => pattern === '' || pattern.includes(',') || pattern.includes('/'))) {
      throw new RangeError(`artefact patterns must be plain names: ${JSON.stringify(collect.patterns)}`);
    }
    options.push(`--collect=${collect.patterns.join(',')}`, `--collect-max=${collect.maxBytes}:${collect.maxFiles}`);
    const depth = collect.depth ?? 1;
    if (!Number.isSafeInteger(depth) || depth < 1) throw new RangeError(`artefact depth must be a positive integer, got ${depth}`);
    if (depth > 1) options.push(`--collect-depth=${depth}`);
  }
  if (invocation.user) options.push(`--user=${invocation.user.uid}:${invocation.user.gid}`);
  if (invocation.subreaper) options.push('--subreaper');
  if (invocation.stdinFile !== undefined) options.push(`--stdin-file=${invocation.stdinFile}`);
  const { program } = invocation;
  const start = program.kind === 'compiled' ? [program.path] : [program.python, '-I', '-S', '-c', SANDBOX_INIT_SOURCE];
  return [...start, ...options, '--', ...invocation.command];
}

/** What the init reported about the program. */
export type InitReport =
  | {
      kind: 'finished';
      exitCode: number | null;
      signalNumber: number | null;
      cpuTimeMs: number;
      maxRssKb: number;
      wallTimeMs: number;
      /** Processes still alive when the main process ended, killed by the init. */
      leftovers: number;
      /** Artefacts sent (collecting stages that exited with 0), and why collecting failed, if it did. */
      collected: number | null;
      collectError: string | null;
    }
  | { kind: 'exec_failed'; message: string };

export type InitLine = InitReport | { kind: 'started' };

export class InitReportParseError extends Error {
  override readonly name = 'InitReportParseError';
}

/** Parses one line of the init; throws InitReportParseError when it is malformed. */
export function parseInitLine(line: string): InitLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new InitReportParseError(`sandbox init wrote an unparseable status line: ${JSON.stringify(line)}`, {
      cause: error,
    });
  }
  if (typeof value !== 'object' || value === null) {
    throw new InitReportParseError(`sandbox init wrote a non-object status: ${JSON.stringify(line)}`);
  }
  const record = value as Record<string, unknown>;
  if (record.event === 'started') return { kind: 'started' };
  if (typeof record.execError === 'string') return { kind: 'exec_failed', message: record.execError };
  const exitCode = record.exitCode;
  const signal = record.signal;
  const numbers = [record.userUs, record.systemUs, record.maxRssKb, record.wallUs];
  const validNullableInt = (v: unknown) => v === null || Number.isInteger(v);
  if (!validNullableInt(exitCode) || !validNullableInt(signal) || !numbers.every((n) => Number.isInteger(n))) {
    throw new InitReportParseError(`sandbox init wrote an invalid status: ${JSON.stringify(line)}`);
  }
  const [userUs, systemUs, maxRssKb, wallUs] = numbers as number[];
  return {
    kind: 'finished',
    exitCode: exitCode as number | null,
    signalNumber: signal as number | null,
    cpuTimeMs: Math.round((userUs + systemUs) / 1000),
    maxRssKb,
    wallTimeMs: Math.round(wallUs / 1000),
    leftovers: Number.isInteger(record.leftovers) ? (record.leftovers as number) : 0,
    collected: Number.isInteger(record.collected) ? (record.collected as number) : null,
    collectError: typeof record.collectError === 'string' ? record.collectError : null,
  };
}

/** Parses the init's final status line; throws InitReportParseError when it is malformed. */
export function parseInitReport(line: string): InitReport {
  const parsed = parseInitLine(line);
  if (parsed.kind === 'started') throw new InitReportParseError(`not a final status line: ${JSON.stringify(line)}`);
  return parsed;
}
