/**
 * Every new language through the whole pipeline (API -> Temporal -> scanner -> bwrap -> PostgreSQL):
 * a program that sums its input is accepted, with the compile stage's time in the result for the
 * compiled languages; a compile error is `compilation_error` with the compiler's message, stored
 * like any result; a submission without limits gets its language's defaults.
 */
import { useTestService, waitForTerminal, type TestApi } from '../support/harness';
import { COMPILE_ERRORS, COMPILED_LANGUAGES, NEW_LANGUAGES, PROGRAMS } from '../sandbox/language-programs';

let api: TestApi;
useTestService('languages', (s) => {
  api = s.api;
});

const TIMEOUT = 120_000;

async function submit(body: Record<string, unknown>): Promise<string> {
  const res = await api.post('/v1/evaluations', body);
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

test.each(NEW_LANGUAGES)(
  '%s: sums its input and is accepted',
  async (language) => {
    const id = await submit({ language, code: PROGRAMS[language].sum, stdin: '2 40\n', expectedOutput: '42' });
    const done = await waitForTerminal(api, id, TIMEOUT);
    expect(done).toMatchObject({ status: 'completed', verdict: 'accepted', result: { stdout: '42\n', exitCode: 0, engine: 'bwrap' } });
    if ((COMPILED_LANGUAGES as readonly string[]).includes(language)) {
      expect(done.result.compileTimeMs).toBeGreaterThan(0);
    } else {
      expect(done.result.compileTimeMs).toBeUndefined();
    }
  },
  TIMEOUT,
);

test.each(COMPILED_LANGUAGES)(
  "%s: a compile error is compilation_error with the compiler's message",
  async (language) => {
    const { code, message } = COMPILE_ERRORS[language];
    const id = await submit({ language, code, expectedOutput: 'anything' });
    const done = await waitForTerminal(api, id, TIMEOUT);
    expect(done).toMatchObject({ status: 'completed', verdict: 'compilation_error' });
    expect(done.result.stderr).toMatch(message);
    expect(done.result.compileTimeMs).toBeGreaterThan(0);
  },
  TIMEOUT,
);

test(
  'a submission without limits gets its language defaults; its own limits win',
  async () => {
    const java = await submit({ language: 'java', code: PROGRAMS.java.exit3 });
    const own = await submit({ language: 'java', code: PROGRAMS.java.exit3, limits: { memoryMb: 300 } });
    const python = await submit({ language: 'python', code: 'print(1)' });
    expect((await waitForTerminal(api, java, TIMEOUT)).limits).toMatchObject({ memoryMb: 512, cpuTimeMs: 10_000 });
    expect((await waitForTerminal(api, own, TIMEOUT)).limits).toMatchObject({ memoryMb: 300, cpuTimeMs: 10_000 });
    expect((await waitForTerminal(api, python, TIMEOUT)).limits).toMatchObject({ memoryMb: 256 });
  },
  TIMEOUT,
);
