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
 * How `execute` hands the output to `persistResults`. Output that fits in its preview travels in
 * the history (`inline`, with that preview): the preview would carry it anyway, and parking it
 * would cost two more database writes per run. Anything longer is parked in PostgreSQL and only
 * its id and preview travel (`stored`), so histories stay small. Runs recorded before previews
 * existed have `inline` without one.
 */
export type StoredOutput =
  | { kind: 'inline'; stdoutBase64: string; stderrBase64: string; preview?: OutputPreview }
  | { kind: 'stored'; outputId: string; preview?: OutputPreview };
