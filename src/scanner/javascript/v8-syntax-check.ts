/**
 * Asks V8 itself whether code that acorn rejected compiles the way Node would load it
 * (a CommonJS function body). If acorn and V8 disagree, a submission could hide behind syntax
 * only the runtime accepts, so the caller treats "V8 compiles it" as unscannable code.
 *
 * V8 compiles (never runs) the code in a separate, short-lived Node process: its parser is
 * C++, and hostile input is kept out of the worker's own address space, like the Python parser.
 */
import { runBoundedChild } from '../bounded-child';
import { ScanError } from '../types';

const CHECK_PROGRAM = `
const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => {
  const source = Buffer.concat(chunks).toString('utf8').replace(/^\\uFEFF/, '');
  let verdict;
  try {
    require('vm').compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname']);
    verdict = { compiles: true };
  } catch (error) {
    verdict = { compiles: false, message: String(error && error.message).slice(0, 500) };
  }
  process.stdout.write(JSON.stringify(verdict));
});
`;

const MAX_HEAP_MB = 256;

export type V8Verdict =
  | { kind: 'compiles' }
  | { kind: 'rejects'; message: string }
  /** V8 died compiling it (heap exhausted, crash): the caller cannot know what Node would do. */
  | { kind: 'crashed'; signal: string };

function parseVerdict(stdout: string): V8Verdict {
  let verdict: { compiles?: unknown; message?: unknown };
  try {
    verdict = JSON.parse(stdout) as typeof verdict;
  } catch (error) {
    throw new ScanError('scanner_failed', `V8 syntax check printed invalid JSON: ${stdout.slice(0, 200)}`, { cause: error });
  }
  if (verdict.compiles === true) return { kind: 'compiles' };
  if (verdict.compiles === false) return { kind: 'rejects', message: String(verdict.message) };
  throw new ScanError('scanner_failed', `V8 syntax check printed an unexpected verdict: ${stdout.slice(0, 200)}`);
}

export async function checkWithV8(code: Buffer, timeoutMs: number): Promise<V8Verdict> {
  const result = await runBoundedChild(process.execPath, [`--max-old-space-size=${MAX_HEAP_MB}`, '-e', CHECK_PROGRAM], code, {
    timeoutMs,
    maxStdoutBytes: 64 * 1024,
    maxStderrBytes: 16 * 1024,
  });
  if (result.timedOut) throw new ScanError('scan_timeout', `V8 syntax check did not finish within ${timeoutMs} ms`);
  if (result.stdoutOverflow) throw new ScanError('scanner_failed', 'V8 syntax check wrote too much output');
  if (result.signal !== null) return { kind: 'crashed', signal: result.signal };
  if (result.exitCode === 0) return parseVerdict(result.stdout);
  throw new ScanError('scanner_failed', `V8 syntax check failed with exit status ${result.exitCode}: ${result.stderr.trim().slice(-1000)}`);
}
