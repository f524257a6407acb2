/**
 * C, C++, Go, Java and Bash in every engine available here, with the real toolchains: a program
 * that sums its input is accepted (compiled languages through their compile stage, whose figures
 * the result carries), a compile error is `compilation_error` with the compiler's message, a
 * compile that explodes is stopped by the compile limits and said so, and the program's own
 * limits (time, exit code) apply to the compiled artefact.
 */
import { computeVerdict } from '../../src/domain/verdict';
import { describeEachEngine, limiter, runner, text, waitUntil } from './engines';
import { COMPILE_ERRORS, COMPILED_LANGUAGES, NEW_LANGUAGES, PROGRAMS, defaultLimitsOf } from './language-programs';

const TIMEOUT = 180_000;

describeEachEngine('languages', (subject) => {
  const run = runner(subject, limiter(2));
  const it = (name: string, body: () => Promise<void>) => test.concurrent(name, body, TIMEOUT);

  afterAll(() => {
    // Nothing of this engine's runs (compiler or program) may still be alive.
    expect(subject.leftovers()).toEqual([]);
  });

  describe.each(NEW_LANGUAGES)('%s', (language) => {
    const programs = PROGRAMS[language];
    const limits = defaultLimitsOf(language);

    it('reads stdin and is accepted', async () => {
      const result = await run(programs.sum, { language, limits, stdin: Buffer.from('2 40\n') });
      expect(text(result)).toEqual({ stdout: '42\n', stderr: '' });
      expect(result).toMatchObject({ exitCode: 0, signal: null, limitHit: null, engine: subject.name });
      expect(computeVerdict(result, '42')).toBe('accepted');
      expect(computeVerdict(result, '43')).toBe('wrong_answer');
      if ((COMPILED_LANGUAGES as readonly string[]).includes(language)) {
        expect(result.compilation).toMatchObject({ ok: true, exitCode: 0, limitHit: null });
        expect(result.compilation!.timeMs).toBeGreaterThan(0);
      } else {
        expect(result.compilation).toBeUndefined();
      }
    });

    it('an exit code is a runtime_error, with both streams', async () => {
      const result = await run(programs.exit3, { language, limits });
      expect(result).toMatchObject({ exitCode: 3, signal: null, limitHit: null });
      expect(text(result)).toEqual({ stdout: 'partial\n', stderr: 'bad\n' });
      expect(computeVerdict(result)).toBe('runtime_error');
    });

    it('an endless loop is a time limit of the program (not of the compiler)', async () => {
      const result = await run(programs.spin, { language, limits: { ...limits, cpuTimeMs: 1000, wallTimeMs: 5000 } });
      expect(['cpu_time', 'wall_time']).toContain(result.limitHit);
      expect(computeVerdict(result)).toBe('time_limit_exceeded');
      if (result.compilation) expect(result.compilation).toMatchObject({ ok: true, limitHit: null });
    });
  });

  describe.each(COMPILED_LANGUAGES)('%s compile errors', (language) => {
    it("compilation_error with the compiler's message; nothing ran", async () => {
      const { code, message } = COMPILE_ERRORS[language];
      const result = await run(code, { language, limits: defaultLimitsOf(language) });
      expect(result.compilation).toMatchObject({ ok: false, limitHit: null });
      expect(result.compilation!.exitCode).not.toBe(0);
      expect(result.limitHit).toBeNull();
      expect(text(result).stderr + text(result).stdout).toMatch(message);
      expect(computeVerdict(result, 'anything')).toBe('compilation_error');
    });
  });

  it('cancelling a compiled program mid-run stops it within 2 s', async () => {
    const controller = new AbortController();
    let startedAt = 0;
    const running = run(PROGRAMS.c.spin, {
      language: 'c',
      signal: controller.signal,
      limits: { cpuTimeMs: 30_000, wallTimeMs: 60_000 },
      onProgramStart: () => {
        startedAt = Date.now();
      },
    });
    await waitUntil(() => startedAt > 0, 60_000, 'the compiled program to start');
    const abortedAt = Date.now();
    controller.abort();
    const result = await running;
    expect(Date.now() - abortedAt).toBeLessThan(2000);
    expect(result).toMatchObject({ cancelled: true, limitHit: null, compilation: { ok: true } });
  });

  it('java: the public class must be Main, in Main.java', async () => {
    const result = await run('public class Solution {\n  public static void main(String[] a) { System.out.println(1); }\n}\n', {
      language: 'java',
      limits: defaultLimitsOf('java'),
    });
    expect(computeVerdict(result)).toBe('compilation_error');
    expect(text(result).stderr).toMatch(/class Solution is public, should be declared in a file named Solution\.java/);
  });

  it('the run stage sees only the artefact: no source, no compiler output files', async () => {
    const code =
      '#include <stdio.h>\n#include <dirent.h>\nint main(void) { DIR *d = opendir("."); struct dirent *e; while ((e = readdir(d))) if (e->d_name[0] != \'.\') printf("%s\\n", e->d_name); return 0; }\n';
    const result = await run(code, { language: 'c' });
    expect(text(result).stdout).toBe('main\n');
  });

  it('a C++ template explosion is stopped by the compile limits and reported, not hung', async () => {
    const code = [
      'template <int N, long M> struct Blow {',
      '  static const long value = Blow<N - 1, M * 2>::value + Blow<N - 1, M * 2 + 1>::value;',
      '};',
      'template <long M> struct Blow<0, M> { static const long value = 1; };',
      'int main() { return Blow<40, 0>::value == 0; }',
      '',
    ].join('\n');
    const started = Date.now();
    const result = await run(code, { language: 'cpp' });
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(result.compilation?.ok).toBe(false);
    expect(computeVerdict(result)).toBe('compilation_error');
    expect(['memory', 'cpu_time', 'wall_time', 'output']).toContain(result.compilation?.limitHit);
    expect(text(result).stderr).toMatch(/compilation stopped: it exceeded the compile (memory|CPU time|wall time|output) limit/);
  });

  it('#include "/dev/zero" is stopped by the compile limits', async () => {
    const result = await run('#include "/dev/zero"\nint main(void) { return 0; }\n', { language: 'c' });
    expect(result.compilation?.ok).toBe(false);
    expect(computeVerdict(result)).toBe('compilation_error');
    expect(text(result).stderr).toMatch(/compilation stopped|dev\/zero/);
  });
});
