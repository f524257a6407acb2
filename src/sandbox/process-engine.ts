/**
 * The `process` engine: the program runs as a plain child process, with no isolation at all (it
 * sees the host's files and network). For development on machines without namespaces;
 * createEngine refuses it unless configuration explicitly allows it.
 *
 * What it still does:
 * - an empty environment (PATH, HOME, TMPDIR, LANG only) and a fresh work dir of its own;
 * - when the service runs as root, the program runs as uid/gid 65534, while the init that
 *   supervises it stays privileged: the program can neither signal nor trace its init;
 * - per-run cgroups when this host allows them (cgroup v1, root): memory, processes and CPU
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
import type { EngineCheck, RunRequest, RunResult, SandboxEngine } from './engine';
import { SandboxInfrastructureError } from './engine';
import { CgroupLayoutCache, withRunCgroup } from './cgroups';
import { createLanguageRegistry, DEFAULT_PYTHON_PATH, runtimeFor, type LanguageRegistry } from './languages';
import { launchInCgroup } from './launcher';
import { killDescendants } from './process-tree';
import { programRlimits } from './rlimits';
import { initArgv } from './sandbox-init';
import { selfCheck } from './self-check';
import { assertApplicableLimits, SANDBOX_FDS, superviseRun } from './supervisor';

export interface ProcessEngineOptions {
  initPythonPath?: string;
  shellPath?: string;
  languages?: LanguageRegistry;
  /** Bytes a program may write to one file (RLIMIT_FSIZE). */
  maxFileBytes?: number;
  /** 'auto': per-run cgroup v1 groups where this process may create them; 'off': rlimits only. */
  cgroups?: 'auto' | 'off';
}

const UNPRIVILEGED_ID = 65534;
const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;
/** The launcher/init counts against the run's pids cgroup (and RLIMIT_NPROC when it shares the uid). */
const INFRASTRUCTURE_TASKS = 1;
/** Memory of the init (python, ~9 MB) charged to the run's memory cgroup. */
const INFRASTRUCTURE_MEMORY_BYTES = 16 * 1024 * 1024;

export class ProcessEngine implements SandboxEngine {
  readonly name = 'process' as const;
  private readonly initPythonPath: string;
  private readonly shellPath: string;
  private readonly languages: LanguageRegistry;
  private readonly maxFileBytes: number;
  private readonly layouts: CgroupLayoutCache;

  constructor(options: ProcessEngineOptions = {}) {
    this.initPythonPath = options.initPythonPath ?? DEFAULT_PYTHON_PATH;
    this.shellPath = options.shellPath ?? '/bin/sh';
    this.languages = options.languages ?? createLanguageRegistry();
    this.maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.layouts = new CgroupLayoutCache(options.cgroups ?? 'auto');
  }

  check(): Promise<EngineCheck> {
    return selfCheck({
      engine: this.name,
      layouts: this.layouts,
      binaries: [this.initPythonPath],
      languages: this.languages,
      facts: ['no isolation (development only)'],
      run: (request) => this.run(request),
    });
  }

  async run(request: RunRequest): Promise<RunResult> {
    const language = runtimeFor(this.languages, request.language);
    assertApplicableLimits(request.limits);
    const privileged = process.getuid?.() === 0;
    const layout = await this.layouts.get();
    const runDir = await this.createRunDir(request.code, language.fileName, privileged ? UNPRIVILEGED_ID : undefined);
    const workDir = path.join(runDir, 'work');
    try {
      return await withRunCgroup(
        layout,
        {
          memoryBytes: request.limits.memoryMb * 1024 * 1024 + INFRASTRUCTURE_MEMORY_BYTES,
          maxTasks: request.limits.maxProcesses + language.runtimeTasks + INFRASTRUCTURE_TASKS,
        },
        (cgroup) => {
          const init = initArgv({
            python: this.initPythonPath,
            channel: { kind: 'fds', statusFd: SANDBOX_FDS.status, stdoutFd: SANDBOX_FDS.stdout, stderrFd: SANDBOX_FDS.stderr },
            rlimits: programRlimits(request.limits, language, {
              fileSizeBytes: this.maxFileBytes,
              memoryFencedByCgroup: cgroup?.has('memory') ?? false,
              tasksFencedByCgroup: cgroup?.has('pids') ?? false,
              // RLIMIT_NPROC counts the processes of the program's uid; the init has it too
              // only when it is not privileged.
              infrastructureTasks: privileged ? 0 : INFRASTRUCTURE_TASKS,
            }),
            user: privileged ? { uid: UNPRIVILEGED_ID, gid: UNPRIVILEGED_ID } : undefined,
            subreaper: true,
            command: language.command(request.limits),
          });
          return superviseRun({
            launch: {
              engine: this.name,
              ...launchInCgroup(this.shellPath, cgroup, this.initPythonPath, init.slice(1)),
              dataInputs: [],
              cwd: workDir,
              env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: workDir, TMPDIR: workDir, LANG: 'C.UTF-8' },
              sweepProcessGroupAfterExit: true,
              // Without privilege, the init is an ordinary process of the program's own uid.
              programCanKillInit: !privileged,
              // The init is a subreaper: while it lives, its tree holds every process of the run.
              onKill: (launcherPid) => {
                if (launcherPid !== undefined) killDescendants(launcherPid);
              },
            },
            request,
            language,
            cgroup,
          });
        },
      );
    } finally {
      // Every process of the run is gone (the init killed its tree; the cgroup, if any, was
      // verified empty), so nothing can swap a path under the removal, which never follows links.
      await fs.rm(runDir, { recursive: true, force: true });
    }
  }

  /**
   * <tmp>/crucible-run-XXXX/ (root-owned, 0711: nobody else can list it or put anything in it)
   * with work/ inside (the program's, 0700) holding the program file (read-only, root-owned).
   * Every path is created by the service before the program runs; afterwards only removed.
   */
  private async createRunDir(code: Buffer, fileName: string, owner: number | undefined): Promise<string> {
    const runDir = await fs.mkdtemp(path.join(tmpdir(), 'crucible-run-'));
    try {
      const workDir = path.join(runDir, 'work');
      await fs.mkdir(workDir, { mode: 0o700 });
      await fs.writeFile(path.join(workDir, fileName), code, { mode: 0o444, flag: 'wx' });
      if (owner !== undefined) {
        await fs.chown(workDir, owner, owner);
        await fs.chmod(runDir, 0o711);
      }
    } catch (error) {
      await fs.rm(runDir, { recursive: true, force: true });
      throw new SandboxInfrastructureError(`cannot prepare the work dir: ${(error as Error).message}`, { cause: error });
    }
    return runDir;
  }
}
