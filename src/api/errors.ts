/**
 * Typed API errors and the one error body every failure uses:
 * {"error": {"code", "message", "details"?}}. Internal errors never leak stack traces.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details?: unknown) => new ApiError(400, 'invalid_request', message, details);
export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} was not found`);
export const conflict = (code: string, message: string, details?: unknown) => new ApiError(409, code, message, details);
export const payloadTooLarge = (message: string, details?: unknown) => new ApiError(413, 'payload_too_large', message, details);
export const unsupportedMediaType = () =>
  new ApiError(415, 'unsupported_media_type', 'the request body must be JSON (Content-Type: application/json)');
export const serviceUnavailable = (code: string, message: string) => new ApiError(503, code, message, undefined, { 'Retry-After': '5' });

export function errorBody(code: string, message: string, details?: unknown) {
  return { error: { code, message, ...(details === undefined ? {} : { details }) } };
}

export function renderError(err: ApiError, c: Context) {
  for (const [name, value] of Object.entries(err.headers ?? {})) c.header(name, value);
  return c.json(errorBody(err.code, err.message, err.details), err.status);
}
