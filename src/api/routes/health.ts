/** /healthz (the process is alive) and /readyz (its dependencies answer). */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<{ ok: boolean; detail: string }>;
}

const Check = z.object({ ok: z.boolean(), detail: z.string() });
const Readiness = z.object({ status: z.enum(['ready', 'not_ready']), checks: z.record(z.string(), Check) }).openapi('Readiness');

const healthRoute = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness: the process is up',
  responses: { 200: { description: 'Alive', content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } } } },
});

const readyRoute = createRoute({
  method: 'get',
  path: '/readyz',
  summary: 'Readiness: PostgreSQL and Temporal are reachable, and the sandbox engine works',
  responses: {
    200: { description: 'Ready', content: { 'application/json': { schema: Readiness } } },
    503: { description: 'A dependency is unreachable', content: { 'application/json': { schema: Readiness } } },
  },
});

export function healthRoutes(checks: ReadinessCheck[]) {
  const app = new OpenAPIHono();
  app.openapi(healthRoute, (c) => c.json({ status: 'ok' as const }, 200));
  app.openapi(readyRoute, async (c) => {
    const results = await Promise.all(
      checks.map(async ({ name, check }) => {
        try {
          return [name, await check()] as const;
        } catch (err) {
          return [name, { ok: false, detail: (err as Error).message }] as const;
        }
      }),
    );
    const ready = results.every(([, r]) => r.ok);
    const body = { status: ready ? ('ready' as const) : ('not_ready' as const), checks: Object.fromEntries(results) };
    return ready ? c.json(body, 200) : c.json(body, 503);
  });
  return app;
}
