/**
 * The engines' check() for /readyz: one line that says which engine, how runs are fenced (which
 * cgroup backend, and why), and what is wrong if anything is, after running a trivial program
 * for real.
 *
 *   engine=bwrap; mode=cgroups (cgroup v1: memory, pids, cpuacct); seccomp on; ...; python ok in 41 ms
 *   engine=gvisor; ...; problem: /usr/bin/runsc is not executable: ENOENT ...
 */
import { promises as fs, constants as fsConstants } from 'node:fs';
import type { EngineCheck, EngineName, RunRequest, RunResult } from '../engine';
import { errorMessage } from '../engine';
import type { CgroupBackendCache } from '../host/cgroup-backend';

const CHECK_LIMITS = { cpuTimeMs: 2000, wallTimeMs: 5000, memoryMb: 64, maxProcesses: 8, maxOutputBytes: 1024 };

export interface SelfCheckInput {
  engine: EngineName;
  cgroups: CgroupBackendCache;
  /**
   * Binaries the engine needs (its own, and the init's python), checked for being executable.
   * A language's toolchain is not among them: a missing one makes that language unavailable
   * (GET /v1/languages says why), not the engine.
   */
  binaries: readonly string[];
  /** Further facts for the line ("seccomp on", "platform=ptrace"). */
  facts: readonly string[];
  run(request: RunRequest): Promise<RunResult>;
}

export async function selfCheck(input: SelfCheckInput): Promise<EngineCheck> {
  const parts = [`engine=${input.engine}`];
  const problems: string[] = [];
  let mode: EngineCheck['mode'];
  try {
    const backend = await input.cgroups.get();
    mode = backend.kind === 'rlimits' ? 'rlimits' : 'cgroups';
    parts.push(`mode=${mode} (${backend.describe()})`);
  } catch (error) {
    problems.push(errorMessage(error));
  }
  parts.push(...input.facts);
  for (const binary of input.binaries) {
    try {
      await fs.access(binary, fsConstants.X_OK);
    } catch (error) {
      problems.push(`${binary} is not executable: ${errorMessage(error)}`);
    }
  }
  if (problems.length === 0) {
    try {
      const result = await input.run({ language: 'python', code: Buffer.from('print("ok")\n'), limits: CHECK_LIMITS });
      if (result.exitCode === 0 && result.stdout.toString() === 'ok\n') {
        parts.push(`python ok in ${result.timeMs} ms`);
      } else {
        problems.push(
          `trivial program failed (exit ${result.exitCode}, signal ${result.signal}): ${result.stderr.toString().slice(0, 500)}`,
        );
      }
    } catch (error) {
      problems.push(errorMessage(error));
    }
  }
  if (problems.length > 0) parts.push(`problem: ${problems.join('; ')}`);
  return { ok: problems.length === 0, detail: parts.join('; '), engine: input.engine, mode };
}
