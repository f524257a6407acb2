/**
 * Request examples for the OpenAPI document: one per language (each reads a number and prints
 * its double, the same program in every language) and one per kind of submission (test cases, a
 * custom checker, a stored test set, several files). test/api/openapi.test.ts parses every one
 * with CreateEvaluationRequest, so an example cannot drift from the schema.
 */
import type { Language } from '../domain/evaluation';
import type { CreateEvaluationRequest } from './schemas';

const DOUBLE: Record<Language, string> = {
  python: 'print(int(input()) * 2)',
  javascript: "const n = Number(require('fs').readFileSync(0, 'utf8'));\nconsole.log(n * 2);",
  bash: 'read n\necho $((n * 2))',
  c: '#include <stdio.h>\nint main(void) { long n; scanf("%ld", &n); printf("%ld\\n", n * 2); return 0; }',
  cpp: '#include <iostream>\nint main() { long n; std::cin >> n; std::cout << n * 2 << "\\n"; }',
  go: 'package main\n\nimport "fmt"\n\nfunc main() {\n\tvar n int\n\tfmt.Scan(&n)\n\tfmt.Println(n * 2)\n}',
  java: 'import java.util.Scanner;\n\npublic class Main {\n  public static void main(String[] args) {\n    System.out.println(new Scanner(System.in).nextLong() * 2);\n  }\n}',
};

const NAMES: Record<Language, string> = {
  python: 'Python',
  javascript: 'JavaScript (Node.js)',
  bash: 'Bash',
  c: 'C (gcc)',
  cpp: 'C++ (g++)',
  go: 'Go',
  java: 'Java (the class is Main)',
};

type Example = { summary: string; value: CreateEvaluationRequest };

const perLanguage = Object.fromEntries(
  (Object.keys(DOUBLE) as Language[]).map((language) => [
    language,
    {
      summary: `${NAMES[language]}: one run with stdin and an expected output`,
      value: { language, code: DOUBLE[language], stdin: '21\n', expectedOutput: '42\n' },
    },
  ]),
) as Record<Language, Example>;

export const SUBMISSION_EXAMPLES: Record<string, Example> = {
  ...perLanguage,
  testCases: {
    summary: 'Test cases: the program built once and run per case; per-case results at links.cases',
    value: {
      language: 'cpp',
      code: DOUBLE.cpp,
      testCases: [
        { name: 'small', stdin: '1\n', expectedOutput: '2\n' },
        { name: 'large', stdin: '1000000000\n', expectedOutput: '2000000000\n', weight: 2, limits: { cpuTimeMs: 1000 } },
      ],
      checker: { kind: 'tokens' },
      stopAtFirstFailure: false,
      caseParallelism: 2,
    },
  },
  customChecker: {
    summary: 'A custom checker: exits 42 to accept, 43 to reject; a first stdout line 0..1 is a partial score',
    value: {
      language: 'python',
      code: 'print(*sorted(input().split()))',
      testCases: [{ stdin: 'b a c', expectedOutput: 'a b c' }],
      checker: {
        kind: 'program',
        language: 'python',
        code: "import sys\nok = open('case/output').read().split() == open('case/expected').read().split()\nsys.exit(42 if ok else 43)",
      },
    },
  },
  testSet: {
    summary: 'A stored test set (POST /v1/test-sets), run by id; it carries its own checker',
    value: { language: 'python', code: DOUBLE.python, testSetId: '6f1c2a52-8d0e-4c8b-9f55-1a2b3c4d5e6f', stopAtFirstFailure: true },
  },
  multiFile: {
    summary: 'Several files: relative paths to contents (or base64), and the entry point',
    value: {
      language: 'python',
      entryPoint: 'main.py',
      files: {
        'main.py': { content: 'from geometry.area import square\nprint(square(int(input())))' },
        'geometry/__init__.py': { content: '' },
        'geometry/area.py': { content: 'def square(n):\n    return n * n' },
      },
      stdin: '7\n',
      expectedOutput: '49\n',
    },
  },
};
