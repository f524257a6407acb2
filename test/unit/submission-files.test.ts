import {
  fileSetProblems,
  fileSize,
  MAX_DEPTH,
  MAX_FILES,
  MAX_PATH_BYTES,
  relativePathProblem,
  type SubmissionFile,
} from '../../src/domain/submission-files';

const limits = { maxTotalBytes: 1000 };
const text = (content: string): SubmissionFile => ({ content });

test('a well-formed set has no problems', () => {
  const files = { 'main.py': text('import util\n'), 'lib/util.py': text('x = 1\n'), 'data/input.bin': { base64: 'AAEC/w==' } };
  expect(fileSetProblems(files, 'main.py', limits)).toEqual([]);
});

describe('paths that could land outside the work directory or clash inside it are refused', () => {
  test.each([
    ['', 'empty'],
    ['/etc/passwd', 'relative'],
    ['../secret', '..'],
    ['a/../../b', '..'],
    ['./main.py', '.'],
    ['a//b', 'empty segments'],
    ['dir/', 'empty segments'],
    ['a\\..\\b', 'separator'],
    ['a\u0000b', 'control'],
    ['a\nb', 'control'],
    ['x'.repeat(MAX_PATH_BYTES + 1), 'bytes'],
    [`${'é'.repeat(60)}`, 'segment'],
    [Array.from({ length: MAX_DEPTH + 1 }, () => 'd').join('/'), 'deep'],
  ])('%j', (path, reason) => {
    expect(relativePathProblem(path)).toContain(reason);
    const problems = fileSetProblems({ [path]: text('x'), 'main.py': text('') }, 'main.py', limits);
    expect(problems).toContainEqual({ path, message: expect.stringContaining(reason) });
  });

  test('a file that is also a directory of another file', () => {
    const problems = fileSetProblems({ a: text('1'), 'a/b': text('2'), 'main.py': text('') }, 'main.py', limits);
    expect(problems).toEqual([{ path: 'a', message: expect.stringContaining('directory') }]);
  });

  test('two names for the same file under Unicode normalisation', () => {
    const composed = 'caf\u00e9.py';
    const decomposed = 'cafe\u0301.py';
    const problems = fileSetProblems({ [composed]: text('1'), [decomposed]: text('2') }, composed, limits);
    expect(problems).toEqual([{ path: decomposed, message: expect.stringContaining('same file') }]);
  });
});

describe('contents and sizes', () => {
  test('exactly one of content and base64', () => {
    expect(fileSetProblems({ 'main.py': {} }, 'main.py', limits)).toEqual([
      { path: 'main.py', message: expect.stringContaining('exactly one') },
    ]);
    expect(fileSetProblems({ 'main.py': { content: 'a', base64: 'YQ==' } }, 'main.py', limits)).toHaveLength(1);
  });

  test('base64 must be standard and padded', () => {
    for (const bad of ['YQ', 'Y Q==', 'YQ==\n', '-_8=']) {
      expect(fileSetProblems({ 'f.bin': { base64: bad } }, 'f.bin', limits)).toEqual([
        { path: 'f.bin', message: expect.stringContaining('base64') },
      ]);
    }
  });

  test('sizes are counted decoded, in bytes', () => {
    expect(fileSize({ base64: 'AAEC/w==' })).toBe(4);
    expect(fileSize({ base64: 'AAE=' })).toBe(2);
    expect(fileSize({ content: 'é' })).toBe(2);
  });

  test('the total is bounded', () => {
    const files = { 'a.txt': text('x'.repeat(600)), 'b.txt': text('y'.repeat(401)) };
    expect(fileSetProblems(files, 'a.txt', limits)).toEqual([{ path: '', message: expect.stringContaining('1001 bytes') }]);
  });

  test('the number of files is bounded', () => {
    const files = Object.fromEntries(Array.from({ length: MAX_FILES + 1 }, (_, index) => [`f${index}.py`, text('')]));
    expect(fileSetProblems(files, 'f0.py', limits)).toEqual([{ path: '', message: expect.stringContaining(`at most ${MAX_FILES}`) }]);
  });
});

test('the entry point must be one of the files, and every problem is reported at once', () => {
  const problems = fileSetProblems({ '../x.py': text('') }, 'main.py', limits);
  expect(problems.map((problem) => problem.path)).toEqual(['../x.py', 'main.py']);
  expect(fileSetProblems({}, 'main.py', limits).map((problem) => problem.message)).toEqual([
    expect.stringContaining('at least one'),
    expect.stringContaining('entry point'),
  ]);
});
