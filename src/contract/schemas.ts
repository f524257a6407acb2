/**
 * The API's zod schemas: the single source of request validation, TypeScript types and the
 * OpenAPI document.
 */
import { z } from '@hono/zod-openapi';
import {
  EVENT_TYPES,
  LANGUAGES,
  LIMIT_DEFAULTS,
  LIMIT_MAXIMA,
  REVIEW_DECISIONS,
  SEVERITIES,
  STATUSES,
  VERDICTS,
} from '../domain/evaluation';

export const MAX_CODE_BYTES = 256 * 1024;
export const MAX_STDIN_BYTES = 1024 * 1024;
export const MAX_EXPECTED_OUTPUT_BYTES = 1024 * 1024;
/** Room for the largest valid body, JSON escaping included; anything larger is cut off unread. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

export const byteBounded = (max: number, field: string) =>
  z.string().refine((s) => Buffer.byteLength(s, 'utf8') <= max, {
    message: `${field} must be at most ${max} bytes (UTF-8)`,
    params: { tooLarge: true },
  });

const limit = (name: keyof typeof LIMIT_DEFAULTS, min: number) =>
  z
    .number()
    .int()
    .min(min)
    .max(LIMIT_MAXIMA[name])
    .optional()
    .openapi({ description: `default ${LIMIT_DEFAULTS[name]}, maximum ${LIMIT_MAXIMA[name]}` });

export const LimitsInput = z
  .object({
    cpuTimeMs: limit('cpuTimeMs', 100),
    wallTimeMs: limit('wallTimeMs', 100),
    memoryMb: limit('memoryMb', 16),
    maxProcesses: limit('maxProcesses', 1),
    maxOutputBytes: limit('maxOutputBytes', 1),
  })
  .strict();

export const Limits = z
  .object({
    cpuTimeMs: z.number().int(),
    wallTimeMs: z.number().int(),
    memoryMb: z.number().int(),
    maxProcesses: z.number().int(),
    maxOutputBytes: z.number().int(),
  })
  .openapi('Limits');

export const CreateEvaluationRequest = z
  .object({
    language: z.enum(LANGUAGES),
    code: byteBounded(MAX_CODE_BYTES, 'code').refine((s) => s.length > 0, { message: 'code must not be empty' }),
    stdin: byteBounded(MAX_STDIN_BYTES, 'stdin').optional(),
    expectedOutput: byteBounded(MAX_EXPECTED_OUTPUT_BYTES, 'expectedOutput').optional(),
    limits: LimitsInput.optional(),
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
  .openapi('CreateEvaluationRequest');
export type CreateEvaluationRequest = z.infer<typeof CreateEvaluationRequest>;

export const Finding = z
  .object({
    ruleId: z.string(),
    severity: z.enum(SEVERITIES),
    message: z.string(),
    line: z.number().int(),
    column: z.number().int(),
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

export const Links = z.object({ self: z.string(), events: z.string(), code: z.string() });

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
    code: z.string().openapi({ description: 'The code as submitted (UTF-8; a NUL byte is \\u0000 in JSON)' }),
    sizeBytes: z.number().int(),
    sha256: z.string(),
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
