/**
 * What every engine is built from: the run pipeline (language registry, cgroup backend chosen
 * once per engine, the init (compiled, or init.py and its python), the launcher's shell) and check(). An engine adds only its
 * EngineDriver part: how to launch, and what its machinery costs.
 */
import type { Limits } from '../../domain/evaluation';
import { DEFAULT_PYTHON_PATH } from '../../config/defaults';
import type { BuildOutcome, BuildRequest, EngineCheck, EngineName, RunRequest, RunResult, SandboxEngine } from '../engine';
import { CgroupBackendCache, type CgroupMode, type RunCgroupLimits } from '../host/cgroup-backend';
import { createLanguageRegistry, type LanguageRegistry, type StageRuntime } from '../languages';
import type { TmpfsSizes } from '../layout';
import type { EngineDriver, InitPlacement, LaunchContext, PreparedLaunch, RlimitFacts } from '../run/launch';
import { sandboxInit, type InitSettings } from '../run/compiled-init';
import { buildPipeline, runPipeline, type RunPipeline } from '../run/pipeline';
import { selfCheck } from '../run/self-check';

export interface CommonEngineOptions {
  /** The python that runs init.py (the fallback init); it must be inside a bound system directory. */
  initPythonPath?: string;
  /** The compiled init: whether to use it, the compiler, its cache dir (run/compiled-init.ts). */
  init?: InitSettings;
  /** Shell used by the cgroup-joining launcher. */
  shellPath?: string;
  languages?: LanguageRegistry;
  /** 'auto': per-run cgroups where this process may create them; 'off': rlimits only. */
  cgroups?: CgroupMode;
}

/**
 * Memory of the init charged to the run's memory group: init.py ~9 MB (the compiled init ~1 MB,
 * given the same allowance so that a program's memory verdict does not depend on which init ran);
 * bwrap ~1 MB more.
 */
export const INIT_MEMORY_BYTES = 16 * 1024 * 1024;

export abstract class PipelineEngine implements SandboxEngine, EngineDriver {
  abstract readonly name: EngineName;
  abstract readonly initPlacement: InitPlacement;
  abstract readonly rlimitFacts: RlimitFacts;
  /** Start-up timeout; gVisor, slower to start, overrides it. */
  readonly startupTimeoutMs: number = 10_000;
  protected readonly pipeline: RunPipeline;

  constructor(options: CommonEngineOptions, tmpfs?: Partial<TmpfsSizes>) {
    this.pipeline = {
      driver: this,
      languages: options.languages ?? createLanguageRegistry(),
      cgroups: new CgroupBackendCache(options.cgroups ?? 'auto'),
      initPythonPath: options.initPythonPath ?? DEFAULT_PYTHON_PATH,
      // Started now (a compile takes about a second, once per start), awaited by the first run.
      init: sandboxInit(options.init),
      shellPath: options.shellPath ?? '/bin/sh',
      tmpfs,
    };
  }

  abstract cgroupLimits(limits: Limits, runtime: StageRuntime): RunCgroupLimits;
  abstract fileSizeBytes(tmpfs: TmpfsSizes): number;
  abstract prepare(context: LaunchContext): Promise<PreparedLaunch>;
  /** Binaries the engine needs besides the init's python and the interpreters. */
  protected abstract checkedBinaries(): string[];
  /** Facts for check()'s line ("seccomp on", "platform=ptrace"). */
  protected abstract checkFacts(): string[];

  run(request: RunRequest): Promise<RunResult> {
    return runPipeline(this.pipeline, request);
  }

  build(request: BuildRequest): Promise<BuildOutcome> {
    return buildPipeline(this.pipeline, request);
  }

  async check(): Promise<EngineCheck> {
    const init = await this.pipeline.init;
    return selfCheck({
      engine: this.name,
      cgroups: this.pipeline.cgroups,
      // init.py runs compile stages and gVisor's runs, and everything when the C init is not there.
      binaries: [...this.checkedBinaries(), this.pipeline.initPythonPath],
      facts: [init.describe, ...this.checkFacts()],
      run: (request) => this.run(request),
    });
  }
}

/** The run's cgroup limits when the machinery (init, bwrap) simply adds to what the program may use. */
export function programPlusMachinery(
  limits: Limits,
  language: StageRuntime,
  machinery: { memoryBytes: number; tasks: number },
): RunCgroupLimits {
  return {
    memoryBytes: limits.memoryMb * 1024 * 1024 + machinery.memoryBytes,
    maxTasks: limits.maxProcesses + language.runtimeTasks + machinery.tasks,
  };
}
