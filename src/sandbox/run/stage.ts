/**
 * A stage is one sandbox run: the compile stage of a compiled language, or the program's run.
 * The pipeline (pipeline.ts) runs a submission as one or two stages, each in a fresh sandbox of
 * the same engine, and the engines only ever see a Stage: the files to place in the work dir, the
 * command, the limits, what of the host to bind and what to bring back out (artefacts).
 */
import type { Language, Limits } from '../../domain/evaluation';
import { clashes, relativePathProblem } from '../../domain/submission-files';
import type { RunRequest, SourceFile, StageName } from '../engine';
import type { CompileStep, LanguageRuntime, ProgramFiles, StageRuntime } from '../languages';

/** A file placed read-only in the work dir before the stage starts. */
export interface StageFile {
  /**
   * Its path relative to the work dir (`main.py`, `pkg/util.py`): a relative path by the rules of
   * domain/submission-files.ts, which placeStageFiles() checks again.
   */
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
  /** Levels of the work dir searched: 1 is its top level only (see CompileStep.artefactDepth). */
  depth: number;
}

export type StageKind = StageName;

export interface Stage extends StageRuntime {
  kind: StageKind;
  language: Language;
  command: string[];
  files: StageFile[];
  /**
   * Whether the program may create files in the directories that hold placed files (never replace
   * those files): a compile stage's compiler writes beside its sources (javac's package
   * directories); in a run stage they are read-only. The work dir itself is always writable.
   */
  writableDirectories: boolean;
  limits: Limits;
  stdin?: Buffer;
  collect?: ArtefactCollection;
  signal?: AbortSignal;
  onProgramStart?: () => void;
  onStageStart?: (stage: StageName) => void;
}

/** A compile stage may bring back at most this much: a static Go binary is ~2 MB, a C++ one rarely 10. */
export const MAX_ARTEFACT_BYTES = 64 * 1024 * 1024;
/** Java writes one class file per class, inner and anonymous ones included. */
export const MAX_ARTEFACT_FILES = 512;

/** A submission's files as the sandbox places them: every source file, and which one is the entry point. */
export interface ProgramSources {
  entryPoint: string;
  files: StageFile[];
}

/**
 * The source files of a request: `code` as the entry point alone (no `files`: today's single
 * file), or every file of `files` at its path, plus `code` as the entry point when `files` does
 * not hold it. A path the domain's rules refuse, two files at one path, or a file where another
 * needs a directory is the caller's bug: RangeError.
 */
export function programSources(
  request: { code: Buffer; files?: readonly SourceFile[]; entryPoint?: string },
  language: LanguageRuntime,
): ProgramSources {
  const entryPoint = request.entryPoint ?? language.fileName;
  const files = (request.files ?? []).map((file) => ({ name: file.path, content: file.content, executable: false }));
  if (!files.some((file) => file.name === entryPoint)) files.unshift({ name: entryPoint, content: request.code, executable: false });
  assertPlaceable(files);
  return { entryPoint, files };
}

/** What a command is told about the files of its stage. */
export function programFiles(entryPoint: string, files: readonly StageFile[]): ProgramFiles {
  return { entryPoint, paths: files.map((file) => file.name) };
}

/** The compile stage of a submission in a compiled language: its source files, the compiler's limits, no stdin. */
export function compileStage(
  sources: ProgramSources,
  language: LanguageRuntime,
  compile: CompileStep,
  request: { signal?: AbortSignal; onStageStart?: (stage: StageName) => void },
): Stage {
  return {
    kind: 'compile',
    language: language.language,
    command: compile.command(compile.limits, programFiles(sources.entryPoint, sources.files)),
    files: sources.files,
    writableDirectories: true,
    limits: compile.limits,
    hostPaths: compile.hostPaths,
    runtimeTasks: compile.runtimeTasks,
    addressSpaceLimitWorks: compile.addressSpaceLimitWorks,
    outOfMemoryPatterns: compile.outOfMemoryPatterns,
    cpuLimitPatterns: compile.cpuLimitPatterns,
    environment: compile.environment,
    collect: { patterns: compile.artefacts, maxBytes: MAX_ARTEFACT_BYTES, maxFiles: MAX_ARTEFACT_FILES, depth: compile.artefactDepth ?? 1 },
    signal: request.signal,
    onStageStart: request.onStageStart,
  };
}

/**
 * The program's run: the source files (interpreted) or the compile stage's artefacts (compiled),
 * plus the request's extra files, the submission's limits and stdin, and nothing of the compiler.
 * The command is given only the program's own files, not the extra ones.
 */
export function runStage(request: RunRequest, language: LanguageRuntime, program: ProgramSources): Stage {
  const extraFiles = (request.extraFiles ?? []).map((file) => ({ name: file.path, content: file.content, executable: false }));
  const files = [...program.files, ...extraFiles];
  assertPlaceable(files);
  return {
    kind: 'run',
    language: language.language,
    command: language.command(request.limits, programFiles(program.entryPoint, program.files)),
    files,
    writableDirectories: false,
    limits: request.limits,
    stdin: request.stdin,
    hostPaths: language.hostPaths,
    runtimeTasks: language.runtimeTasks,
    addressSpaceLimitWorks: language.addressSpaceLimitWorks,
    outOfMemoryPatterns: language.outOfMemoryPatterns,
    cpuLimitPatterns: language.cpuLimitPatterns,
    environment: language.environment,
    signal: request.signal,
    onProgramStart: request.onProgramStart,
    onStageStart: request.onStageStart,
  };
}

/**
 * Checks that files can be placed in a work dir (RangeError otherwise: the caller's bug, never
 * the machine's): every name a relative path by the domain's rules (no `..`, no leading `/`, no
 * empty segment), no two at one path, none where another needs a directory. Returns the
 * directories to create for them, each after its parent (`a`, `a/b`, ...). Every engine calls it
 * before it places anything, behind the API's own validation.
 */
export function placedDirectories(files: readonly Pick<StageFile, 'name'>[]): string[] {
  assertPlaceable(files);
  const directories = new Set<string>();
  for (const file of files) {
    const segments = file.name.split('/');
    for (let depth = 1; depth < segments.length; depth++) directories.add(segments.slice(0, depth).join('/'));
  }
  return [...directories].sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : a > b ? 1 : 0));
}

function assertPlaceable(files: readonly Pick<StageFile, 'name'>[]): void {
  const seen = new Set<string>();
  for (const { name } of files) {
    if (typeof name !== 'string') throw new RangeError(`a file path must be a string, got ${typeof name}`);
    const problem = relativePathProblem(name);
    if (problem !== null) throw new RangeError(`cannot place ${JSON.stringify(name)} in the work dir: ${problem}`);
    if (seen.has(name)) throw new RangeError(`cannot place ${JSON.stringify(name)} in the work dir: two files have that path`);
    seen.add(name);
  }
  const clash = clashes([...seen])[0];
  if (clash !== undefined) throw new RangeError(`cannot place ${JSON.stringify(clash.path)} in the work dir: ${clash.message}`);
}

/** Whether a file name is one of the patterns (an exact name, or `*.suffix`). */
export function matchesArtefact(name: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) =>
    pattern.startsWith('*') ? name.endsWith(pattern.slice(1)) && name.length > pattern.length - 1 : name === pattern,
  );
}
