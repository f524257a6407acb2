/**
 * The verdict's raw material: what the supervisor observed (Ending) and what the cgroup counted,
 * turned into a RunResult. A user's failure (time, memory, output, crash) is a result; a sandbox
 * that failed (did not start in time, ended without a report, broke its protocol) throws
 * SandboxInfrastructureError.
 *
 * Figures: cpuTimeMs and memoryKb are the program's own rusage from the init when it reported;
 * else (the init was killed) the cgroup's, counted from the program's start.
 *
 * limitHit: the kill the supervisor made (output, wall time, CPU), else memory when the cgroup
 * recorded an OOM kill, else cpu_time on SIGXCPU or CPU >= limit, else memory (cpu_time) when the
 * program ended abnormally with its stage's out-of-memory (CPU-limit) message.
 */
import type { EngineName, LimitHit, RunResult } from '../engine';
import { SandboxInfrastructureError } from '../engine';
import type { RunCgroupUsage } from '../host/cgroup-backend';
import { parseInitLine, type InitReport } from './init';
import type { Stage } from './stage';
import { signalName } from './signals';
import type { Ending } from './supervisor';

export interface VerdictInput {
  engine: EngineName;
  stage: Stage;
  startupTimeoutMs: number;
  /** See Launch.programCanKillInit. */
  programCanKillInit: boolean;
}

/** The stage's result, and why the init could not bring its artefacts out (a collecting stage). */
export interface StageVerdict {
  result: RunResult;
  collectError: string | null;
}

export function verdict(
  { engine, stage, startupTimeoutMs, programCanKillInit }: VerdictInput,
  ending: Ending,
  usage: RunCgroupUsage | null,
): StageVerdict {
  const { limits } = stage;
  if (ending.killReason === 'startup') {
    throw new SandboxInfrastructureError(
      `the sandbox did not start the program within ${startupTimeoutMs} ms: ` + (ending.diagnostics.trim() || 'no diagnostics'),
    );
  }
  const report = readReport(ending);
  if (report?.kind === 'exec_failed') {
    const what = stage.kind === 'compile' ? `${stage.language} compiler` : `${stage.language} program`;
    throw new SandboxInfrastructureError(`cannot start the ${what}: ${report.message}`);
  }
  const oomKilled = (usage?.oomKills ?? 0) > 0;
  const initKilledByProgram = report === null && programCanKillInit && ending.diagnostics.trim() === '';
  // The run's own tasks filled its pids group, and the sandbox machinery (gVisor's Sentry) died of it.
  const tasksExhausted = report === null && (usage?.pidsLimitHits ?? 0) > 0;
  if (report === null && ending.killReason === null && !oomKilled && !initKilledByProgram && !tasksExhausted) {
    // Init is PID 1 of the sandbox: the program cannot kill it, so its silence means the sandbox
    // failed to start (bwrap error) or something outside killed it.
    throw new SandboxInfrastructureError(
      `sandbox ended without a report (exit code ${ending.exitCode}, signal ${ending.exitSignal}): ` +
        (ending.diagnostics.trim() || 'no diagnostics'),
    );
  }

  const exitCode = report ? report.exitCode : initKilledByProgram ? ending.exitCode : null;
  // Without a report the init itself was killed (by us, or by the OOM killer), and with it the program.
  const signal = report
    ? report.signalNumber === null
      ? null
      : signalName(report.signalNumber)
    : initKilledByProgram
      ? ending.exitSignal
      : 'SIGKILL';
  // The cgroup counts the sandbox's set-up too; only what came after the program's start is its own.
  const cgroupCpuTimeMs = usage?.cpuTimeMs == null ? null : Math.max(0, usage.cpuTimeMs - ending.cpuBaselineMs);
  const measuredCpuTimeMs = report?.cpuTimeMs ?? cgroupCpuTimeMs ?? 0;
  const limitHit = whichLimit();
  // A run stopped by the CPU limit used at least the limit, even when the program's own rusage
  // (sampled, and blind to the part of the run the cgroup counter saw) says a little less.
  const cpuTimeMs = limitHit === 'cpu_time' ? Math.max(measuredCpuTimeMs, cgroupCpuTimeMs ?? 0, limits.cpuTimeMs) : measuredCpuTimeMs;

  const result: RunResult = {
    stdout: ending.stdout.toBuffer(),
    stderr: ending.stderr.toBuffer(),
    exitCode,
    signal,
    timeMs: report?.wallTimeMs ?? ending.elapsedMs,
    cpuTimeMs,
    memoryKb: report?.maxRssKb ?? usage?.peakMemoryKb ?? 0,
    stdoutTruncated: ending.stdout.truncated,
    stderrTruncated: ending.stderr.truncated,
    limitHit,
    engine,
    cancelled: ending.killReason === 'cancelled',
  };
  return { result, collectError: report?.kind === 'finished' ? report.collectError : null };

  function whichLimit(): LimitHit {
    switch (ending.killReason) {
      case 'output':
      case 'wall_time':
      case 'cpu_time':
        return ending.killReason;
      case 'cancelled':
        return null;
      case null:
        break;
    }
    if (oomKilled) return 'memory';
    if (signal === 'SIGXCPU' || measuredCpuTimeMs >= limits.cpuTimeMs) return 'cpu_time';
    const abnormal = signal !== null || exitCode !== 0;
    if (abnormal) {
      const stderrText = ending.stderr.toBuffer().toString('utf8');
      if (stage.outOfMemoryPatterns.some((pattern) => pattern.test(stderrText))) return 'memory';
      if (stage.cpuLimitPatterns?.some((pattern) => pattern.test(stderrText))) return 'cpu_time';
    }
    return null;
  }
}

function readReport(ending: Ending): InitReport | null {
  if (ending.statusError !== null) {
    throw new SandboxInfrastructureError(ending.statusError.message, { cause: ending.statusError });
  }
  const line = ending.statusLine.trim();
  if (line === '') return null;
  const parsed = parseInitLine(line);
  if (parsed.kind === 'started') throw new SandboxInfrastructureError(`unexpected init status line ${JSON.stringify(line)}`);
  return parsed;
}

export function cancelledBeforeStart(engine: EngineName): RunResult {
  return {
    stdout: Buffer.alloc(0),
    stderr: Buffer.alloc(0),
    exitCode: null,
    signal: null,
    timeMs: 0,
    cpuTimeMs: 0,
    memoryKb: 0,
    stdoutTruncated: false,
    stderrTruncated: false,
    limitHit: null,
    engine,
    cancelled: true,
  };
}
