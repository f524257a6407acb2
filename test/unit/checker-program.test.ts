/**
 * The custom checker protocol (src/domain/checker-program.ts): how a checker's exit code and
 * stdout become a case's verdict, score and message, and which endings mean the checker failed.
 */
import { CHECKER_EXIT, isAnyCheckerSpec, judgeByChecker, type CheckerEnding } from '../../src/domain/checker-program';

const ending = (overrides: Partial<CheckerEnding>): CheckerEnding => ({
  exitCode: CHECKER_EXIT.accepted,
  signal: null,
  limitHit: null,
  stdout: new Uint8Array(),
  stderr: new Uint8Array(),
  ...overrides,
});
const bytes = (text: string) => new TextEncoder().encode(text);

test.each([
  [
    '42 with nothing printed is accepted with full marks',
    ending({}),
    { status: 'completed', verdict: 'accepted', score: 1, message: null },
  ],
  [
    '43 with a message is a wrong answer scoring 0',
    ending({ exitCode: 43, stdout: bytes('expected 3 lines\n') }),
    { status: 'completed', verdict: 'wrong_answer', score: 0, message: 'expected 3 lines' },
  ],
  [
    'a first line that is a number is the partial score, the rest the message',
    ending({ exitCode: 43, stdout: bytes('0.25\nonly one of four answers right\n') }),
    { status: 'completed', verdict: 'wrong_answer', score: 0.25, message: 'only one of four answers right' },
  ],
  [
    'an accepted case may score less than 1',
    ending({ stdout: bytes('.5') }),
    { status: 'completed', verdict: 'accepted', score: 0.5, message: null },
  ],
  [
    'a first line that is text is all message',
    ending({ exitCode: 43, stdout: bytes('line 2 differs\nsee above') }),
    { status: 'completed', verdict: 'wrong_answer', score: 0, message: 'line 2 differs\nsee above' },
  ],
])('%s', (_what, given, expected) => {
  expect(judgeByChecker(given)).toEqual(expected);
});

test.each([
  [
    'exit 1, what an uncaught exception gives',
    ending({ exitCode: 1, stderr: bytes('Traceback: KeyError') }),
    /exited with 1 \(42 accepts, 43 rejects\): Traceback: KeyError/,
  ],
  ['exit 0', ending({ exitCode: 0 }), /exited with 0/],
  ['a signal', ending({ exitCode: null, signal: 'SIGSEGV' }), /killed by SIGSEGV/],
  ['a limit', ending({ exitCode: null, signal: 'SIGKILL', limitHit: 'wall_time' }), /exceeded its wall time limit/],
  ['a score above 1', ending({ stdout: bytes('1.5\n') }), /score 1.5 is not between 0 and 1/],
  ['a negative score', ending({ exitCode: 43, stdout: bytes('-0.1\n') }), /score -0.1 is not between 0 and 1/],
  ['its own compile failed', ending({ compilationFailed: true, stderr: bytes("error: 'x' was not declared") }), /did not compile: error/],
])('the checker failed: %s', (_what, given, message) => {
  const judgement = judgeByChecker(given);
  expect(judgement.status).toBe('failed');
  expect(judgement.status === 'failed' && judgement.error).toMatch(message);
});

test('a long message is cut', () => {
  const judgement = judgeByChecker(ending({ exitCode: 43, stdout: bytes('x'.repeat(5000)) }));
  expect(judgement.status === 'completed' && judgement.message?.length).toBe(1001);
});

test('stored checkers are recognised only in their exact shapes', () => {
  expect(isAnyCheckerSpec({ kind: 'lines' })).toBe(true);
  expect(isAnyCheckerSpec({ kind: 'program', language: 'python', code: 'print(1)' })).toBe(true);
  expect(isAnyCheckerSpec({ kind: 'program', language: 'cobol', code: 'x' })).toBe(false);
  expect(isAnyCheckerSpec({ kind: 'program', language: 'python' })).toBe(false);
  expect(isAnyCheckerSpec({ kind: 'program', language: 'python', code: 'x', extra: 1 })).toBe(false);
});
