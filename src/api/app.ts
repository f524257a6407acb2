/** The Hono application: middleware, routes, the OpenAPI document and error mapping. */
import { OpenAPIHono } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import { bodyLimit } from 'hono/body-limit';
import type { Logger } from '../logging/logger';
import type { Metrics } from '../metrics/metrics';
import { secureHeaders } from 'hono/secure-headers';
import { cors } from 'hono/cors';
import { swaggerUI } from '@hono/swagger-ui';
import type { AuthVariables } from './auth/principal';
import type { ApiKeyStore } from './auth/api-keys';
import { authenticate } from './auth/middleware';
import { keyByClientAddress, rateLimit, type RequestLimits } from './ratelimit';
import { ApiError, errorBody, payloadTooLarge, renderError, unsupportedMediaType, serviceUnavailable } from './errors';
import { evaluationRoutes, type EvaluationRoutesDeps } from './routes/evaluations';
import { healthRoutes, type ReadinessCheck } from './routes/health';
import { introspectionRoutes } from './routes/introspection';
import { batchRoutes } from './routes/batches';
import { testSetRoutes } from './routes/test-sets';
import type { TestSetStore } from '../db/test-sets';
import type { LanguageCatalog } from '../sandbox/language-catalog';
import type { ScanPolicy } from '../scanner/decide';
import { MAX_BODY_BYTES } from '../contract/schemas';
import { requestContext } from './request-context';

export interface AppDeps extends EvaluationRoutesDeps {
  readiness: ReadinessCheck[];
  testSets: TestSetStore;
  languages: LanguageCatalog;
  log: Logger;
  metrics: Metrics;
  policy: ScanPolicy;
  keys: Pick<ApiKeyStore, 'verify'>;
  /** Only for local development: every caller is the `default` tenant with every scope. */
  authDisabled: boolean;
  /** Shared by every API process on the same database (see src/api/ratelimit/postgres.ts). */
  rateLimits: RequestLimits;
  /** Origins allowed to call the API from a browser; none by default. */
  corsOrigins?: string[];
  /** Set while the process shuts down: new work is refused with 503 and /readyz fails. */
  shutdown?: ShutdownState;
}

/** Whether this API process is shutting down (a deploy's SIGTERM). */
export interface ShutdownState {
  draining: boolean;
}

/** Paths that still answer while draining: the probes that tell a load balancer to stop sending. */
const ANSWERED_WHILE_DRAINING = new Set(['/healthz', '/readyz', '/metrics']);

export function createApp(deps: AppDeps) {
  const app = new OpenAPIHono<{ Variables: AuthVariables }>();

  // First, so the request id, the span and the access log cover everything after it.
  app.use('*', requestContext(deps.log));
  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    deps.metrics.httpRequestSeconds.observe(
      { method: c.req.method, route: c.req.routePath, status: String(c.res.status) },
      (performance.now() - started) / 1000,
    );
  });
  app.use('*', secureHeaders());
  app.use('*', async (c, next) => {
    if (deps.shutdown?.draining && !ANSWERED_WHILE_DRAINING.has(c.req.path)) {
      throw serviceUnavailable('shutting_down', 'this API process is shutting down; retry, another one will answer');
    }
    await next();
  });
  if (deps.corsOrigins && deps.corsOrigins.length > 0) app.use('*', cors({ origin: deps.corsOrigins }));

  // A coarse per-address guard first: every bad key costs a database lookup.
  app.use('/v1/*', rateLimit({ limiter: deps.rateLimits.perAddress, keyOf: keyByClientAddress, advertise: false }));
  app.use('/v1/*', authenticate({ keys: deps.keys, disabled: deps.authDisabled }));
  app.use('/v1/*', rateLimit({ limiter: deps.rateLimits.perCaller }));
  app.use('/v1/*', requireJsonBody);
  // Counts the bytes actually read, so neither chunked bodies nor a lying Content-Length get past.
  app.use(
    '/v1/*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw payloadTooLarge(`the request body exceeds ${MAX_BODY_BYTES} bytes`);
      },
    }),
  );

  app.route('/', healthRoutes(deps.readiness));
  app.get('/metrics', async (c) => c.body(await deps.metrics.render(), 200, { 'content-type': deps.metrics.contentType }));
  // Before the evaluation routes, so /batch is not taken for an evaluation id.
  app.route('/v1/evaluations', batchRoutes(deps));
  app.route('/v1/evaluations', evaluationRoutes(deps));
  app.route('/v1/test-sets', testSetRoutes(deps));
  app.route('/v1', introspectionRoutes(deps.policy, deps.languages));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key (crk_…); create one with `npm run apikey -- create`',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Crucible evaluation API',
      version: '1.0.0',
      description: 'Submit untrusted code; it is scanned, run in a sandbox under limits, and its verdict stored durably.',
    },
  });

  // Swagger UI's page loads its script from a CDN; the document itself is served from here.
  app.get('/docs', swaggerUI({ url: '/openapi.json', title: 'Crucible API' }));

  app.notFound((c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404));
  app.onError((err, c) => {
    if (err instanceof ApiError) return renderError(err, c);
    if (err instanceof HTTPException) {
      const code = err.status === 400 ? 'invalid_json' : err.status === 413 ? 'payload_too_large' : 'http_error';
      return c.json(errorBody(code, err.status === 400 ? 'the request body is not valid JSON' : err.message), err.status);
    }
    deps.log.error({ err, method: c.req.method, path: c.req.path }, 'unhandled error in request');
    return c.json(errorBody('internal_error', 'an internal error occurred; it has been logged'), 500);
  });
  return app;
}

/** A request that carries a body must say it is JSON; anything else is 415, before parsing. */
const requireJsonBody = async (c: Parameters<Parameters<OpenAPIHono['use']>[1]>[0], next: () => Promise<void>) => {
  const method = c.req.method;
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    const hasBody = c.req.header('transfer-encoding') !== undefined || Number(c.req.header('content-length') ?? '0') > 0;
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (hasBody && type !== 'application/json') throw unsupportedMediaType();
    if (!hasBody && c.req.path === '/v1/evaluations' && type !== 'application/json') throw unsupportedMediaType();
  }
  await next();
};
