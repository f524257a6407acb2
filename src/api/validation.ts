/** Maps zod validation failures to the documented error body (413 for fields over their byte limit). */
import type { Hook } from '@hono/zod-openapi';
import type { z } from '@hono/zod-openapi';
import { badRequest, payloadTooLarge } from './errors';

// The hook is shared by routes of every shape, so its environment and path types stay open.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const validationHook: Hook<unknown, any, any, unknown> = (result) => {
  if (result.success) return;
  const issues = (result.error as z.ZodError).issues;
  const details = issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  const tooLarge = issues.some((i) => i.code === 'custom' && (i as { params?: { tooLarge?: boolean } }).params?.tooLarge);
  if (tooLarge) throw payloadTooLarge('a field of the request is larger than allowed', details);
  throw badRequest(`invalid request: ${details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ')}`, details);
};
