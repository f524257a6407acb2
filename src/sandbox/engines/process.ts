/**
 * The `process` engine: the program runs as a plain child process, with no isolation at all (it
 * sees the host's files and network). For development on machines without namespaces;
 * createEngine refuses it unless configuration explicitly allows it.
 *
 * What it still does:
 * - an empty environment (PATH, HOME, TMPDIR, LANG only) and a fresh work dir of its own;
 * - when the service runs as root, the program runs as uid/gid 65534, while the init that
 *   supervises it stays privileged: the program can neither signal nor trace its init;
 * - per-run cgroups when this host allows them: memory, processes and CPU
 *   over the whole run, as for bwrap; otherwise rlimits (CPU, address space for Python,
 *   processes, file size, open files, no core dumps);
 * - nothing outlives the run: the init is a child subreaper, so every orphan (a double-forked,
 *   setsid daemon too) is reparented to it and killed when the program ends; when the engine
 *   stops a run early it kills the init's whole tree from outside first, then the init, and the
 *   cgroup (if any) last;
 * - output caps, wall time, cancellation.
 * What it cannot do: hide anything (files, network, /tmp shared with the host), or bound a
 * node program's memory without a cgroup (heap flag only). When the service is not root, the
 * program has the init's uid and can kill it; its orphans then escape unless a cgroup holds them.
 */
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Limits } from '../../domain/evaluation';
import { SandboxInfrastructureError, errorMessage } from '../engine';
import type { RunCgroupLimits } from '../host/cgroup-backend';
import { killDescendants } from '../host/processes';
import type { StageRuntime } from '../languages';
import { DEFAULT_WORK_DIR_BYTES, SANDBOX_USER, sandboxEnvironment } from '../layout';
import { placedDirectories, type Stage } from '../run/stage';
import type { InitPlacement, LaunchContext, PreparedLaunch } from '../run/launch';
import { INIT_MEMORY_BYTES, PipelineEngine, programPlusMachinery, type CommonEngineOptions } from './common';

export interface ProcessEngineOptions extends CommonEngineOptions {
  /** Bytes a program may write to one file (RLIMIT_FSIZE). */
  maxFileBytes?: number;
}

/** The launcher/init counts against the run's pids cgroup (and RLIMIT_NPROC when it shares the uid). */
const INFRASTRUCTURE_TASKS = 1;

export class ProcessEngine extends PipelineEngine {
  readonly name = 'process' as const;
  readonly initPlacement: InitPlacement;
  readonly rlimitFacts: { tasksFencedByCgroup: boolean; infrastructureTasks: number };
  /** Root: the program runs as 65534 under a privileged init it can neither signal nor trace. */
  private readonly privileged = process.getuid?.() === 0;
  private readonly maxFileBytes: number;

  constructor(options: ProcessEngineOptions = {}) {
    super(options);
    this.maxFileBytes = options.maxFileBytes ?? DEFAULT_WORK_DIR_BYTES;
    this.initPlacement = { channel: 'fds', subreaper: true, programUser: this.privileged ? SANDBOX_USER : undefined };
    // RLIMIT_NPROC counts the processes of the program's uid; the init has it too only when it is
    // not privileged.
    this.rlimitFacts = { tasksFencedByCgroup: true, infrastructureTasks: this.privileged ? 0 : INFRASTRUCTURE_TASKS };
  }

  protected checkedBinaries(): string[] {
    return [];
  }

  protected checkFacts(): string[] {
    return ['no isolation (development only)'];
  }

  cgroupLimits(limits: Limits, language: StageRuntime): RunCgroupLimits {
    return programPlusMachinery(limits, language, { memoryBytes: INIT_MEMORY_BYTES, tasks: INFRASTRUCTURE_TASKS });
  }

  fileSizeBytes(): number {
    return this.maxFileBytes;
  }

  async prepare({ stage, init, initBinary }: LaunchContext): Promise<PreparedLaunch> {
    const runDir = await createRunDir(stage, this.privileged ? SANDBOX_USER.uid : undefined, initBinary);
    const workDir = path.join(runDir, 'work');
    return {
      // No sandbox to put the compiled init in: it is the run dir's own copy.
      executable: initBinary === null ? init[0] : path.join(runDir, INIT_FILE),
      args: init.slice(1),
      dataInputs: [],
      cwd: workDir,
      env: { ...stage.environment(stage.limits, { home: workDir, tmp: workDir }), ...sandboxEnvironment(workDir, workDir) },
      sweepProcessGroupAfterExit: true,
      // Without privilege, the init is an ordinary process of the program's own uid.
      programCanKillInit: !this.privileged,
      // The init is a subreaper: while it lives, its tree holds every process of the run.
      onKill: (launcherPid) => {
        if (launcherPid !== undefined) killDescendants(launcherPid);
      },
      // Every process of the run is gone (the init killed its tree; the cgroup, if any, is
      // verified empty after this), so nothing can swap a path under the removal, which never
      // follows links.
      teardown: () => fs.rm(runDir, { recursive: true, force: true }),
    };
  }
}

/** The compiled init's copy in the run dir. */
const INIT_FILE = 'init';

/**
 * <tmp>/crucible-run-XXXX/ (root-owned, 0711: nobody else can list it or put anything in it)
 * with work/ inside (the program's, 0700) holding the stage's files (read-only, root-owned) and
 * their directories (root's 0755 in a run stage; the program's in a compile stage, whose compiler
 * writes beside its sources), and the compiled init (if any) next to work/ (0555, the service's:
 * the program cannot replace it). Every path is created by the service before the program runs;
 * afterwards only removed. No isolation: a program that owns work/ can still rename a directory
 * in it (the isolating engines make each one a mount point).
 */
async function createRunDir(stage: Stage, owner: number | undefined, initBinary: Buffer | null): Promise<string> {
  // Every name checked before anything is created (RangeError: the caller's bug).
  const directories = placedDirectories(stage.files);
  const runDir = await fs.mkdtemp(path.join(tmpdir(), 'crucible-run-'));
  try {
    const workDir = path.join(runDir, 'work');
    await fs.mkdir(workDir, { mode: 0o700 });
    // Parents first; each one new (mkdir fails on anything that exists), in a dir only the service wrote to.
    for (const directory of directories) {
      const hostDirectory = path.join(workDir, directory);
      await fs.mkdir(hostDirectory, { mode: 0o755 });
      if (stage.writableDirectories && owner !== undefined) await fs.chown(hostDirectory, owner, owner);
    }
    for (const file of stage.files) {
      // 'wx' never follows or replaces anything: the dir is new and only the service wrote to it.
      await fs.writeFile(path.join(workDir, file.name), file.content, { mode: file.executable ? 0o555 : 0o444, flag: 'wx' });
    }
    if (initBinary !== null) await fs.writeFile(path.join(runDir, INIT_FILE), initBinary, { mode: 0o555, flag: 'wx' });
    if (owner !== undefined) {
      await fs.chown(workDir, owner, owner);
      await fs.chmod(runDir, 0o711);
    }
  } catch (error) {
    await fs.rm(runDir, { recursive: true, force: true });
    throw new SandboxInfrastructureError(`cannot prepare the work dir: ${errorMessage(error)}`, { cause: error });
  }
  return runDir;
}
