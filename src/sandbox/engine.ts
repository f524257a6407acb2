/**
 * The contract between the `execute` activity and the sandbox engines. An engine runs one
 * program under limits and reports what happened; a user's failure (time, memory, output,
 * crash) is a result, while an infrastructure failure (engine missing, cannot spawn) throws
 * SandboxInfrastructureError so that Temporal retries it.
 */
import type { Language, Limits } from '../domain/evaluation';
import type { ExecutionFields, LimitHit } from '../domain/execution';

export type EngineName = 'bwrap' | 'gvisor' | 'process';

export interface RunRequest {
  language: Language;
  code: Buffer;
  stdin?: Buffer;
  limits: Limits;
  /** Aborting it kills the whole run (every process it started) promptly. */
  signal?: AbortSignal;
  /**
   * Called once the sandbox is set up and the program has started (its time limits count from
   * here). For metrics of the sandbox's start-up cost, and for tests that must act mid-run.
   */
  onProgramStart?: () => void;
}

export type { LimitHit };

/**
 * How the compile stage of a compiled language went. It ran in its own sandbox under its own
 * limits (LanguageRuntime.compile.limits); `limitHit` is one of those.
 */
export interface CompilationResult {
  /** The compiler exited with 0 and left its artefacts: the program ran. */
  ok: boolean;
  timeMs: number;
  cpuTimeMs: number;
  memoryKb: number;
  exitCode: number | null;
  signal: string | null;
  limitHit: LimitHit;
}

/** The stored execution fields, plus what the verdict and the cancellation path need. */
export interface RunResult extends ExecutionFields {
  /**
   * The program's output; when compilation failed, the compiler's (its message in stderr, with a
   * last line saying which compile limit stopped it, if one did).
   */
  stdout: Buffer;
  stderr: Buffer;
  /** A limit of the program's run (never a compile limit: those are in `compilation`). */
  limitHit: LimitHit;
  engine: EngineName;
  /** True when the run was stopped because `signal` was aborted. */
  cancelled: boolean;
  /** The compile stage; absent for an interpreted language. */
  compilation?: CompilationResult;
}

/** What check() found; `detail` names the engine, its mode (cgroups or rlimits) and any problem. */
export interface EngineCheck {
  ok: boolean;
  detail: string;
  engine?: EngineName;
  /** How memory, processes and CPU are fenced: per-run cgroups, or per-process rlimits only. */
  mode?: 'cgroups' | 'rlimits';
}

export interface SandboxEngine {
  readonly name: EngineName;
  /** Cheap self-check for /readyz: can this engine run programs on this machine? */
  check(): Promise<EngineCheck>;
  run(request: RunRequest): Promise<RunResult>;
}

export class SandboxInfrastructureError extends Error {
  override readonly name = 'SandboxInfrastructureError';
}

/** The message of anything thrown, for an error that wraps it. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
