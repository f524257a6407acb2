/**
 * The correctness side, for every engine available and both languages: verdicts (accepted,
 * wrong_answer, runtime_error with the exit code, death by each signal, reported by name), stdin,
 * unicode and binary output, and the figures a result carries.
 */
import { computeVerdict } from '../../src/domain/verdict';
import type { Language } from '../../src/domain/evaluation';
import { describeEachEngine, limiter, runner, text } from './engines';

const TIMEOUT = 60_000;

interface Programs {
  hello: string;
  exit3: string;
  exit139: string;
  syntaxError: string;
  raise: (signal: string) => string;
  reverseStdin: string;
  unicode: string;
  allBytes: string;
  bothStreams: string;
}

/** The interpreted languages; the compiled ones (and Bash) are in languages-e2e/compiled tests. */
const PROGRAMS: Partial<Record<Language, Programs>> = {
  python: {
    hello: 'print("hello world")',
    exit3: 'import sys\nprint("partial")\nsys.exit(3)',
    exit139: 'import os\nos._exit(139)',
    syntaxError: 'print(1',
    raise: (signal) => `import os, signal\nos.kill(os.getpid(), signal.${signal})\nimport time\ntime.sleep(5)`,
    reverseStdin: 'import sys\ndata = sys.stdin.buffer.read()\nsys.stdout.buffer.write(data[::-1])',
    unicode: 'import sys\nsys.stdout.write("héllo wörld ✓ 日本語 🎉\\n")',
    allBytes: 'import sys\nsys.stdout.buffer.write(bytes(range(256)) * 4)',
    bothStreams: 'import sys\nprint("out")\nprint("err", file=sys.stderr)',
  },
  javascript: {
    hello: 'console.log("hello world")',
    exit3: 'console.log("partial"); process.exitCode = 3;',
    exit139: 'process.exit(139)',
    syntaxError: 'console.log(1',
    raise: (signal) => `process.kill(process.pid, '${signal}'); setTimeout(() => {}, 5000);`,
    reverseStdin: 'const data = require("fs").readFileSync(0); process.stdout.write(Buffer.from(data).reverse());',
    unicode: 'process.stdout.write("héllo wörld ✓ 日本語 🎉\\n")',
    allBytes: 'const b = Buffer.alloc(1024); for (let i = 0; i < 1024; i++) b[i] = i % 256; process.stdout.write(b);',
    bothStreams: 'console.log("out"); console.error("err");',
  },
};

const SIGNALS = ['SIGSEGV', 'SIGABRT', 'SIGFPE', 'SIGTERM', 'SIGKILL'] as const;

describeEachEngine('correctness', (subject) => {
  const run = runner(subject, limiter(2));

  describe.each(['python', 'javascript'] as const)('%s', (language) => {
    const programs = PROGRAMS[language]!;
    const it = (name: string, body: () => Promise<void>) => test.concurrent(name, body, TIMEOUT);

    it('accepted, with the figures of the run', async () => {
      const result = await run(programs.hello, { language });
      expect(result).toMatchObject({ exitCode: 0, signal: null, limitHit: null, engine: subject.name, cancelled: false });
      expect(text(result)).toEqual({ stdout: 'hello world\n', stderr: '' });
      expect(computeVerdict(result, 'hello world')).toBe('accepted');
      expect(computeVerdict(result, 'hello world  \n\n')).toBe('accepted');
      expect(computeVerdict(result)).toBe('accepted');
      expect(result.timeMs).toBeGreaterThan(0);
      expect(result.cpuTimeMs).toBeGreaterThan(0);
      expect(result.memoryKb).toBeGreaterThan(1000);
    });

    it('wrong_answer', async () => {
      const result = await run(programs.hello, { language });
      expect(computeVerdict(result, 'hello World')).toBe('wrong_answer');
      expect(computeVerdict(result, 'hello world\nmore')).toBe('wrong_answer');
    });

    it('runtime_error with the exit code, keeping the output', async () => {
      const result = await run(programs.exit3, { language });
      expect(result).toMatchObject({ exitCode: 3, signal: null, limitHit: null });
      expect(text(result).stdout).toBe('partial\n');
      expect(computeVerdict(result, 'partial')).toBe('runtime_error');
    });

    it('exit(139) is an exit code, not a signal', async () => {
      const result = await run(programs.exit139, { language });
      expect(result).toMatchObject({ exitCode: 139, signal: null });
      expect(computeVerdict(result)).toBe('runtime_error');
    });

    it('a syntax error is a runtime_error with the interpreter’s message', async () => {
      const result = await run(programs.syntaxError, { language });
      expect(result.exitCode).not.toBe(0);
      expect(result.signal).toBeNull();
      expect(text(result).stderr).toMatch(/SyntaxError/);
      expect(computeVerdict(result)).toBe('runtime_error');
    });

    test.concurrent.each(SIGNALS)(
      'death by %s is reported by name',
      async (signal) => {
        const result = await run(programs.raise(signal), { language });
        expect(result).toMatchObject({ exitCode: null, signal, limitHit: null });
        expect(computeVerdict(result)).toBe('runtime_error');
      },
      TIMEOUT,
    );

    it('stdin round trip: binary, with NUL bytes, larger than a pipe buffer', async () => {
      const input = Buffer.concat([Buffer.from([0, 1, 2, 255, 10, 0]), Buffer.alloc(300_000, 'ab'), Buffer.from('é✓')]);
      const result = await run(programs.reverseStdin, { language, stdin: input, limits: { maxOutputBytes: 1024 * 1024 } });
      expect(result.exitCode).toBe(0);
      expect(result.stdout.equals(Buffer.from(input).reverse())).toBe(true);
    });

    it('empty stdin', async () => {
      const result = await run(programs.reverseStdin, { language });
      expect(result).toMatchObject({ exitCode: 0, stdout: Buffer.alloc(0) });
    });

    it('unicode output, byte for byte', async () => {
      const result = await run(programs.unicode, { language });
      expect(result.stdout.equals(Buffer.from('héllo wörld ✓ 日本語 🎉\n', 'utf8'))).toBe(true);
      expect(computeVerdict(result, 'héllo wörld ✓ 日本語 🎉')).toBe('accepted');
    });

    it('binary output, every byte value', async () => {
      const result = await run(programs.allBytes, { language });
      const expected = Buffer.alloc(1024);
      for (let index = 0; index < 1024; index++) expected[index] = index % 256;
      expect(result.stdout.equals(expected)).toBe(true);
    });

    it('stdout and stderr are kept apart', async () => {
      const result = await run(programs.bothStreams, { language });
      expect(text(result)).toEqual({ stdout: 'out\n', stderr: 'err\n' });
    });
  });
});
