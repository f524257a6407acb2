/**
 * Test sets: a tenant's stored test cases (input, expected output, weight, limits) and the
 * checker that compares outputs, referenced by id from submissions so a large set is stored
 * once. The zod schemas here validate requests, type the code and describe the API.
 */
import { z } from '@hono/zod-openapi';
import { CHECKER_KINDS } from '../domain/checkers';
import { LANGUAGES } from '../domain/evaluation';
import type { NewTestCase } from '../db/test-sets';
import { byteBounded, LimitsInput, Limits, MAX_EXPECTED_OUTPUT_BYTES, MAX_STDIN_BYTES } from './primitives';

export const MAX_CASES_PER_SET = 1000;
export const MAX_CHECKER_CODE_BYTES = 64 * 1024;
/** Every case's stdin and expected output together; the request body's own cap is larger. */
export const MAX_TEST_SET_BYTES = 4 * 1024 * 1024;

const tolerance = (description: string) => z.number().min(0).max(1).openapi({ description });

export const Checker = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('exact') }).strict(),
    z.object({ kind: z.literal('lines') }).strict(),
    z.object({ kind: z.literal('tokens') }).strict(),
    z
      .object({
        kind: z.literal('float'),
        absolute: tolerance('largest accepted absolute difference between two numbers'),
        relative: tolerance("largest accepted difference relative to the expected number's magnitude"),
      })
      .strict(),
    z
      .object({
        kind: z.literal('program'),
        language: z.enum(LANGUAGES),
        code: byteBounded(MAX_CHECKER_CODE_BYTES, 'checker code').refine((code) => code.length > 0, {
          message: 'checker code must not be empty',
        }),
      })
      .strict()
      .openapi({
        description:
          'A custom checker: a program run per case in a sandbox of its own, with read-only files case/input, case/expected and case/output. Exit 42 accepts, 43 rejects (as Kattis output validators), anything else fails the case; an optional first stdout line 0..1 is a partial score, the rest a message.',
      }),
  ])
  .openapi('Checker', {
    description:
      `How a case's output is compared with its expected output: ${CHECKER_KINDS.join(', ')}. ` +
      '`lines` (the default) ignores trailing whitespace on each line and trailing empty lines; `tokens` ignores all ' +
      'whitespace between tokens; `float` is `tokens` with numbers equal within `absolute` or `relative` tolerance.',
  });

export const TestCaseInput = z
  .object({
    name: z.string().min(1).max(100).optional(),
    stdin: byteBounded(MAX_STDIN_BYTES, 'stdin').optional(),
    expectedOutput: byteBounded(MAX_EXPECTED_OUTPUT_BYTES, 'expectedOutput'),
    weight: z.number().positive().max(1000).optional().openapi({ description: 'default 1; the score is the weighted share' }),
    limits: LimitsInput.optional().openapi({ description: "overrides the submission's limits for this case" }),
  })
  .strict()
  .openapi('TestCaseInput');
export type TestCaseInput = z.infer<typeof TestCaseInput>;

export const CreateTestSetRequest = z
  .object({
    name: z.string().min(1).max(200),
    checker: Checker.optional().openapi({ description: 'default {"kind":"lines"}' }),
    cases: z.array(TestCaseInput).min(1).max(MAX_CASES_PER_SET),
  })
  .strict()
  .superRefine((request, context) => {
    const total = request.cases.reduce(
      (sum, testCase) => sum + Buffer.byteLength(testCase.stdin ?? '', 'utf8') + Buffer.byteLength(testCase.expectedOutput, 'utf8'),
      0,
    );
    if (total > MAX_TEST_SET_BYTES) {
      context.addIssue({
        code: 'custom',
        path: ['cases'],
        message: `the cases' stdin and expected outputs total ${total} bytes, more than the ${MAX_TEST_SET_BYTES} allowed`,
        params: { tooLarge: true },
      });
    }
  })
  .openapi('CreateTestSetRequest');
export type CreateTestSetRequest = z.infer<typeof CreateTestSetRequest>;

export const TestSetSummary = z
  .object({
    id: z.uuid(),
    name: z.string(),
    checker: Checker,
    caseCount: z.number().int(),
    totalBytes: z.number().int(),
    createdAt: z.iso.datetime(),
    links: z.object({ self: z.string() }),
  })
  .openapi('TestSetSummary');
export type TestSetSummary = z.infer<typeof TestSetSummary>;

export const TestCase = z
  .object({
    position: z.number().int().openapi({ description: '1-based: the order cases run and are reported in' }),
    name: z.string().nullable(),
    stdin: z.string(),
    expectedOutput: z.string(),
    weight: z.number(),
    limits: Limits.partial().nullable(),
  })
  .openapi('TestCase');

export const TestSet = TestSetSummary.extend({ cases: z.array(TestCase) }).openapi('TestSet');
export type TestSet = z.infer<typeof TestSet>;

export const TestSetList = z.object({ items: z.array(TestSetSummary), nextCursor: z.string().nullable() }).openapi('TestSetList');

export const TestSetListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

/** Cases as the API receives them, as the store keeps them (bytes). */
export function toNewTestCases(cases: readonly TestCaseInput[]): NewTestCase[] {
  return cases.map((testCase) => ({
    name: testCase.name,
    stdin: Buffer.from(testCase.stdin ?? '', 'utf8'),
    expectedOutput: Buffer.from(testCase.expectedOutput, 'utf8'),
    weight: testCase.weight,
    limits: testCase.limits,
  }));
}
