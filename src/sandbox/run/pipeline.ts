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
import { errorMessage, SandboxInfrastructureError, type RunRequest, type RunResult } from '../engine';
import type { CgroupBackendCache, RunCgroup } from '../host/cgroup-backend';
import { launchInCgroup } from '../host/launcher';
import { runtimeFor, type LanguageRegistry } from '../languages';
import { COMPILED_INIT_PATH, tmpfsSizes, type TmpfsSizes } from '../layout';
import { FRAMED_FD, SANDBOX_FDS } from './channel';
import type { SandboxInit } from './compiled-init';
import { initArgv, type InitChannel } from './init';
import type { EngineDriver } from './launch';
import { programRlimits } from './rlimits';
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

export async function runPipeline(pipeline: RunPipeline, request: RunRequest): Promise<RunResult> {
  const { driver } = pipeline;
  const language = runtimeFor(pipeline.languages, request.language);
  const { limits } = request;
  assertApplicableLimits(limits);
  if (request.signal?.aborted) return cancelledBeforeStart(driver.name);

  const backend = await pipeline.cgroups.get();
  const cgroup = await backend.createRun(driver.cgroupLimits(limits, language));
  return withCgroupRemoved(cgroup, async () => {
    const tmpfs = tmpfsSizes(limits, pipeline.tmpfs);
    const placement = driver.initPlacement;
    const channel: InitChannel =
      placement.channel === 'fds'
        ? { kind: 'fds', statusFd: SANDBOX_FDS.status, stdoutFd: SANDBOX_FDS.stdout, stderrFd: SANDBOX_FDS.stderr }
        : { kind: 'framed', fd: FRAMED_FD };
    const rlimits = programRlimits(limits, language, {
      fileSizeBytes: driver.fileSizeBytes(tmpfs),
      memoryFencedByCgroup: cgroup !== null,
      tasksFencedByCgroup: cgroup !== null && driver.rlimitFacts.tasksFencedByCgroup,
      infrastructureTasks: driver.rlimitFacts.infrastructureTasks,
    });
    const sandboxInit = await pipeline.init;
    const initBinary = sandboxInit.kind === 'compiled' ? sandboxInit.binary : null;
    const init = initArgv({
      program: initBinary ? { kind: 'compiled', path: COMPILED_INIT_PATH } : { kind: 'python', python: pipeline.initPythonPath },
      channel,
      rlimits,
      user: placement.programUser,
      subreaper: placement.subreaper,
      command: language.command(limits),
    });
    const prepared = await driver.prepare({ request, language, cgroup, tmpfs, init, initBinary, rlimits });
    try {
      const launch = { ...prepared, ...launchInCgroup(pipeline.shellPath, cgroup, prepared.executable, prepared.args) };
      const ending = await supervise({ launch, channel: placement.channel, startupTimeoutMs: driver.startupTimeoutMs, request, cgroup });
      const usage = cgroup === null ? null : await cgroup.usage();
      return verdict(
        {
          engine: driver.name,
          request,
          language,
          startupTimeoutMs: driver.startupTimeoutMs,
          programCanKillInit: launch.programCanKillInit === true,
        },
        ending,
        usage,
      );
    } finally {
      await prepared.teardown?.();
    }
  });
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
