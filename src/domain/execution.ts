/**
 * What a finished sandbox run hands on, as plain types shared by the workflow, the activities,
 * the store and the sandbox: the workflow imports this, so it stays free of imports.
 */

/** Which limit ended the run, if one did. */
export type LimitHit = 'cpu_time' | 'wall_time' | 'memory' | 'output' | null;

/** What a sandbox run reports, as stored in the evaluation's columns (output is stored apart). */
export interface ExecutionFields {
  /** Exit code of the program; null when it was killed by a signal. */
  exitCode: number | null;
  /** Signal name (e.g. 'SIGKILL') when the program was killed by one, else null. */
  signal: string | null;
  timeMs: number;
  cpuTimeMs: number;
  memoryKb: number;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  /** The engine that ran it: bwrap, gvisor or process. */
  engine: string;
  /**
   * Wall time of the compile stage for a compiled language (C, C++, Go, Java), null or absent for
   * an interpreted one. Absent in histories recorded before languages had a compile stage.
   */
  compileTimeMs?: number | null;
}

/** A few hundred characters of the output as text, so a run's history says what it printed. */
export interface OutputPreview {
  stdout: string;
  stderr: string;
  stdoutBytes: number;
  stderrBytes: number;
}

/**
 * How `execute` hands the output to `persistResults`. Current runs always park it in PostgreSQL
 * and pass the id with a preview, so histories stay small; `inline` is kept for runs recorded
 * before that (their histories still replay and persist).
 */
export type StoredOutput =
  { kind: 'inline'; stdoutBase64: string; stderrBase64: string } | { kind: 'stored'; outputId: string; preview?: OutputPreview };
