/**
 * The `process` engine: the program runs as a plain child process under rlimits, with no
 * isolation at all (it sees the host's files and network). For development on machines without
 * namespaces; createEngine refuses it unless configuration explicitly allows it.
 *
 * What it still does: an empty environment (PATH, HOME, TMPDIR, LANG only), a fresh temporary
 * work dir, rlimits (CPU, address space for Python, processes, file size, open files, no core
 * dumps), output caps, wall time, cancellation, and, when the service runs as root, a drop to
 * uid/gid 65534. What it cannot do: hide anything, bound memory of node (heap flag only), or kill
 * a program that daemonized with setsid() (it leaves the process group the engine kills).
 */
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RunRequest, RunResult, SandboxEngine } from './engine';
import { SandboxInfrastructureError } from './engine';
import { createLanguageRegistry, type LanguageRegistry } from './languages';
import { programRlimits } from './rlimits';
import { initArgv } from './sandbox-init';
import { assertApplicableLimits, SANDBOX_FDS, superviseRun } from './supervisor';

export interface ProcessEngineOptions {
  initPythonPath?: string;
  languages?: LanguageRegistry;
  /** Bytes a program may write to one file (RLIMIT_FSIZE). */
  maxFileBytes?: number;
}

const UNPRIVILEGED_ID = 65534;
const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;
/** The init process counts against RLIMIT_NPROC of the same uid. */
const INFRASTRUCTURE_TASKS = 1;

export class ProcessEngine implements SandboxEngine {
  readonly name = 'process' as const;
  private readonly initPythonPath: string;
  private readonly languages: LanguageRegistry;
  private readonly maxFileBytes: number;

  constructor(options: ProcessEngineOptions = {}) {
    this.initPythonPath = options.initPythonPath ?? '/usr/bin/python3';
    this.languages = options.languages ?? createLanguageRegistry();
    this.maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  }

  async check(): Promise<{ ok: boolean; detail: string }> {
    try {
      const result = await this.run({
        language: 'python',
        code: Buffer.from('print("ok")\n'),
        limits: { cpuTimeMs: 2000, wallTimeMs: 5000, memoryMb: 64, maxProcesses: 8, maxOutputBytes: 1024 },
      });
      const ok = result.exitCode === 0 && result.stdout.toString() === 'ok\n';
      return {
        ok,
        detail: ok
          ? `trivial program ran in ${result.timeMs} ms; no isolation (process engine)`
          : `trivial program failed (exit ${result.exitCode}, signal ${result.signal}): ${result.stderr.toString().slice(0, 500)}`,
      };
    } catch (error) {
      return { ok: false, detail: (error as Error).message };
    }
  }

  async run(request: RunRequest): Promise<RunResult> {
    const language = this.languages[request.language];
    if (language === undefined) {
      throw new SandboxInfrastructureError(`no runtime registered for language ${JSON.stringify(request.language)}`);
    }
    assertApplicableLimits(request.limits);
    const runAs = process.getuid?.() === 0 ? UNPRIVILEGED_ID : undefined;
    const workDir = await this.createWorkDir(request.code, language.fileName, runAs);
    try {
      return await superviseRun({
        launch: {
          engine: this.name,
          executable: this.initPythonPath,
          args: initArgv({
            python: this.initPythonPath,
            statusFd: SANDBOX_FDS.status,
            stdoutFd: SANDBOX_FDS.stdout,
            stderrFd: SANDBOX_FDS.stderr,
            rlimits: programRlimits(request.limits, language, {
              fileSizeBytes: this.maxFileBytes,
              memoryFencedByCgroup: false,
              tasksFencedByCgroup: false,
              infrastructureTasks: INFRASTRUCTURE_TASKS,
            }),
            command: language.command(request.limits),
          }).slice(1),
          dataInputs: [],
          cwd: workDir,
          env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: workDir, TMPDIR: workDir, LANG: 'C.UTF-8' },
          uid: runAs,
          gid: runAs,
          sweepProcessGroupAfterExit: true,
          // Outside a PID namespace the init is an ordinary process the program may kill.
          programCanKillInit: true,
        },
        request,
        language,
        cgroup: null,
      });
    } finally {
      await fs.rm(workDir, { recursive: true, force: true });
    }
  }

  private async createWorkDir(code: Buffer, fileName: string, owner: number | undefined): Promise<string> {
    const workDir = await fs.mkdtemp(path.join(tmpdir(), 'crucible-run-'));
    try {
      await fs.writeFile(path.join(workDir, fileName), code, { mode: 0o444 });
      if (owner !== undefined) await fs.chown(workDir, owner, owner);
    } catch (error) {
      await fs.rm(workDir, { recursive: true, force: true });
      throw new SandboxInfrastructureError(`cannot prepare the work dir: ${(error as Error).message}`, { cause: error });
    }
    return workDir;
  }
}
