import { computeVerdict, outputsMatch, type VerdictInput } from '../../src/domain/verdict';
import type { Verdict } from '../../src/domain/evaluation';

const ok: VerdictInput = { exitCode: 0, signal: null, limitHit: null, stdout: Buffer.from('42\n') };

describe('computeVerdict', () => {
  const cases: Array<[string, Partial<VerdictInput>, string | Buffer | null | undefined, Verdict]> = [
    ['exit 0 without expected output', {}, undefined, 'accepted'],
    ['exit 0, expected output null', {}, null, 'accepted'],
    ['exit 0, matching output', {}, '42\n', 'accepted'],
    ['exit 0, matching output as a Buffer', {}, Buffer.from('42'), 'accepted'],
    ['exit 0, different output', {}, '43\n', 'wrong_answer'],
    ['exit 0, empty output expected, something printed', {}, '', 'wrong_answer'],
    ['non-zero exit', { exitCode: 1 }, '42\n', 'runtime_error'],
    ['non-zero exit without expected output', { exitCode: 2 }, undefined, 'runtime_error'],
    ['killed by a signal', { exitCode: null, signal: 'SIGSEGV' }, undefined, 'runtime_error'],
    ['cpu limit', { exitCode: null, signal: 'SIGXCPU', limitHit: 'cpu_time' }, undefined, 'time_limit_exceeded'],
    ['wall limit', { exitCode: null, signal: 'SIGKILL', limitHit: 'wall_time' }, undefined, 'time_limit_exceeded'],
    ['memory limit', { exitCode: null, signal: 'SIGKILL', limitHit: 'memory' }, undefined, 'memory_limit_exceeded'],
    ['output limit', { exitCode: null, signal: 'SIGKILL', limitHit: 'output' }, undefined, 'output_limit_exceeded'],
    ['a limit hit wins over a matching output and exit 0', { limitHit: 'wall_time' }, '42\n', 'time_limit_exceeded'],
    ['a limit hit wins over a crash', { exitCode: 1, limitHit: 'memory' }, undefined, 'memory_limit_exceeded'],
    ['killed by SIGKILL without a limit (its sandbox ran out of tasks)', { exitCode: null, signal: 'SIGKILL' }, undefined, 'runtime_error'],
    ['killed by a signal, even with the expected output printed', { exitCode: null, signal: 'SIGTERM' }, '42\n', 'runtime_error'],
    [
      'output cut at the cap, even if what was kept matches',
      { exitCode: null, signal: 'SIGKILL', limitHit: 'output' },
      '42',
      'output_limit_exceeded',
    ],
    ['cpu limit by SIGXCPU (rlimits only)', { exitCode: null, signal: 'SIGXCPU', limitHit: 'cpu_time' }, '42', 'time_limit_exceeded'],
    ['exit 139 is an exit code, not SIGSEGV', { exitCode: 139 }, '42', 'runtime_error'],
  ];

  test.each(cases)('%s', (_name, overrides, expected, verdict) => {
    expect(computeVerdict({ ...ok, ...overrides }, expected)).toBe(verdict);
  });

  test('binary expected output is compared byte for byte', () => {
    const stdout = Buffer.from([0, 1, 2, 255, 10]);
    expect(computeVerdict({ ...ok, stdout }, Buffer.from([0, 1, 2, 255]))).toBe('accepted');
    expect(computeVerdict({ ...ok, stdout }, Buffer.from([0, 1, 2, 254]))).toBe('wrong_answer');
  });

  test('accepts a Buffer that went through JSON', () => {
    const serialized = JSON.parse(JSON.stringify(Buffer.from('42\n')));
    expect(computeVerdict({ ...ok, stdout: serialized }, '42')).toBe('accepted');
  });
});

describe('outputsMatch: trailing whitespace is ignored, nothing else is', () => {
  const cases: Array<[string, string, string, boolean]> = [
    ['identical', 'a\nb\n', 'a\nb\n', true],
    ['missing final newline', 'a\nb', 'a\nb\n', true],
    ['extra trailing blank lines', 'a\nb\n\n\n', 'a\nb', true],
    ['trailing spaces and tabs on lines', 'a  \nb\t\n', 'a\nb\n', true],
    ['CRLF versus LF', 'a\r\nb\r\n', 'a\nb\n', true],
    ['trailing whitespace-only lines', 'a\n  \n\t\n', 'a', true],
    ['both empty', '', '', true],
    ['only whitespace versus empty', ' \n\n', '', true],
    ['leading whitespace matters', ' a', 'a', false],
    ['a blank line in the middle matters', 'a\n\nb', 'a\nb', false],
    ['case matters', 'A', 'a', false],
    ['a missing line', 'a', 'a\nb', false],
    ['non-breaking space is not trimmed', 'a\u00a0', 'a', false],
    ['unicode compared exactly', 'héllo\n', 'héllo', true],
  ];

  test.each(cases)('%s', (_name, actual, expected, match) => {
    expect(outputsMatch(Buffer.from(actual), expected)).toBe(match);
  });

  test('invalid UTF-8 is compared byte for byte', () => {
    expect(outputsMatch(Buffer.from([0xff, 0x0a]), Buffer.from([0xfe]))).toBe(false);
    expect(outputsMatch(Buffer.from([0xff, 0x20]), Buffer.from([0xff]))).toBe(true);
  });
});
