/**
 * The contract between the `execute` activity and the sandbox engines. An engine runs one
 * program under limits and reports what happened; a user's failure (time, memory, output,
 * crash) is a result, while an infrastructure failure (engine missing, cannot spawn) throws
 * SandboxInfrastructureError so that Temporal retries it.
 */
import type { Language, Limits } from '../domain/evaluation';
import type { ExecutionFields, LimitHit } from '../domain/execution';

export type EngineName = 'bwrap' | 'gvisor' | 'process';

/** A file of a submission: a relative path (rules in src/domain/submission-files.ts) and its bytes. */
export interface SourceFile {
  path: string;
  content: Buffer;
}

/** A file of a built program: a compile stage's artefact, or a source file of an interpreted language. */
export interface BuiltFile {
  path: string;
  content: Buffer;
  executable: boolean;
}

/** What build() made: run it any number of times with RunRequest.built, without compiling again. */
export interface BuiltProgram {
  language: Language;
  /** The submission's entry point (a source path, also for a compiled language). */
  entryPoint: string;
  files: BuiltFile[];
  /** The compile stage that made it; absent for an interpreted language. */
  compilation?: CompilationResult;
}

/** Which sandbox run of a request is starting: a compiled language's compile stage, or the program. */
export type StageName = 'compile' | 'run';

export interface BuildRequest {
  language: Language;
  /** The entry point's content (the whole submission when `files` is absent). */
  code: Buffer;
  /** Multi-file submission: see RunRequest.files. */
  files?: SourceFile[];
  /** Default the language's usual file name (main.py, Main.java, ...). */
  entryPoint?: string;
  /** Aborting it kills the compile promptly; the outcome is then ok: false with a cancelled result. */
  signal?: AbortSignal;
  /** Called as each sandbox is launched (for build(): only 'compile', and only for a compiled language). */
  onStageStart?: (stage: StageName) => void;
}

/** ok: false carries the RunResult of a failed (or cancelled) compile, exactly what run() returns today for a compile failure. */
export type BuildOutcome = { ok: true; program: BuiltProgram } | { ok: false; result: RunResult };

export interface RunRequest {
  language: Language;
  /**
   * The program's source: with no `files`, the one file, placed as the entry point; with `files`,
   * the entry point's content (used only when `files` does not hold the entry point itself).
   * Ignored when `built` is given.
   */
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
  /** Multi-file submission: every file is placed under the work dir at its path; `code` is then the entry point's content. */
  files?: SourceFile[];
  /** The file to run (interpreted) or whose program to run (compiled); default the language's usual file name. */
  entryPoint?: string;
  /** A program from build(): no compile stage, these files are placed and run. */
  built?: BuiltProgram;
  /** Further read-only files placed in the work dir beside the program, e.g. a custom checker's `case/input`, `case/expected`, `case/output`. */
  extraFiles?: SourceFile[];
  /** Called as each sandbox of the request is launched: 'compile' (compiled, without `built`), then 'run'. */
  onStageStart?: (stage: StageName) => void;
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
  /**
   * The compile stage alone (compiled languages; an interpreted language's sources are returned
   * as they are, nothing runs): a program to run with RunRequest.built any number of times.
   */
  build(request: BuildRequest): Promise<BuildOutcome>;
}

export class SandboxInfrastructureError extends Error {
  override readonly name = 'SandboxInfrastructureError';
}

/** The message of anything thrown, for an error that wraps it. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
