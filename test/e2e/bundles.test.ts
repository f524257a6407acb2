/**
 * Test-case bundles, checkers and multi-file submissions through the whole pipeline (API ->
 * Temporal -> scanner -> bwrap -> PostgreSQL), with real sandboxes. Proves that:
 * - a bundle of 10 cases where 3 fail reports each case's verdict (with a diff on wrong_answer),
 *   the first failure's verdict overall and the weighted score; the program is built once;
 * - stop at first failure starts no case after it, and the rest are reported skipped;
 * - cancelling mid-bundle stores `cancelled` within 2 s, kills the running sandboxes, and runs no
 *   further case;
 * - the built-in checkers and a custom checker program (partial scores; one that crashes fails
 *   the evaluation with the checker's error, the case `failed`, not the submission's verdict);
 * - a stored test set runs by id, and another tenant's or a missing one is refused;
 * - multi-file Python and C++ programs run, their every file is scanned, and path attacks get 400.
 */
import { CaseResultList } from '../../src/contract/schemas';
import { sandboxProcesses, scheduledActivities, useTestService, waitFor, waitForTerminal, type TestApi } from '../support/harness';

let api: TestApi;
useTestService('bundles', (s) => {
  api = s.api;
});

const TIMEOUT = 120_000;

async function submit(body: Record<string, unknown>): Promise<string> {
  const res = await api.post('/v1/evaluations', body);
  if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

async function cases(id: string) {
  const res = await api.request(`/v1/evaluations/${id}/cases`);
  expect(res.status).toBe(200);
  return CaseResultList.parse(await res.json()).items;
}

// Doubles its input; on 3, 6 and 9 it goes wrong in three different ways.
const DOUBLER = [
  'import sys, time',
  'n = int(sys.stdin.read())',
  'if n == 3: print(n * 3)',
  'elif n == 6: time.sleep(5)',
  "elif n == 9: raise SystemExit('boom')",
  'else: print(n * 2)',
].join('\n');
const TEN_CASES = Array.from({ length: 10 }, (_, i) => ({ name: `n=${i + 1}`, stdin: `${i + 1}\n`, expectedOutput: `${2 * (i + 1)}\n` }));

test(
  'a bundle of 10 cases where 3 fail: per-case verdicts and diffs, the first failure decides, the score is weighted, the program built once',
  async () => {
    const testCases = TEN_CASES.map((c, i) => (i === 9 ? { ...c, weight: 3 } : c));
    const id = await submit({ language: 'python', code: DOUBLER, testCases, caseParallelism: 3, limits: { wallTimeMs: 1000 } });
    const done = await waitForTerminal(api, id, TIMEOUT);

    expect(done).toMatchObject({
      status: 'completed',
      verdict: 'wrong_answer',
      bundle: {
        mode: 'all',
        caseParallelism: 3,
        caseCount: 10,
        score: 0.75,
        decidingCase: 3,
        counts: { accepted: 7, wrong_answer: 1, time_limit_exceeded: 1, runtime_error: 1, skipped: 0 },
      },
      links: { cases: `/v1/evaluations/${id}/cases` },
    });
    const items = await cases(id);
    expect(items.map((c) => [c.position, c.status, c.verdict])).toEqual([
      [1, 'completed', 'accepted'],
      [2, 'completed', 'accepted'],
      [3, 'completed', 'wrong_answer'],
      [4, 'completed', 'accepted'],
      [5, 'completed', 'accepted'],
      [6, 'completed', 'time_limit_exceeded'],
      [7, 'completed', 'accepted'],
      [8, 'completed', 'accepted'],
      [9, 'completed', 'runtime_error'],
      [10, 'completed', 'accepted'],
    ]);
    expect(items[2]).toMatchObject({ name: 'n=3', stdout: '9\n', difference: { unit: 'line', index: 1, expected: '6', actual: '9' } });
    expect(items[8]!.stderr).toContain('boom');
    expect(items[9]).toMatchObject({ weight: 3, score: 1 });

    const activities = await scheduledActivities(api.client, id);
    expect(activities.filter((a) => a === 'prepareBundle')).toHaveLength(1);
    expect(activities.filter((a) => a === 'runCase')).toHaveLength(10);
    expect(activities).not.toContain('execute');
    const events = (await (await api.request(`/v1/evaluations/${id}/events`)).json()) as { items: { type: string; data: any }[] };
    const caseEvents = events.items.filter((e) => e.type === 'CASE_COMPLETED');
    expect(caseEvents.map((e) => e.data.position).sort((a: number, b: number) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  },
  TIMEOUT,
);

test(
  'stop at first failure: no case starts after the first one not accepted, and the rest are skipped',
  async () => {
    const id = await submit({ language: 'python', code: DOUBLER, testCases: TEN_CASES, stopAtFirstFailure: true, caseParallelism: 1 });
    const done = await waitForTerminal(api, id, TIMEOUT);

    expect(done).toMatchObject({ verdict: 'wrong_answer', bundle: { mode: 'first_failure', score: 0.2, decidingCase: 3 } });
    expect((await cases(id)).map((c) => c.status)).toEqual(['completed', 'completed', 'completed', ...new Array(7).fill('skipped')]);
    expect((await scheduledActivities(api.client, id)).filter((a) => a === 'runCase')).toHaveLength(3);
  },
  TIMEOUT,
);

test(
  'cancelling mid-bundle stores cancelled within 2 s, kills the running cases and starts no more',
  async () => {
    const sleeper = 'import sys, time\nn = int(sys.stdin.read())\nif n >= 3: time.sleep(60)\nprint(n * 2)';
    const id = await submit({
      language: 'python',
      code: sleeper,
      testCases: TEN_CASES,
      caseParallelism: 2,
      limits: { wallTimeMs: 120_000, cpuTimeMs: 60_000 },
    });
    await waitFor(
      async () => ((await cases(id)).filter((c) => c.status === 'completed').length >= 2 ? true : undefined),
      'cases 1 and 2',
      TIMEOUT,
    );
    // Cases 3 and 4 are now sleeping in their sandboxes.
    await waitFor(async () => (sandboxProcesses().length >= 2 ? true : undefined), 'the sleeping cases to run', TIMEOUT);

    const asked = Date.now();
    expect((await api.post(`/v1/evaluations/${id}/cancel`, {})).status).toBe(202);
    const done = await waitForTerminal(api, id, 10_000);
    const tookMs = Date.now() - asked;

    expect(done.status).toBe('cancelled');
    expect(tookMs).toBeLessThan(2000);
    const items = await cases(id);
    expect(items.filter((c) => c.status === 'completed').map((c) => c.position)).toEqual([1, 2]);
    expect(items.slice(2).every((c) => c.status === 'cancelled')).toBe(true);
    expect((await scheduledActivities(api.client, id)).filter((a) => a === 'runCase')).toHaveLength(4);
    await waitFor(async () => (sandboxProcesses().length === 0 ? true : undefined), 'the sandboxes to be gone', 5000);
  },
  TIMEOUT,
);

describe('checkers', () => {
  const printer = 'import sys\nsys.stdout.write(sys.stdin.read())';
  const judge = async (checker: unknown, stdin: string, expectedOutput: string) => {
    const id = await submit({ language: 'python', code: printer, testCases: [{ stdin, expectedOutput }], checker });
    const done = await waitForTerminal(api, id, TIMEOUT);
    return { done, item: (await cases(id))[0]! };
  };

  test(
    'exact, lines, tokens and float decide as documented',
    async () => {
      expect((await judge({ kind: 'exact' }, 'a \n', 'a\n')).item.verdict).toBe('wrong_answer');
      expect((await judge({ kind: 'lines' }, 'a \n\n', 'a\n')).item.verdict).toBe('accepted');
      expect((await judge({ kind: 'tokens' }, '1   2\n3', '1 2 3\n')).item.verdict).toBe('accepted');
      expect((await judge({ kind: 'float', absolute: 1e-6, relative: 0 }, '3.1415927\n', '3.14159265\n')).item.verdict).toBe('accepted');
      const far = await judge({ kind: 'float', absolute: 1e-6, relative: 0 }, '3.15\n', '3.14159265\n');
      expect(far.item).toMatchObject({
        verdict: 'wrong_answer',
        difference: { unit: 'token', index: 1, expected: '3.14159265', actual: '3.15' },
      });
    },
    TIMEOUT,
  );

  test(
    'a custom checker gives partial scores and a message, reading the case input, expected and actual output',
    async () => {
      // Accepts any permutation of the expected words; half credit when only the count is right.
      const checker = {
        kind: 'program',
        language: 'python',
        code: [
          'import sys',
          "inp = open('case/input').read().split()",
          "exp = sorted(open('case/expected').read().split())",
          "out = sorted(open('case/output').read().split())",
          'if out == exp: sys.exit(42)',
          "if len(out) == len(exp): print('0.5'); print(f'right count, {len(inp)} words in'); sys.exit(43)",
          "print('nothing right'); sys.exit(43)",
        ].join('\n'),
      };
      const id = await submit({
        language: 'python',
        code: 'import sys\nprint(*reversed(sys.stdin.read().split()))',
        testCases: [
          { stdin: 'a b c', expectedOutput: 'c b a' },
          { stdin: 'a b', expectedOutput: 'x y' },
          { stdin: 'a', expectedOutput: 'x y z' },
        ],
        checker,
      });
      const done = await waitForTerminal(api, id, TIMEOUT);
      expect(done).toMatchObject({ status: 'completed', verdict: 'wrong_answer', bundle: { score: 0.5, decidingCase: 2 } });
      const items = await cases(id);
      expect(items.map((c) => [c.verdict, c.score, c.checkerMessage])).toEqual([
        ['accepted', 1, null],
        ['wrong_answer', 0.5, 'right count, 2 words in'],
        ['wrong_answer', 0, 'nothing right'],
      ]);
    },
    TIMEOUT,
  );

  test(
    'a custom checker in a compiled language is built once and judges every case; one that does not compile fails the evaluation',
    async () => {
      const checker = {
        kind: 'program',
        language: 'c',
        code: [
          '#include <stdio.h>',
          'int main(void) {',
          '  long want, got;',
          '  FILE *e = fopen("case/expected", "r"), *o = fopen("case/output", "r");',
          '  if (!e || !o || fscanf(e, "%ld", &want) != 1) return 2;',
          '  if (fscanf(o, "%ld", &got) != 1) { puts("no number printed"); return 43; }',
          '  if (got == want) return 42;',
          '  printf("off by %ld\\n", got - want); return 43;',
          '}',
        ].join('\n'),
      };
      const id = await submit({
        language: 'python',
        code: 'n = int(input())\nprint(n * 2 if n < 3 else n)',
        testCases: [1, 2, 3].map((n) => ({ stdin: `${n}`, expectedOutput: `${2 * n}` })),
        checker,
      });
      expect(await waitForTerminal(api, id, TIMEOUT)).toMatchObject({ verdict: 'wrong_answer', bundle: { decidingCase: 3 } });
      expect((await cases(id)).map((c) => [c.verdict, c.checkerMessage])).toEqual([
        ['accepted', null],
        ['accepted', null],
        ['wrong_answer', 'off by -3'],
      ]);
      expect((await scheduledActivities(api.client, id)).filter((a) => a === 'prepareBundle')).toHaveLength(1);

      const broken = await submit({
        language: 'python',
        code: 'print(1)',
        testCases: [{ expectedOutput: '1' }],
        checker: { kind: 'program', language: 'c', code: 'int main(void) { return undeclared; }' },
      });
      const failed = await waitForTerminal(api, broken, TIMEOUT);
      expect(failed).toMatchObject({ status: 'failed' });
      expect(failed.error).toMatch(/^prepareBundle failed: the custom checker did not compile: .*undeclared/s);
      expect((await cases(broken)).map((c) => c.status)).toEqual(['skipped']);
    },
    TIMEOUT,
  );

  test(
    "a custom checker that crashes fails the evaluation with the checker's error; the case is failed, not the submission's verdict",
    async () => {
      const { done, item } = await judge(
        { kind: 'program', language: 'python', code: "raise RuntimeError('checker bug')" },
        'hello\n',
        'hello\n',
      );
      expect(done).toMatchObject({ status: 'failed' });
      expect(done.verdict).toBeUndefined();
      expect(done.error).toMatch(
        /^the custom checker failed on case 1: the checker exited with 1 \(42 accepts, 43 rejects\): .*checker bug/s,
      );
      expect(item).toMatchObject({ status: 'failed', verdict: null });
      expect(item.error).toContain('checker bug');
    },
    TIMEOUT,
  );
});

test(
  'a stored test set runs by id; a missing or deleted one is refused with 422',
  async () => {
    const created = await api.post('/v1/test-sets', { name: 'doubles', cases: TEN_CASES.slice(0, 2), checker: { kind: 'tokens' } });
    expect(created.status).toBe(201);
    const set = (await created.json()) as { id: string };
    const id = await submit({ language: 'python', code: 'print(int(input()) * 2)', testSetId: set.id });
    expect(await waitForTerminal(api, id, TIMEOUT)).toMatchObject({
      verdict: 'accepted',
      bundle: { testSetId: set.id, caseCount: 2, score: 1 },
    });

    expect((await api.request(`/v1/test-sets/${set.id}`, { method: 'DELETE' })).status).toBe(204);
    const refused = await api.post('/v1/evaluations', { language: 'python', code: 'print(1)', testSetId: set.id });
    expect(refused.status).toBe(422);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('test_set_not_found');
  },
  TIMEOUT,
);

test(
  'a C++ bundle is compiled once and each case runs the built program',
  async () => {
    const code = '#include <iostream>\nint main(){long n; std::cin >> n; std::cout << n * 2 << "\\n";}';
    const id = await submit({ language: 'cpp', code, testCases: TEN_CASES.slice(0, 4), caseParallelism: 2 });
    expect(await waitForTerminal(api, id, TIMEOUT)).toMatchObject({ status: 'completed', verdict: 'accepted', bundle: { score: 1 } });
    const activities = await scheduledActivities(api.client, id);
    expect(activities.filter((a) => a === 'prepareBundle')).toHaveLength(1);
    expect(activities.filter((a) => a === 'runCase')).toHaveLength(4);

    // Parses (so the scan lets it through) but does not compile.
    const broken = await submit({ language: 'cpp', code: 'int main() { return undeclared_name; }', testCases: TEN_CASES.slice(0, 4) });
    const failed = await waitForTerminal(api, broken, TIMEOUT);
    expect(failed).toMatchObject({ status: 'completed', verdict: 'compilation_error' });
    expect(failed.result.stderr).toMatch(/undeclared_name/);
    expect((await scheduledActivities(api.client, broken)).filter((a) => a === 'runCase')).toHaveLength(0);
  },
  TIMEOUT,
);

describe('multi-file submissions', () => {
  test(
    'a Python package and a C++ program of a header and two sources run',
    async () => {
      const python = await submit({
        language: 'python',
        entryPoint: 'main.py',
        files: {
          'main.py': { content: 'from geo.area import square\nprint(square(7))' },
          'geo/__init__.py': { content: '' },
          'geo/area.py': { content: 'def square(n):\n    return n * n' },
        },
        expectedOutput: '49',
      });
      const cpp = await submit({
        language: 'cpp',
        entryPoint: 'main.cpp',
        files: {
          'main.cpp': { content: '#include <iostream>\n#include "lib/twice.hpp"\nint main(){ std::cout << twice(21) << "\\n"; }' },
          'lib/twice.hpp': { content: 'int twice(int n);' },
          'lib/twice.cpp': { content: '#include "twice.hpp"\nint twice(int n){ return 2 * n; }' },
        },
        expectedOutput: '42',
      });
      expect(await waitForTerminal(api, python, TIMEOUT)).toMatchObject({ status: 'completed', verdict: 'accepted' });
      expect(await waitForTerminal(api, cpp, TIMEOUT)).toMatchObject({ status: 'completed', verdict: 'accepted' });
    },
    TIMEOUT,
  );

  test(
    "every file is scanned: a helper module's network import is found in that file",
    async () => {
      const id = await submit({
        language: 'python',
        entryPoint: 'main.py',
        files: {
          'main.py': { content: 'import helper\nprint(1)' },
          'helper.py': { content: 'import socket\nsocket.create_connection(("example.com", 80))' },
        },
      });
      // Held for review or blocked, depending on the policy: either way once the scan is done.
      const done: any = await waitFor(
        async () => {
          const body: any = await (await api.request(`/v1/evaluations/${id}`)).json();
          return ['blocked', 'awaiting_review', 'completed'].includes(body.status) ? body : undefined;
        },
        'the scan to decide',
        TIMEOUT,
      );
      expect(done.status).not.toBe('completed');
      // A reviewer reads every file, not only the entry point.
      const code = (await (await api.request(`/v1/evaluations/${id}/code`)).json()) as any;
      expect(code).toMatchObject({ code: 'import helper\nprint(1)', entryPoint: 'main.py' });
      expect(code.files.map((f: { path: string; content: string }) => [f.path, f.content])).toEqual([
        ['main.py', 'import helper\nprint(1)'],
        ['helper.py', 'import socket\nsocket.create_connection(("example.com", 80))'],
      ]);
      expect(code.files[1].sha256).toMatch(/^[0-9a-f]{64}$/);
      const findings = (done.findings ?? []) as { ruleId: string; file?: string }[];
      expect(findings.some((f) => f.file === 'helper.py' && f.ruleId.includes('socket'))).toBe(true);
    },
    TIMEOUT,
  );

  test.each([
    ['a parent directory', { '../escape.py': { content: 'print(1)' } }, '../escape.py'],
    ['an absolute path', { '/etc/cron.d/x': { content: 'print(1)' } }, '/etc/cron.d/x'],
    ['a backslash', { 'a\\..\\b.py': { content: 'print(1)' } }, 'a\\..\\b.py'],
    ['a file that is also a directory', { main: { content: 'print(1)' }, 'main/x.py': { content: '' } }, 'main'],
    ['the same name twice', { 'é.py': { content: '' }, 'e\u0301.py': { content: '' } }, 'e\u0301.py'],
  ])('%s is refused with 400 naming the path', async (_what, files, path) => {
    const entryPoint = Object.keys(files)[0]!;
    const res = await api.post('/v1/evaluations', { language: 'python', files, entryPoint });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain(JSON.stringify(path).slice(1, -1));
  });
});
