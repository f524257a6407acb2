/**
 * The API's zod schemas: the single source of request validation, TypeScript types and the
 * OpenAPI document.
 */
import { z } from '@hono/zod-openapi';
import { EVENT_TYPES, LANGUAGES, REVIEW_DECISIONS, SEVERITIES, STATUSES, VERDICTS } from '../domain/evaluation';

import { MAX_CODE_BYTES, MAX_EXPECTED_OUTPUT_BYTES, MAX_STDIN_BYTES, byteBounded, LimitsInput, Limits } from './primitives';
import { Checker, TestCaseInput } from './test-sets';
import { BUNDLE_MODES } from '../domain/test-cases';
import { fileSetProblems, MAX_FILES } from '../domain/submission-files';

export { MAX_CODE_BYTES, MAX_STDIN_BYTES, MAX_EXPECTED_OUTPUT_BYTES, MAX_BODY_BYTES, byteBounded, LimitsInput, Limits } from './primitives';

/** Inline test cases per submission; a larger bundle is a stored test set, referenced by id. */
export const MAX_INLINE_CASES = 100;
/** Cases of one evaluation that may run at once (each in its own sandbox). */
export const MAX_CASE_PARALLELISM = 8;
export const DEFAULT_CASE_PARALLELISM = 2;
/** The files of a multi-file submission together, decoded. */
export const MAX_FILES_TOTAL_BYTES = 1024 * 1024;

export const SubmissionFile = z
  .object({
    content: z.string().optional().openapi({ description: 'the file as UTF-8 text' }),
    base64: z.string().optional().openapi({ description: 'the file as base64, for binary content' }),
  })
  .strict()
  .openapi('SubmissionFile', { description: 'Exactly one of `content` and `base64`.' });

export const CreateEvaluationRequest = z
  .object({
    language: z.enum(LANGUAGES),
    code: byteBounded(MAX_CODE_BYTES, 'code')
      .refine((s) => s.length > 0, { message: 'code must not be empty' })
      .optional()
      .openapi({ description: 'The program, one file. Give either `code` or `files`.' }),
    files: z
      .record(z.string(), SubmissionFile)
      .optional()
      .openapi({
        description: `A program of several files: relative paths (\`/\` separated, no \`..\`, at most ${MAX_FILES}) to their contents, placed in the sandbox's work dir. Give \`entryPoint\` with it.`,
      }),
    entryPoint: z
      .string()
      .max(255)
      .optional()
      .openapi({ description: 'With `files`: the file to run (interpreted languages) or whose program runs (Java: its class).' }),
    stdin: byteBounded(MAX_STDIN_BYTES, 'stdin').optional(),
    expectedOutput: byteBounded(MAX_EXPECTED_OUTPUT_BYTES, 'expectedOutput').optional(),
    limits: LimitsInput.optional(),
    testCases: z.array(TestCaseInput).min(1).max(MAX_INLINE_CASES).optional().openapi({
      description: 'Run the program once per case, each in a fresh sandbox; not with `stdin`, `expectedOutput` or `testSetId`.',
    }),
    testSetId: z.uuid().optional().openapi({ description: "Run the program against a stored test set's cases (POST /v1/test-sets)." }),
    checker: Checker.optional().openapi({
      description: 'With `testCases`: how outputs are judged, default `lines`. A test set carries its own.',
    }),
    stopAtFirstFailure: z
      .boolean()
      .optional()
      .openapi({ description: 'With test cases: start no further case once one is not accepted (default false: run all).' }),
    caseParallelism: z
      .number()
      .int()
      .min(1)
      .max(MAX_CASE_PARALLELISM)
      .optional()
      .openapi({ description: `With test cases: how many cases run at once, default ${DEFAULT_CASE_PARALLELISM}.` }),
    callbackUrl: z
      .string()
      .max(2048)
      .optional()
      .openapi({ description: 'Receives the final evaluation as a signed POST (see the README for the signature scheme)' }),
    metadata: z
      .record(z.string().max(128), z.string().max(1024))
      .refine((m) => Object.keys(m).length <= 32, { message: 'metadata holds at most 32 keys' })
      .optional(),
  })
  .strict()
  .superRefine((request, context) => {
    const problem = (path: string, message: string) => context.addIssue({ code: 'custom', path: [path], message });
    if ((request.code === undefined) === (request.files === undefined))
      problem('code', 'give either code or files (with entryPoint), not both');
    if (request.files !== undefined) {
      if (request.entryPoint === undefined) problem('entryPoint', 'files needs an entryPoint: the file to run');
      else {
        for (const found of fileSetProblems(request.files, request.entryPoint, { maxTotalBytes: MAX_FILES_TOTAL_BYTES })) {
          context.addIssue({ code: 'custom', path: ['files', ...(found.path === '' ? [] : [found.path])], message: found.message });
        }
      }
    } else if (request.entryPoint !== undefined) problem('entryPoint', 'entryPoint goes with files');
    const bundled = request.testCases !== undefined || request.testSetId !== undefined;
    if (request.testCases !== undefined && request.testSetId !== undefined) problem('testSetId', 'give testCases or testSetId, not both');
    if (bundled && request.stdin !== undefined) problem('stdin', 'with test cases, each case carries its own stdin');
    if (bundled && request.expectedOutput !== undefined)
      problem('expectedOutput', 'with test cases, each case carries its own expected output');
    if (!bundled) {
      for (const field of ['checker', 'stopAtFirstFailure', 'caseParallelism'] as const) {
        if (request[field] !== undefined) problem(field, `${field} goes with testCases or testSetId`);
      }
    }
    if (request.testSetId !== undefined && request.checker !== undefined) problem('checker', 'a test set uses its own checker');
  })
  .openapi('CreateEvaluationRequest');
export type CreateEvaluationRequest = z.infer<typeof CreateEvaluationRequest>;

export const Finding = z
  .object({
    ruleId: z.string(),
    severity: z.enum(SEVERITIES),
    message: z.string(),
    line: z.number().int(),
    column: z.number().int(),
    file: z.string().optional().openapi({ description: 'Multi-file submissions: the file it is in' }),
  })
  .openapi('Finding');

export const ExecutionResult = z
  .object({
    stdout: z.string(),
    stderr: z.string(),
    exitCode: z.number().int().nullable(),
    signal: z.string().nullable(),
    timeMs: z.number().int(),
    cpuTimeMs: z.number().int(),
    memoryKb: z.number().int(),
    stdoutTruncated: z.boolean(),
    stderrTruncated: z.boolean(),
    engine: z.string(),
    compileTimeMs: z.number().int().optional().openapi({
      description:
        "Compiled languages (c, cpp, go, java): wall time of the compile stage, which runs in its own sandbox under its own limits (see GET /v1/languages). With the verdict `compilation_error` the other fields describe the compiler's run and `stderr` holds its message.",
    }),
  })
  .openapi('ExecutionResult');

export const Links = z.object({ self: z.string(), events: z.string(), code: z.string(), cases: z.string().optional() });

export const BundleSummary = z
  .object({
    testSetId: z.uuid().nullable().openapi({
      description:
        'The test set the cases come from. Inline cases are stored as a set of their own, which is not listed under /v1/test-sets: read them through links.cases.',
    }),
    mode: z.enum(BUNDLE_MODES),
    caseParallelism: z.number().int(),
    caseCount: z.number().int(),
    score: z.number().optional().openapi({ description: "Once completed: the cases' weighted score, 0 to 1" }),
    decidingCase: z
      .number()
      .int()
      .nullable()
      .optional()
      .openapi({ description: 'Once completed: the first case (1-based) not accepted, whose verdict is the overall verdict' }),
    counts: z.record(z.string(), z.number().int()).optional().openapi({ description: 'Once completed: cases per verdict, and `skipped`' }),
  })
  .openapi('BundleSummary', { description: 'Present when the evaluation runs test cases; the per-case results are at links.cases.' });

export const CaseResult = z
  .object({
    position: z.number().int(),
    name: z.string().nullable(),
    status: z.enum(['completed', 'failed', 'pending', 'skipped', 'cancelled']).openapi({
      description:
        '`completed` (has a verdict), `failed` (its custom checker failed), `pending` (not run yet), `skipped` (stopped at an earlier failure), `cancelled`',
    }),
    verdict: z.enum(VERDICTS).nullable(),
    score: z.number().nullable(),
    weight: z.number(),
    timeMs: z.number().int().nullable(),
    cpuTimeMs: z.number().int().nullable(),
    memoryKb: z.number().int().nullable(),
    exitCode: z.number().int().nullable(),
    signal: z.string().nullable(),
    stdout: z.string().nullable().openapi({ description: 'The head of the output (first 4 KiB)' }),
    stderr: z.string().nullable(),
    stdoutBytes: z.number().int().nullable(),
    stderrBytes: z.number().int().nullable(),
    difference: z
      .object({ unit: z.enum(['line', 'token', 'byte']), index: z.number().int(), expected: z.string(), actual: z.string() })
      .nullable()
      .openapi({ description: 'wrong_answer from a built-in checker: the first differing line, token or byte' }),
    checkerMessage: z.string().nullable(),
    error: z.string().nullable(),
  })
  .openapi('CaseResult');

export type CaseResult = z.infer<typeof CaseResult>;

export const CaseResultList = z.object({ items: z.array(CaseResult) }).openapi('CaseResultList');

export const Review = z
  .object({
    decision: z.enum(REVIEW_DECISIONS),
    by: z.string().nullable().openapi({ description: 'Who decided: the API caller, or the name an operator gave in the Web UI' }),
    reason: z.string().nullable(),
    at: z.iso.datetime(),
  })
  .openapi('Review', { description: 'The review decision of a submission the scan held for review' });

export const SubmittedCode = z
  .object({
    id: z.uuid(),
    language: z.enum(LANGUAGES),
    code: z.string().openapi({
      description: 'The code as submitted (UTF-8; a NUL byte is \\u0000 in JSON); of a multi-file submission, the entry point',
    }),
    sizeBytes: z.number().int(),
    sha256: z.string(),
    entryPoint: z.string().optional().openapi({ description: 'Multi-file submissions: the file that runs' }),
    files: z
      .array(
        z.object({
          path: z.string(),
          content: z.string().optional().openapi({ description: 'The file as UTF-8 text, when it is valid UTF-8' }),
          base64: z.string().optional().openapi({ description: 'The file as base64, when it is not valid UTF-8' }),
          sizeBytes: z.number().int(),
          sha256: z.string(),
        }),
      )
      .optional()
      .openapi({ description: 'Multi-file submissions: every file, in the order submitted, so a reviewer reads all of them' }),
  })
  .openapi('SubmittedCode');
export type SubmittedCode = z.infer<typeof SubmittedCode>;

export const Evaluation = z
  .object({
    id: z.uuid(),
    workflowId: z.string(),
    status: z.enum(STATUSES),
    language: z.enum(LANGUAGES),
    verdict: z.enum(VERDICTS).optional(),
    limits: Limits,
    metadata: z.record(z.string(), z.string()),
    findings: z.array(Finding),
    result: ExecutionResult.optional(),
    bundle: BundleSummary.optional(),
    error: z.string().optional(),
    review: Review.optional(),
    callbackUrl: z.string().optional(),
    createdAt: z.iso.datetime(),
    startedAt: z.iso.datetime().optional(),
    completedAt: z.iso.datetime().optional(),
    links: Links,
  })
  .openapi('Evaluation');
export type Evaluation = z.infer<typeof Evaluation>;

export const SubmitResponse = z
  .object({ id: z.uuid(), status: z.enum(STATUSES), workflowId: z.string(), links: Links })
  .openapi('SubmitResponse');

export const EvaluationList = z.object({ items: z.array(Evaluation), nextCursor: z.string().nullable() }).openapi('EvaluationList');

export const ListQuery = z.object({
  status: z.enum(STATUSES).optional(),
  language: z.enum(LANGUAGES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

export const LifecycleEvent = z
  .object({
    id: z.string(),
    type: z.enum(EVENT_TYPES),
    at: z.iso.datetime(),
    data: z.record(z.string(), z.unknown()),
  })
  .openapi('LifecycleEvent');
export type LifecycleEvent = z.infer<typeof LifecycleEvent>;

export const EventList = z.object({ items: z.array(LifecycleEvent) }).openapi('EventList');

export const ReviewRequest = z
  .object({
    reason: z.string().max(2000).optional(),
    by: z.string().max(200).optional().openapi({ description: 'Who decides; defaults to the API key (tenant and key name)' }),
  })
  .strict()
  .openapi('ReviewRequest');

export const ActionAccepted = z.object({ id: z.uuid(), status: z.enum(STATUSES) }).openapi('ActionAccepted');

export const IdParam = z.object({
  id: z.uuid({ message: 'id must be a UUID' }).openapi({ param: { name: 'id', in: 'path' } }),
});

export const WebhookDelivery = z
  .object({
    attempt: z.number().int(),
    url: z.string(),
    statusCode: z.number().int().nullable(),
    error: z.string().nullable(),
    succeeded: z.boolean(),
    durationMs: z.number().int(),
    at: z.iso.datetime(),
  })
  .openapi('WebhookDelivery');

export const ErrorBody = z
  .object({
    error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
  })
  .openapi('Error');
