/**
 * Pathological and hostile inputs: each must produce a report or a typed ScanError within a
 * deadline, never hang, never crash the caller, and never run the submitted code.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MAX_REPORTED_FINDINGS, MAX_SCAN_INPUT_BYTES, ScanError, scanCode, type ScanReport } from '../../src/scanner';
import { findingsOf, ruleIdsOf, withinDeadline } from './helpers';

const DEADLINE_MS = 10_000;
const KIB_256 = MAX_SCAN_INPUT_BYTES;

/** Whole copies of `text` (ASCII), padded with newlines to exactly `bytes` bytes. */
function fill(text: string, bytes: number = KIB_256): Buffer {
  return Buffer.from(text.repeat(Math.floor(bytes / text.length)).padEnd(bytes, '\n'));
}

async function scanError(promise: Promise<ScanReport>): Promise<ScanError> {
  try {
    await withinDeadline(promise, DEADLINE_MS);
  } catch (error) {
    if (error instanceof ScanError) return error;
    throw error;
  }
  throw new Error('expected a ScanError');
}

describe('hostile Python input', () => {
  const python = (code: Buffer | string) => withinDeadline(scanCode('python', Buffer.from(code)), DEADLINE_MS);

  it('reports a parser stack overflow (deep unary operators) as scan.unparseable', async () => {
    const report = await python('-'.repeat(100_000) + '1\n');
    expect(ruleIdsOf(report)).toEqual(['scan.unparseable']);
    expect(report.findings[0]?.severity).toBe('critical');
  });

  it('reports an expression too deep for the AST (RecursionError) as scan.unparseable', async () => {
    const report = await python('1' + '+1'.repeat((KIB_256 - 1) / 2));
    expect(ruleIdsOf(report)).toEqual(['scan.unparseable']);
  });

  it('reports nesting the tokenizer refuses as a syntax error', async () => {
    const report = await python('('.repeat(100_000) + ')'.repeat(100_000));
    expect(report.findings).toEqual([]);
    expect(report.syntaxError?.message).toMatch(/too many nested parentheses/);
  });

  it('reports NUL bytes as a syntax error at the first NUL', async () => {
    const report = await python(Buffer.from('x = 1\ny = "a\0b"\n'));
    expect(report).toEqual({ findings: [], syntaxError: { message: 'source code cannot contain null bytes', line: 2, column: 7 } });
  });

  it('reports invalid UTF-8 as a syntax error', async () => {
    const report = await python(Buffer.from([0x78, 0x20, 0x3d, 0x20, 0x22, 0xff, 0xfe, 0x22, 0x0a]));
    expect(report.findings).toEqual([]);
    expect(report.syntaxError?.message).toMatch(/utf-8/);
  });

  it('scans 256 KiB of ordinary code', async () => {
    const report = await python(fill('total = sum(range(10))\n'));
    expect(report).toEqual({ findings: [], syntaxError: null });
  });

  it('caps 256 KiB of findings to the most severe, and says so', async () => {
    const report = await python(fill('eval(1)\nimport pickle\n'));
    expect(report.findings.length).toBe(MAX_REPORTED_FINDINGS + 1);
    expect(findingsOf(report, 'scan.findings_truncated')).toHaveLength(1);
    expect(findingsOf(report, 'py.call.eval')).toHaveLength(MAX_REPORTED_FINDINGS);
  });

  it('rejects input over the size limit with a typed, non-retryable error', async () => {
    const error = await scanError(scanCode('python', Buffer.alloc(KIB_256 + 1, 0x20)));
    expect(error.code).toBe('input_too_large');
    expect(error.retryable).toBe(false);
  });

  it('never runs the submitted code', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'scan-marker-'));
    const marker = path.join(dir, 'ran');
    try {
      const report = await python(`open(${JSON.stringify(marker)}, "w").write("ran")\nprint("not JSON")\n`);
      expect(report).toEqual({ findings: [], syntaxError: null });
      expect(existsSync(marker)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('survives many concurrent scans', async () => {
    const reports = await withinDeadline(
      Promise.all(Array.from({ length: 24 }, (_, i) => scanCode('python', Buffer.from(`import socket\nx = ${i}\n`)))),
      DEADLINE_MS,
    );
    for (const report of reports) expect(ruleIdsOf(report)).toEqual(['py.import.socket']);
  });
});

// How a one-shot scan reads its child's fate (the warm fork server's own failures are in python-fork-server.test.ts).
describe('a misbehaving Python interpreter', () => {
  let dir: string;
  const fakes: Record<string, string> = {
    sleeper: 'exec sleep 30',
    'cpu-limited': 'kill -XCPU $$',
    crasher: 'kill -SEGV $$',
    garbage: 'echo "this is not JSON"',
    failing: 'echo "Traceback: boom" >&2; exit 1',
    flooding: 'exec yes',
    'wrong-shape': 'echo \'{"findings": [{"ruleId": "x"}], "syntaxError": null}\'',
  };
  const fake = (name: string) => path.join(dir, name);

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'fake-python-'));
    for (const [name, body] of Object.entries(fakes)) {
      writeFileSync(fake(name), `#!/bin/sh\ncat >/dev/null\n${body}\n`);
      chmodSync(fake(name), 0o755);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const scanWith = (pythonPath: string, timeoutMs?: number) =>
    scanCode('python', Buffer.from('print(1)\n'), { pythonPath, oneShot: true, ...(timeoutMs ? { timeoutMs } : {}) });

  it('is killed at the wall-clock deadline: scan_timeout (retryable)', async () => {
    const started = Date.now();
    const error = await scanError(scanWith(fake('sleeper'), 300));
    expect(error.code).toBe('scan_timeout');
    expect(error.retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('hitting the CPU rlimit (SIGXCPU) makes the input unparseable, not an error', async () => {
    const report = await withinDeadline(scanWith(fake('cpu-limited')), DEADLINE_MS);
    expect(ruleIdsOf(report)).toEqual(['scan.unparseable']);
    expect(report.findings[0]?.message).toMatch(/CPU limit/);
  });

  it('a parser crash (SIGSEGV) makes the input unparseable', async () => {
    const report = await withinDeadline(scanWith(fake('crasher')), DEADLINE_MS);
    expect(ruleIdsOf(report)).toEqual(['scan.unparseable']);
  });

  it.each([
    ['garbage', /invalid JSON/],
    ['failing', /exit status 1.*Traceback: boom/s],
    ['flooding', /more than/],
    ['wrong-shape', /output protocol/],
  ])('%s output is a scanner_failed ScanError', async (name, message) => {
    const error = await scanError(scanWith(fake(name)));
    expect(error.code).toBe('scanner_failed');
    expect(error.message).toMatch(message);
  });

  it('a missing interpreter is scanner_unavailable', async () => {
    const error = await scanError(scanWith(path.join(dir, 'no-such-python')));
    expect(error.code).toBe('scanner_unavailable');
    expect(error.retryable).toBe(true);
  });
});

describe('hostile JavaScript input', () => {
  const javascript = (code: Buffer | string) => withinDeadline(scanCode('javascript', Buffer.from(code)), DEADLINE_MS);

  it.each([
    ['nested arrays', '['.repeat(100_000) + ']'.repeat(100_000)],
    ['nested parentheses', '('.repeat(100_000) + '1' + ')'.repeat(100_000)],
    ['long + chain', '1' + '+1'.repeat(100_000)],
    ['nested functions', 'function f(){'.repeat(15_000) + '}'.repeat(15_000)],
  ])('reports %s the parser cannot handle as scan.unparseable', async (_name, code) => {
    const report = await javascript(code);
    expect(ruleIdsOf(report)).toEqual(['scan.unparseable']);
  });

  it('walks the deepest tree acorn builds (the walk itself is iterative)', async () => {
    const report = await javascript('x = ' + '['.repeat(600) + 'eval' + ']'.repeat(600));
    expect(ruleIdsOf(report)).toEqual(['js.call.eval']);
  });

  it.each([
    ['call chain', 'x' + '()'.repeat(100_000)],
    ['member chain', 'x' + '.a'.repeat(100_000)],
    ['require chain', "require('a')" + "('b')".repeat(40_000)],
  ])('analyses a %s acorn builds iteratively without exhausting the stack', async (_name, code) => {
    expect(await javascript(code)).toEqual({ findings: [], syntaxError: null });
  });

  it('scans invalid UTF-8 and NUL bytes like Node reads them', async () => {
    const report = await javascript(Buffer.from([0x76, 0x61, 0x72, 0x20, 0x73, 0x20, 0x3d, 0x20, 0x22, 0xff, 0x00, 0x22, 0x3b, 0x0a]));
    expect(report).toEqual({ findings: [], syntaxError: null });
    const bare = await javascript(Buffer.from('x = 1;\n\0\n'));
    expect(bare.findings).toEqual([]);
    expect(bare.syntaxError).toMatchObject({ line: 2 });
  });

  it('scans 256 KiB of findings quickly and caps them', async () => {
    const started = Date.now();
    const report = await javascript(fill("eval('x');require('fs');\n"));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(report.findings.length).toBe(MAX_REPORTED_FINDINGS + 1);
    expect(findingsOf(report, 'js.call.eval')).toHaveLength(MAX_REPORTED_FINDINGS);
  });

  it('scans 256 KiB of ordinary code', async () => {
    const report = await javascript(fill('total = [1, 2, 3].reduce((a, b) => a + b, 0);\n'));
    expect(report).toEqual({ findings: [], syntaxError: null });
  });

  it('rejects input over the size limit', async () => {
    const error = await scanError(scanCode('javascript', Buffer.alloc(KIB_256 + 1, 0x20)));
    expect(error.code).toBe('input_too_large');
  });

  it('never runs the submitted code, even on the V8 syntax-check path', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'scan-marker-'));
    const marker = path.join(dir, 'ran');
    try {
      const write = `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran');`;
      await javascript(write);
      await javascript(`${write}\nconsole.log(new.target);`);
      await javascript(`${write}\nlet x = ;`);
      expect(existsSync(marker)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
