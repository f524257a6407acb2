import { checkOutput, DIFF_EXCERPT_CHARS, isCheckerSpec, type CheckerSpec } from '../../src/domain/checkers';

const bytes = (text: string) => new TextEncoder().encode(text);
const check = (actual: string, expected: string, checker: CheckerSpec) => checkOutput(bytes(actual), bytes(expected), checker);

describe('exact', () => {
  const exact: CheckerSpec = { kind: 'exact' };

  test('accepts only identical bytes', () => {
    expect(check('1 2\n', '1 2\n', exact)).toEqual({ accepted: true });
    expect(check('1 2', '1 2\n', exact).accepted).toBe(false);
    expect(check('1 2\r\n', '1 2\n', exact).accepted).toBe(false);
  });

  test('points at the first differing byte', () => {
    expect(check('abcX', 'abcd', exact)).toEqual({
      accepted: false,
      difference: { unit: 'byte', index: 3, expected: 'abcd', actual: 'abcX' },
    });
    // One output is a prefix of the other: the difference is where the shorter one ends.
    expect(check('ab', 'abc', exact)).toMatchObject({ difference: { index: 2 } });
  });
});

describe('lines (the default)', () => {
  const lines: CheckerSpec = { kind: 'lines' };

  test('ignores trailing whitespace on every line and trailing empty lines', () => {
    expect(check('1 \t\r\n2\n\n\n', '1\n2', lines).accepted).toBe(true);
    expect(checkOutput(bytes('x\n'), bytes('x'))).toEqual({ accepted: true });
  });

  test('keeps leading whitespace, blank lines in between and case significant', () => {
    expect(check(' 1\n', '1\n', lines).accepted).toBe(false);
    expect(check('1\n\n2\n', '1\n2\n', lines).accepted).toBe(false);
    expect(check('Yes\n', 'YES\n', lines).accepted).toBe(false);
  });

  test('reports the first differing line, counting from 1, and a missing line as empty', () => {
    expect(check('a\nb\nc\n', 'a\nB\nc\n', lines)).toEqual({
      accepted: false,
      difference: { unit: 'line', index: 2, expected: 'B', actual: 'b' },
    });
    expect(check('a\n', 'a\nb\n', lines)).toEqual({
      accepted: false,
      difference: { unit: 'line', index: 2, expected: 'b', actual: '' },
    });
  });
});

describe('tokens', () => {
  const tokens: CheckerSpec = { kind: 'tokens' };

  test('ignores how whitespace separates the tokens', () => {
    expect(check('1   2\n3\t4  \r\n', '1 2 3 4', tokens).accepted).toBe(true);
    expect(check('', '\n \n', tokens).accepted).toBe(true);
  });

  test('compares the tokens themselves exactly', () => {
    expect(check('1 2 3', '1 2', tokens)).toEqual({
      accepted: false,
      difference: { unit: 'token', index: 3, expected: '', actual: '3' },
    });
    expect(check('1.0', '1', tokens).accepted).toBe(false);
  });
});

describe('float', () => {
  const float = (absolute: number, relative: number): CheckerSpec => ({ kind: 'float', absolute, relative });

  test('accepts numbers within the absolute tolerance', () => {
    expect(check('3.1416\n', '3.14159265', float(1e-4, 0)).accepted).toBe(true);
    expect(check('3.15\n', '3.14159265', float(1e-4, 0)).accepted).toBe(false);
  });

  test('accepts numbers within the relative tolerance of the expected value', () => {
    expect(check('1000001', '1e6', float(0, 1e-6)).accepted).toBe(true);
    expect(check('1000002', '1e6', float(0, 1e-6)).accepted).toBe(false);
  });

  test('either tolerance suffices', () => {
    expect(check('0.00011', '0.0001', float(1e-4, 0)).accepted).toBe(true);
    expect(check('1000.1', '1000', float(1e-9, 1e-3)).accepted).toBe(true);
  });

  test('words must match exactly, and a word never equals a number', () => {
    expect(check('answer: 2.0000001', 'answer: 2', float(1e-6, 0)).accepted).toBe(true);
    expect(check('Answer: 2', 'answer: 2', float(1e-6, 0)).accepted).toBe(false);
    expect(check('nan', '0', float(1, 1)).accepted).toBe(false);
    expect(check('inf', '1e308', float(1, 1)).accepted).toBe(false);
    expect(check('0x10', '16', float(0, 0)).accepted).toBe(false);
  });

  test('reports the first token out of tolerance', () => {
    expect(check('1.0 2.5 3.0', '1 2 3', float(0.1, 0))).toEqual({
      accepted: false,
      difference: { unit: 'token', index: 2, expected: '2', actual: '2.5' },
    });
  });
});

test('difference excerpts are cut for display and survive invalid UTF-8', () => {
  const long = 'x'.repeat(DIFF_EXCERPT_CHARS * 3);
  const outcome = check(`${long}y`, `${long}z`, { kind: 'lines' });
  expect(outcome.accepted).toBe(false);
  if (outcome.accepted) return;
  expect(Array.from(outcome.difference.actual)).toHaveLength(DIFF_EXCERPT_CHARS + 1);
  expect(outcome.difference.actual.endsWith('…')).toBe(true);

  const invalid = checkOutput(Uint8Array.from([0xff, 0x0a]), bytes('ok\n'), { kind: 'lines' });
  expect(invalid).toEqual({ accepted: false, difference: { unit: 'line', index: 1, expected: 'ok', actual: '\ufffd' } });
});

test('isCheckerSpec accepts exactly the checkers this module knows (for values read back from storage)', () => {
  expect(isCheckerSpec({ kind: 'lines' })).toBe(true);
  expect(isCheckerSpec({ kind: 'float', absolute: 0, relative: 1e-6 })).toBe(true);
  expect(isCheckerSpec({ kind: 'lines', extra: 1 })).toBe(false);
  expect(isCheckerSpec({ kind: 'float', absolute: -1, relative: 0 })).toBe(false);
  expect(isCheckerSpec({ kind: 'float', absolute: 1 })).toBe(false);
  expect(isCheckerSpec({ kind: 'regex' })).toBe(false);
  expect(isCheckerSpec(null)).toBe(false);
});
