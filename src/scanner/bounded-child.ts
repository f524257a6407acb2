/**
 * Runs a helper process (the Python scanner, the V8 syntax check) on untrusted input with hard
 * bounds: an empty environment, a wall-clock deadline after which it is SIGKILLed, and capped
 * output. It reports what the child did and leaves the meaning to the caller; it rejects only
 * when the child cannot be started or controlled.
 */
import { spawn } from 'node:child_process';
import { ScanError } from './types';

export interface BoundedChildOptions {
  timeoutMs: number;
  maxStdoutBytes: number;
  maxStderrBytes: number;
}

export interface BoundedChildResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** We killed it because the deadline passed. */
  timedOut: boolean;
  /** We killed it because stdout exceeded its cap. */
  stdoutOverflow: boolean;
  /** Writing the input failed (usually EPIPE: the child exited before reading it all). */
  inputError: string | null;
  /** The process that scanned (a fresh one every time). */
  pid?: number;
}

class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  overflowed = false;

  constructor(private readonly limit: number) {}

  append(chunk: Buffer): void {
    const room = this.limit - this.size;
    if (chunk.length > room) this.overflowed = true;
    const kept = chunk.length > room ? chunk.subarray(0, Math.max(0, room)) : chunk;
    this.chunks.push(kept);
    this.size += kept.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

export function runBoundedChild(
  command: string,
  args: readonly string[],
  input: Buffer,
  options: BoundedChildOptions,
): Promise<BoundedChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: {}, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout = new CappedBuffer(options.maxStdoutBytes);
    const stderr = new CappedBuffer(options.maxStderrBytes);
    let timedOut = false;
    let inputError: string | null = null;
    let settled = false;

    const deadline = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);

    const fail = (error: ScanError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      child.kill('SIGKILL');
      reject(error);
    };

    child.on('error', (error) => {
      // Without a pid the process never started; with one, we lost control of it (kill failed).
      const code = child.pid === undefined ? 'scanner_unavailable' : 'scanner_failed';
      fail(
        new ScanError(code, `${child.pid === undefined ? 'cannot start' : 'lost control of'} ${command}: ${error.message}`, {
          cause: error,
        }),
      );
    });
    child.stdout.on('data', (chunk: Buffer) => {
      stdout.append(chunk);
      if (stdout.overflowed) child.kill('SIGKILL');
    });
    child.stderr.on('data', (chunk: Buffer) => stderr.append(chunk));
    // The child may exit (limits, crash) before reading all its input. That must not become an
    // unhandled 'error' event; it is reported with the result, next to the exit status.
    child.stdin.on('error', (error: NodeJS.ErrnoException) => {
      inputError = error.code ?? error.message;
    });
    child.stdin.end(input);

    child.on('close', (exitCode, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve({
        stdout: stdout.text(),
        stderr: stderr.text(),
        exitCode,
        signal,
        timedOut,
        stdoutOverflow: stdout.overflowed,
        inputError,
        pid: child.pid,
      });
    });
  });
}
