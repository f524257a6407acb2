/**
 * The worker thread that runs tree-sitter scans (see scan.ts): one job at a time, each answered
 * with its report or its error message.
 */
import { parentPort } from 'node:worker_threads';
import { analyse } from './analyse';
import type { GrammarName } from './grammars';

export interface ScanJob {
  id: number;
  grammar: GrammarName;
  code: Uint8Array;
  timeoutMs: number;
}

parentPort?.on('message', (job: ScanJob) => {
  analyse(job.grammar, job.code, job.timeoutMs).then(
    (report) => parentPort?.postMessage({ id: job.id, report }),
    (error: unknown) => parentPort?.postMessage({ id: job.id, error: error instanceof Error ? error.message : String(error) }),
  );
});
