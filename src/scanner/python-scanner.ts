/**
 * Scans Python code by running `python/scan.py` (Python's own `ast` parser) in a bounded child
 * process: by default a fresh fork of a warm fork server (python-fork-server.ts), or with
 * `oneShot` a new interpreter. Either way the child sets its own rlimits (address space, CPU)
 * before it parses the input; this side adds the empty environment, isolated interpreter flags,
 * a wall-clock deadline and an output cap, and turns the child's fate into a report or a typed
 * ScanError.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { SEVERITIES } from '../domain/evaluation';
import { DEFAULT_PYTHON_PATH } from '../sandbox/languages';
import { runBoundedChild, type BoundedChildResult } from './bounded-child';
import { ForkServerPool } from './python-fork-server';
import { compareByPosition, unparseableFinding } from './findings';
import { DEFAULT_SCAN_TIMEOUT_MS, MAX_REPORTED_FINDINGS, ScanError, type ScanReport } from './types';

/** Below the default wall-clock deadline, so slow hostile input hits the CPU limit (a finding) first. */
export const PYTHON_SCAN_CPU_SECONDS = 5;
export const PYTHON_SCAN_MEMORY_MB = 512;
const MAX_STDOUT_BYTES = 1024 * 1024;
const MAX_STDERR_BYTES = 16 * 1024;

/**
 * Resolved next to this module, so it works from `src/` (tsx, ts-jest). A compiled build must
 * copy `python/scan.py` next to the emitted JavaScript (tsc does not copy .py files).
 */
export const PYTHON_SCANNER_SCRIPT = path.join(__dirname, 'python', 'scan.py');

export interface PythonScanOptions {
  pythonPath?: string;
  timeoutMs?: number;
  /** A new interpreter for this scan instead of a fork of the warm server (about 40 ms more). */
  oneShot?: boolean;
}

const findingSchema = z.strictObject({
  ruleId: z.string().min(1),
  severity: z.enum(SEVERITIES),
  message: z.string(),
  line: z.number().int().min(1),
  column: z.number().int().min(1),
});
const reportSchema = z.strictObject({
  findings: z.array(findingSchema).max(MAX_REPORTED_FINDINGS + 1),
  syntaxError: z.strictObject({ message: z.string(), line: z.number().int().min(1), column: z.number().int().min(1) }).nullable(),
});

/** Flags for an interpreter that ignores the environment, user site-packages and site.py. */
function interpreterArguments(extra: readonly string[]): string[] {
  return ['-I', '-S', '-B', PYTHON_SCANNER_SCRIPT, ...extra];
}

function assertScriptPresent(): void {
  if (!existsSync(PYTHON_SCANNER_SCRIPT)) {
    throw new ScanError('scanner_unavailable', `Python scanner script not found at ${PYTHON_SCANNER_SCRIPT}`);
  }
}

const LIMIT_ARGUMENTS = [
  '--max-findings',
  String(MAX_REPORTED_FINDINGS),
  '--cpu-seconds',
  String(PYTHON_SCAN_CPU_SECONDS),
  '--memory-mb',
  String(PYTHON_SCAN_MEMORY_MB),
];

/** One pool of fork servers per interpreter, for the life of the process. */
const pools = new Map<string, ForkServerPool>();

function forkServers(pythonPath: string): ForkServerPool {
  let pool = pools.get(pythonPath);
  if (!pool) {
    pool = new ForkServerPool(pythonPath, interpreterArguments(['--serve', ...LIMIT_ARGUMENTS]));
    pools.set(pythonPath, pool);
  }
  return pool;
}

/** Stops the warm scanners (they also stop by themselves when this process exits). */
export function closePythonScanServers(): void {
  for (const pool of pools.values()) pool.close();
  pools.clear();
}

export async function scanPython(code: Buffer, options: PythonScanOptions = {}): Promise<ScanReport> {
  assertScriptPresent();
  const pythonPath = options.pythonPath ?? DEFAULT_PYTHON_PATH;
  const timeoutMs = options.timeoutMs ?? DEFAULT_SCAN_TIMEOUT_MS;
  const result = options.oneShot
    ? await runBoundedChild(pythonPath, interpreterArguments(LIMIT_ARGUMENTS), code, {
        timeoutMs,
        maxStdoutBytes: MAX_STDOUT_BYTES,
        maxStderrBytes: MAX_STDERR_BYTES,
      })
    : await forkServers(pythonPath).run(code, timeoutMs);
  return interpretResult(result, pythonPath, timeoutMs);
}

function describeExit(result: BoundedChildResult): string {
  const status = result.signal ? `signal ${result.signal}` : `exit status ${result.exitCode}`;
  const input = result.inputError ? `; writing its input failed: ${result.inputError}` : '';
  const stderr = result.stderr.trim() ? `: ${result.stderr.trim().slice(-2000)}` : '';
  return `${status}${input}${stderr}`;
}

function interpretResult(result: BoundedChildResult, pythonPath: string, timeoutMs: number): ScanReport {
  if (result.timedOut) {
    throw new ScanError('scan_timeout', `Python scan did not finish within ${timeoutMs} ms`);
  }
  if (result.stdoutOverflow) {
    throw new ScanError('scanner_failed', `Python scanner wrote more than ${MAX_STDOUT_BYTES} bytes`);
  }
  if (result.signal !== null) {
    // Killed by something other than our deadline: the CPU rlimit (SIGXCPU, then SIGKILL), or a
    // crash inside the parser. Either way this input is what the scanner cannot handle safely.
    const reason =
      result.signal === 'SIGXCPU' || result.signal === 'SIGKILL'
        ? `parsing it exceeded the scanner's CPU limit (${PYTHON_SCAN_CPU_SECONDS} s, ${result.signal})`
        : `the Python parser crashed on it (${result.signal})`;
    return { findings: [unparseableFinding(reason)], syntaxError: null };
  }
  if (result.exitCode !== 0) {
    throw new ScanError('scanner_failed', `Python scanner (${pythonPath}) failed with ${describeExit(result)}`);
  }
  return parseReport(result.stdout);
}

function parseReport(stdout: string): ScanReport {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch (error) {
    throw new ScanError('scanner_failed', `Python scanner printed invalid JSON: ${stdout.slice(0, 200)}`, { cause: error });
  }
  const parsed = reportSchema.safeParse(json);
  if (!parsed.success) {
    throw new ScanError('scanner_failed', `Python scanner broke its output protocol: ${z.prettifyError(parsed.error)}`);
  }
  return { findings: parsed.data.findings.sort(compareByPosition), syntaxError: parsed.data.syntaxError };
}

/** The scanner's rule catalog, as printed by `scan.py --list-rules` (used by tests to keep the TS copy in step). */
export async function listPythonRules(options: PythonScanOptions = {}): Promise<unknown> {
  assertScriptPresent();
  const pythonPath = options.pythonPath ?? DEFAULT_PYTHON_PATH;
  const result = await runBoundedChild(pythonPath, interpreterArguments(['--list-rules']), Buffer.alloc(0), {
    timeoutMs: options.timeoutMs ?? DEFAULT_SCAN_TIMEOUT_MS,
    maxStdoutBytes: MAX_STDOUT_BYTES,
    maxStderrBytes: MAX_STDERR_BYTES,
  });
  if (result.timedOut || result.exitCode !== 0) {
    throw new ScanError('scanner_failed', `scan.py --list-rules failed with ${describeExit(result)}`);
  }
  return JSON.parse(result.stdout) as unknown;
}
