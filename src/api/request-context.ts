/**
 * The first middleware of every request: a request id (the caller's X-Request-Id when it is a
 * plausible id, else a new UUID) returned in X-Request-Id and carried by every log line written
 * while the request is served (and, through the workflow's memo, by the workflow's and its
 * activities' lines); a server span when tracing is on (a no-op tracer otherwise); and one access
 * log line when the response is ready.
 */
import { randomUUID } from 'node:crypto';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { MiddlewareHandler } from 'hono';
import { withLogContext } from '../logging/log-context';
import type { Logger } from '../logging/logger';

export const REQUEST_ID_HEADER = 'X-Request-Id';

/** Letters, digits and `._:-`, at most 128: an id a proxy made, never a way to inject log text. */
const PLAUSIBLE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdOf(header: string | undefined): string {
  return header !== undefined && PLAUSIBLE_ID.test(header) ? header : randomUUID();
}

export function requestContext(log: Logger): MiddlewareHandler {
  const tracer = trace.getTracer('crucible-api');
  return async (c, next) => {
    const requestId = requestIdOf(c.req.header(REQUEST_ID_HEADER));
    const started = performance.now();
    const parent = propagation.extract(context.active(), Object.fromEntries(c.req.raw.headers));
    await withLogContext({ requestId }, () =>
      tracer.startActiveSpan(
        `${c.req.method} ${c.req.path}`,
        {
          kind: SpanKind.SERVER,
          attributes: { 'http.request.method': c.req.method, 'url.path': c.req.path, 'crucible.request_id': requestId },
        },
        parent,
        async (span) => {
          try {
            await next();
          } finally {
            const status = c.res.status;
            span.updateName(`${c.req.method} ${c.req.routePath}`);
            span.setAttributes({ 'http.route': c.req.routePath, 'http.response.status_code': status });
            if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
            span.end();
            c.header(REQUEST_ID_HEADER, requestId);
            log.info(
              {
                method: c.req.method,
                path: c.req.path,
                route: c.req.routePath,
                status,
                durationMs: Math.round(performance.now() - started),
              },
              'request',
            );
          }
        },
      ),
    );
  };
}
