/**
 * The building blocks the request schemas share (sizes, byte-bounded strings, limits), in a module
 * of their own so that schemas.ts and test-sets.ts can both use them without importing each other.
 */
import { z } from '@hono/zod-openapi';
import { LIMIT_DEFAULTS, LIMIT_MAXIMA } from '../domain/evaluation';

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
