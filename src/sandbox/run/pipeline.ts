/**
 * The run pipeline: one request in, one RunResult out, the same template for every engine.
 *
 *   runtime lookup, limits check -> the run's cgroup (backend chosen once per engine) -> rlimits
 *   and the init's argv -> the engine prepares its launch (bwrap argv, OCI bundle, work dir) ->
 *   the launcher joins the cgroup and execs it -> supervise -> usage -> the engine's teardown ->
 *   the cgroup is destroyed (a task that survives is an infrastructure error) -> verdict
 *
 * An engine (engines/) only describes how to launch (run/launch.ts). A user's failure is a
 * result; a machine at fault rejects with SandboxInfrastructureError (retried by Temporal); limits
 * that cannot be applied are the caller's bug: RangeError.
 */
import type { Limits } from '../../domain/evaluation';
import { relativePathProblem } from '../../domain/submission-files';
import {
  errorMessage,
  SandboxInfrastructureError,
  type BuildOutcome,
  type BuildRequest,
  type BuiltProgram,
  type CompilationResult,
  type RunRequest,
  type RunResult,
} from '../engine';
import type { CgroupBackendCache, RunCgroup } from '../host/cgroup-backend';
import { launchInCgroup } from '../host/launcher';
import { runtimeFor, type LanguageRegistry, type LanguageRuntime } from '../languages';
import { COMPILED_INIT_PATH, tmpfsSizes, type TmpfsSizes } from '../layout';
import { FRAMED_FD, SANDBOX_FDS, type Artefact } from './channel';
import type { SandboxInit } from './compiled-init';
import { initArgv, type InitChannel } from './init';
import type { EngineDriver } from './launch';
import { programRlimits } from './rlimits';
import { compileStage, placedDirectories, programSources, runStage, type ProgramSources, type Stage } from './stage';
import { supervise } from './supervisor';
import { cancelledBeforeStart, verdict } from './verdict';

export interface RunPipeline {
  driver: EngineDriver;
  languages: LanguageRegistry;
  cgroups: CgroupBackendCache;
  /** The python that runs init.py when the compiled init is not available. */
  initPythonPath: string;
  /** Which init (compiled-init.ts), resolved once; the engine places a compiled one in the sandbox. */
  init: Promise<SandboxInit>;
  /** The /bin/sh of the cgroup-joining launcher. */
  shellPath: string;
  /** Configured tmpfs sizes (see layout.ts). */
  tmpfs?: Partial<TmpfsSizes>;
}

/**
 * One submission: an interpreted language is one stage; a compiled one is a compile stage (the
 * compiler in a sandbox of its own, under the compiler's limits), then, if it produced its
 * artefacts, the run stage in a fresh sandbox with only those artefacts and the program's limits.
 * With `request.built` (from build()) there is no compile stage: the built files are run.
 */
export async function runPipeline(pipeline: RunPipeline, request: RunRequest): Promise<RunResult> {
  const language = runtimeFor(pipeline.languages, request.language);
  assertApplicableLimits(request.limits);
  if (request.built !== undefined) return runBuilt(pipeline, request, language, request.built);
  // Every path is checked before anything runs (again by the engine, before it places them): the
  // sources, and the extra files beside the program (beside the sources, for an interpreted language).
  const sources = programSources(request, language);
  const extraFiles = (request.extraFiles ?? []).map((file) => ({ name: file.path }));
  placedDirectories(language.compile === null ? [...sources.files, ...extraFiles] : extraFiles);
  if (request.signal?.aborted) return cancelledBeforeStart(pipeline.driver.name);
  const built = await buildSources(pipeline, language, sources, request);
  if (!built.ok) return built.result;
  return runBuilt(pipeline, request, language, built.program);
}

/**
 * The compile stage alone: a compiled language's artefacts as a BuiltProgram (with its
 * compilation), or the result of the failed compile, exactly as run() would return it. An
 * interpreted language's program is its source files; nothing runs.
 */
export async function buildPipeline(pipeline: RunPipeline, request: BuildRequest): Promise<BuildOutcome> {
  const language = runtimeFor(pipeline.languages, request.language);
  const sources = programSources(request, language);
  if (request.signal?.aborted) return { ok: false, result: cancelledBeforeStart(pipeline.driver.name) };
  return buildSources(pipeline, language, sources, request);
}

async function buildSources(
  pipeline: RunPipeline,
  language: LanguageRuntime,
  sources: ProgramSources,
  request: Pick<BuildRequest, 'signal' | 'onStageStart'>,
): Promise<BuildOutcome> {
  const program = { language: language.language, entryPoint: sources.entryPoint };
  if (language.compile === null) {
    return {
      ok: true,
      program: { ...program, files: sources.files.map((file) => ({ path: file.name, content: file.content, executable: false })) },
    };
  }
  const compiled = await runInSandbox(pipeline, compileStage(sources, language, language.compile, request));
  const compilation = compilationOf(compiled);
  if (compiled.result.cancelled || !compilation.ok) {
    return { ok: false, result: compileFailure(compiled, compilation, language.compile.limits) };
  }
  const files = compiled.artefacts.map((artefact) => ({ path: artefact.name, content: artefact.content, executable: artefact.executable }));
  return { ok: true, program: { ...program, files, compilation } };
}

/** The run stage of a built program: its files (and the request's extra files), no compile. */
async function runBuilt(pipeline: RunPipeline, request: RunRequest, language: LanguageRuntime, built: BuiltProgram): Promise<RunResult> {
  if (built.language !== request.language) {
    throw new RangeError(`a program built for ${built.language} cannot run as ${request.language}`);
  }
  const entryPointProblem = relativePathProblem(built.entryPoint);
  if (entryPointProblem !== null)
    throw new RangeError(`the built program's entry point ${JSON.stringify(built.entryPoint)}: ${entryPointProblem}`);
  const { compilation } = built;
  const files = built.files.map((file) => ({ name: file.path, content: file.content, executable: file.executable }));
  const stage = runStage(request, language, { entryPoint: built.entryPoint, files });
  const withCompilation = (result: RunResult): RunResult => (compilation === undefined ? result : { ...result, compilation });
  if (request.signal?.aborted) return withCompilation(cancelledBeforeStart(pipeline.driver.name));
  const ran = await runInSandbox(pipeline, stage);
  return withCompilation(ran.result);
}

interface StageOutcome {
  result: RunResult;
  artefacts: Artefact[];
  /** Why the init could not bring the artefacts out (none produced, too large, not a regular file). */
  collectError: string | null;
}

/** One stage in one fresh sandbox, with its own cgroup. */
async function runInSandbox(pipeline: RunPipeline, stage: Stage): Promise<StageOutcome> {
  const { driver } = pipeline;
  const { limits } = stage;
  const backend = await pipeline.cgroups.get();
  const cgroup = await backend.createRun(driver.cgroupLimits(limits, stage));
  return withCgroupRemoved(cgroup, async () => {
    const tmpfs = tmpfsSizes(limits, pipeline.tmpfs);
    const placement = driver.initPlacement;
    const channel: InitChannel =
      placement.channel === 'fds'
        ? {
            kind: 'fds',
            statusFd: SANDBOX_FDS.status,
            stdoutFd: SANDBOX_FDS.stdout,
            stderrFd: SANDBOX_FDS.stderr,
            ...(stage.collect === undefined ? {} : { artefactFd: SANDBOX_FDS.artefacts }),
          }
        : { kind: 'framed', fd: FRAMED_FD };
    const rlimits = programRlimits(limits, stage, {
      fileSizeBytes: driver.fileSizeBytes(tmpfs),
      memoryFencedByCgroup: cgroup !== null,
      tasksFencedByCgroup: cgroup !== null && driver.rlimitFacts.tasksFencedByCgroup,
      infrastructureTasks: driver.rlimitFacts.infrastructureTasks,
    });
    const sandboxInit = await pipeline.init;
    // The compiled init speaks the run protocol only: a stage that collects artefacts (a compile)
    // or reads stdin from a file (gVisor) runs init.py.
    const initBinary =
      sandboxInit.kind === 'compiled' && stage.collect === undefined && placement.stdinFile === undefined ? sandboxInit.binary : null;
    const init = initArgv({
      program: initBinary ? { kind: 'compiled', path: COMPILED_INIT_PATH } : { kind: 'python', python: pipeline.initPythonPath },
      channel,
      rlimits,
      user: placement.programUser,
      subreaper: placement.subreaper,
      collect: stage.collect,
      stdinFile: placement.stdinFile,
      command: stage.command,
    });
    const prepared = await driver.prepare({ stage, cgroup, tmpfs, init, initBinary, rlimits });
    stage.onStageStart?.(stage.kind);
    try {
      const launch = { ...prepared, ...launchInCgroup(pipeline.shellPath, cgroup, prepared.executable, prepared.args) };
      const ending = await supervise({
        launch,
        channel: placement.channel,
        startupTimeoutMs: driver.startupTimeoutMs,
        // An engine that placed stdin in the sandbox as a file has already delivered it.
        request: placement.stdinFile === undefined ? stage : { ...stage, stdin: undefined },
        cgroup,
      });
      const usage = cgroup === null ? null : await cgroup.usage();
      const judged = verdict(
        {
          engine: driver.name,
          stage,
          startupTimeoutMs: driver.startupTimeoutMs,
          programCanKillInit: launch.programCanKillInit === true,
        },
        ending,
        usage,
      );
      let artefacts: Artefact[];
      try {
        artefacts = ending.artefacts.artefacts();
      } catch (error) {
        throw new SandboxInfrastructureError(`the sandbox init sent malformed artefacts: ${errorMessage(error)}`, { cause: error });
      }
      return { result: judged.result, artefacts, collectError: judged.collectError };
    } finally {
      await prepared.teardown?.();
    }
  });
}

function compilationOf({ result, artefacts, collectError }: StageOutcome): CompilationResult {
  return {
    ok: !result.cancelled && result.limitHit === null && result.exitCode === 0 && collectError === null && artefacts.length > 0,
    timeMs: result.timeMs,
    cpuTimeMs: result.cpuTimeMs,
    memoryKb: result.memoryKb,
    exitCode: result.exitCode,
    signal: result.signal,
    limitHit: result.limitHit,
  };
}

const COMPILE_LIMIT_NAMES = {
  cpu_time: ['CPU time', 'cpuTimeMs', 'ms'],
  wall_time: ['wall time', 'wallTimeMs', 'ms'],
  memory: ['memory', 'memoryMb', 'MB'],
  output: ['output', 'maxOutputBytes', 'bytes'],
} as const satisfies Record<NonNullable<CompilationResult['limitHit']>, readonly [string, keyof Limits, string]>;

/**
 * The result of a submission whose compile stage failed (or was cancelled): the compiler's output
 * and figures, its stderr ending with why the compile stopped when the compiler did not say so
 * itself (a compile limit, a signal, missing artefacts). No program ran, so no program limit was hit.
 */
function compileFailure({ result, collectError }: StageOutcome, compilation: CompilationResult, limits: Limits): RunResult {
  const stage = result;
  const notes: string[] = [];
  if (stage.limitHit !== null) {
    const [what, key, unit] = COMPILE_LIMIT_NAMES[stage.limitHit];
    notes.push(`compilation stopped: it exceeded the compile ${what} limit (${limits[key]} ${unit})`);
  } else if (stage.signal !== null && !stage.cancelled) {
    notes.push(`compilation stopped: the compiler was killed by ${stage.signal}`);
  }
  if (collectError !== null) notes.push(`compilation failed: ${collectError}`);
  const stderr =
    notes.length === 0
      ? stage.stderr
      : Buffer.concat([stage.stderr, Buffer.from(`${stage.stderr.length > 0 ? '\n' : ''}${notes.join('\n')}\n`)]);
  return { ...stage, stderr, limitHit: null, compilation };
}

/**
 * Limits must be positive integers. Bad limits are a caller's bug, not an infrastructure failure:
 * a RangeError, so that they are not retried as if the machine were at fault. (The API enforces
 * the product's maxima; the engine only refuses what it cannot apply.)
 */
export function assertApplicableLimits(limits: Limits): void {
  for (const key of ['cpuTimeMs', 'wallTimeMs', 'memoryMb', 'maxProcesses', 'maxOutputBytes'] as const) {
    const value = limits[key];
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`limit ${key} must be a positive integer, got ${JSON.stringify(value)}`);
    }
  }
}

/**
 * Runs `body` and removes the run's cgroup afterwards, whatever happened; a cgroup that cannot be
 * removed (a task survived) is an infrastructure error that must not go unnoticed.
 */
async function withCgroupRemoved<T>(cgroup: RunCgroup | null, body: () => Promise<T>): Promise<T> {
  if (cgroup === null) return body();
  let result: T;
  try {
    result = await body();
  } catch (error) {
    await cgroup.destroy().catch((cleanupError: unknown) => {
      throw new SandboxInfrastructureError(
        `sandbox run failed (${errorMessage(error)}), and so did removing its cgroup (${errorMessage(cleanupError)})`,
        { cause: new AggregateError([error, cleanupError]) },
      );
    });
    throw error;
  }
  await cgroup.destroy();
  return result;
}
