/**
 * A stage is one sandbox run: the compile stage of a compiled language, or the program's run.
 * The pipeline (pipeline.ts) runs a submission as one or two stages, each in a fresh sandbox of
 * the same engine, and the engines only ever see a Stage: the files to place in the work dir, the
 * command, the limits, what of the host to bind and what to bring back out (artefacts).
 */
import type { Language, Limits } from '../../domain/evaluation';
import type { RunRequest } from '../engine';
import type { CompileStep, LanguageRuntime, StageRuntime } from '../languages';

/** A file placed read-only in the work dir before the stage starts. */
export interface StageFile {
  /** A plain name (no slash): the work dir is flat. */
  name: string;
  content: Buffer;
  /** Mode 0555 rather than 0444 (a compiled program). */
  executable: boolean;
}

/** What the init brings back out of the work dir once the stage's program ended with exit code 0. */
export interface ArtefactCollection {
  /** Exact names or `*.suffix` (see CompileStep.artefacts). */
  patterns: readonly string[];
  /** Most bytes in all; a larger artefact fails the stage (the init refuses to send it). */
  maxBytes: number;
  /** Most files. */
  maxFiles: number;
}

export type StageKind = 'compile' | 'run';

export interface Stage extends StageRuntime {
  kind: StageKind;
  language: Language;
  command: string[];
  files: StageFile[];
  limits: Limits;
  stdin?: Buffer;
  collect?: ArtefactCollection;
  signal?: AbortSignal;
  onProgramStart?: () => void;
}

/** A compile stage may bring back at most this much: a static Go binary is ~2 MB, a C++ one rarely 10. */
export const MAX_ARTEFACT_BYTES = 64 * 1024 * 1024;
/** Java writes one class file per class, inner and anonymous ones included. */
export const MAX_ARTEFACT_FILES = 512;

/** The compile stage of a request in a compiled language: the source file, the compiler's limits, no stdin. */
export function compileStage(request: RunRequest, language: LanguageRuntime, compile: CompileStep): Stage {
  return {
    kind: 'compile',
    language: language.language,
    command: compile.command(compile.limits),
    files: [{ name: language.fileName, content: request.code, executable: false }],
    limits: compile.limits,
    hostPaths: compile.hostPaths,
    runtimeTasks: compile.runtimeTasks,
    addressSpaceLimitWorks: compile.addressSpaceLimitWorks,
    outOfMemoryPatterns: compile.outOfMemoryPatterns,
    environment: compile.environment,
    collect: { patterns: compile.artefacts, maxBytes: MAX_ARTEFACT_BYTES, maxFiles: MAX_ARTEFACT_FILES },
    signal: request.signal,
  };
}

/**
 * The program's run: the source file (interpreted) or the compile stage's artefacts (compiled),
 * the submission's limits and stdin, and nothing of the compiler.
 */
export function runStage(request: RunRequest, language: LanguageRuntime, files?: StageFile[]): Stage {
  return {
    kind: 'run',
    language: language.language,
    command: language.command(request.limits),
    files: files ?? [{ name: language.fileName, content: request.code, executable: false }],
    limits: request.limits,
    stdin: request.stdin,
    hostPaths: language.hostPaths,
    runtimeTasks: language.runtimeTasks,
    addressSpaceLimitWorks: language.addressSpaceLimitWorks,
    outOfMemoryPatterns: language.outOfMemoryPatterns,
    environment: language.environment,
    signal: request.signal,
    onProgramStart: request.onProgramStart,
  };
}

/** Whether a file name is one of the patterns (an exact name, or `*.suffix`). */
export function matchesArtefact(name: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) =>
    pattern.startsWith('*') ? name.endsWith(pattern.slice(1)) && name.length > pattern.length - 1 : name === pattern,
  );
}
