/**
 * Scans C, C++, Go, Java and Bash (analyse.ts) in a worker thread, so that a large input, which
 * takes a second or more to parse, never blocks the worker's event loop (heartbeats of other
 * activities, Temporal's polls). One thread, started on first use and not keeping the process
 * alive; a scan past its deadline terminates the thread, and the next scan starts a new one.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { unparseableFinding } from '../findings';
import { DEFAULT_SCAN_TIMEOUT_MS, ScanError, type ScanReport } from '../types';
import type { GrammarName } from './grammars';
import type { ScanJob } from './scan-thread';

export interface TreeSitterScanOptions {
  timeoutMs?: number;
}

type Answer = { id: number; report: ScanReport } | { id: number; error: string };

let thread: Worker | null = null;
let nextId = 0;
const pending = new Map<number, { resolve: (answer: Answer) => void; reject: (error: Error) => void }>();

function scanThread(): Worker {
  if (thread !== null) return thread;
  const worker = new Worker(path.join(__dirname, 'scan-thread-entry.cjs'));
  worker.on('message', (answer: Answer) => {
    pending.get(answer.id)?.resolve(answer);
    pending.delete(answer.id);
  });
  const fail = (error: Error) => {
    if (thread === worker) thread = null;
    for (const waiting of pending.values()) waiting.reject(error);
    pending.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the scan thread exited (code ${code})`)));
  // After the listeners: adding a 'message' listener refs the thread's port again.
  worker.unref();
  thread = worker;
  return worker;
}

export async function scanWithTreeSitter(grammar: GrammarName, code: Buffer, options: TreeSitterScanOptions = {}): Promise<ScanReport> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_SCAN_TIMEOUT_MS;
  const worker = scanThread();
  const id = nextId++;
  const job: ScanJob = { id, grammar, code: new Uint8Array(code), timeoutMs };
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = await new Promise<Answer | 'timeout'>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      // The parser stops itself at the deadline; this is for a thread that does not answer at all.
      timer = setTimeout(() => resolve('timeout'), timeoutMs + 1000);
      worker.postMessage(job);
    });
    if (answer === 'timeout') {
      pending.delete(id);
      await worker.terminate();
      return { findings: [unparseableFinding('scanning it took longer than the scanner allows')], syntaxError: null };
    }
    if ('error' in answer) throw new ScanError('scanner_unavailable', `the ${grammar} scanner failed: ${answer.error}`);
    return answer.report;
  } catch (error) {
    if (error instanceof ScanError) throw error;
    throw new ScanError('scanner_failed', `the ${grammar} scanner failed: ${String(error)}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}

/** Stops the scan thread (tests, shutdown); the next scan starts a new one. */
export async function closeTreeSitterScanner(): Promise<void> {
  const running = thread;
  thread = null;
  await running?.terminate();
}
