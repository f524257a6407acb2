/** What a client can ask before submitting: languages, limits, and the effective scan policy. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { LANGUAGES, LIMIT_DEFAULTS, LIMIT_MAXIMA } from '../../domain/evaluation';
import type { AuthVariables } from '../auth/principal';
import { requireScope } from '../auth/middleware';
import type { ScanPolicy } from '../../scanner/decide';
import { scanPolicySchema } from '../../scanner/policy';
import { Limits } from '../../contract/schemas';
import { ENGINE_DIFFERENCES } from '../../sandbox/engine-differences';
import type { LanguageCatalog } from '../../sandbox/language-catalog';

const LanguageInfo = z
  .object({
    id: z.enum(LANGUAGES),
    name: z.string(),
    version: z.string().nullable().openapi({ description: "First line of the toolchain's version output, probed at start-up" }),
    fileName: z.string().openapi({
      description: 'The name the code is saved as; for Java the public class must be `Main` (`public class Main` in Main.java)',
    }),
    compileCommand: z.array(z.string()).nullable().openapi({
      description:
        'The compile stage (c, cpp, go, java): run in a sandbox of its own under `compileLimits`; null for interpreted languages',
    }),
    runCommand: z
      .array(z.string())
      .openapi({ description: 'How the program (or the compiled artefact) is started, in the work dir, with the default limits' }),
    defaultLimits: Limits.openapi({
      description: "The program's limits when a submission gives none; a submission's own limits win, up to the maxima",
    }),
    // A union, not .nullable(): a nullable reference to the Limits component would lose its null.
    compileLimits: z.union([Limits, z.null()]).openapi({
      description: "The compile stage's own limits (a submission cannot change them); null without one",
    }),
    available: z.boolean(),
    unavailableReason: z.string().optional().openapi({
      description:
        'Why the language cannot be used on this service (its toolchain is missing or does not run); submissions in it get 422 `language_unavailable`',
    }),
  })
  .openapi('LanguageInfo');

// The policy file's own schema (scanner/policy.ts) documents what the API shows: one definition.
// (Plain zod, not extended with .openapi(): it is declared by the scanner, which knows nothing of
// the API, so it is documented inline rather than as a named component.)
const Policy = scanPolicySchema;

const languagesRoute = createRoute({
  middleware: [requireScope('read')] as const,
  security: [{ bearerAuth: [] }],
  method: 'get',
  path: '/languages',
  summary: 'Languages a submission can be written in',
  responses: {
    200: {
      description: 'Supported languages',
      content: {
        'application/json': {
          schema: z.object({ items: z.array(LanguageInfo) }),
        },
      },
    },
  },
});

const EngineDifference = z.object({
  id: z.string(),
  limit: z.enum(['cpuTimeMs', 'memoryMb', 'maxProcesses', 'privileges']),
  description: z.string(),
});

const LimitsInfo = z.object({
  defaults: Limits,
  maxima: Limits,
  engines: z.record(z.enum(['bwrap', 'gvisor', 'process']), z.object({ differences: z.array(EngineDifference) })).openapi({
    description:
      'Per sandbox engine, where a limit or privilege does not mean what it means in bwrap (the reference): none for bwrap. The engine a deployment uses is its ENGINE setting.',
  }),
});

const limitsRoute = createRoute({
  middleware: [requireScope('read')] as const,
  security: [{ bearerAuth: [] }],
  method: 'get',
  path: '/limits',
  summary: 'Default and maximum execution limits',
  responses: {
    200: { description: 'Limits', content: { 'application/json': { schema: LimitsInfo } } },
  },
});

const policyRoute = createRoute({
  middleware: [requireScope('read')] as const,
  security: [{ bearerAuth: [] }],
  method: 'get',
  path: '/policy',
  summary: 'The scan policy in force: what each severity (or rule) leads to',
  responses: { 200: { description: 'Effective policy', content: { 'application/json': { schema: Policy } } } },
});

export function introspectionRoutes(policy: ScanPolicy, languages: LanguageCatalog) {
  const app = new OpenAPIHono<{ Variables: AuthVariables }>();
  app.openapi(languagesRoute, async (c) => c.json({ items: [...(await languages.list())] }, 200));
  app.openapi(limitsRoute, (c) => {
    const engines = Object.fromEntries(
      Object.entries(ENGINE_DIFFERENCES).map(([engine, differences]) => [engine, { differences: [...differences] }]),
    ) as z.infer<typeof LimitsInfo>['engines'];
    return c.json({ defaults: LIMIT_DEFAULTS, maxima: LIMIT_MAXIMA, engines }, 200);
  });
  app.openapi(policyRoute, (c) => c.json({ severity: { ...policy.severity }, rules: { ...(policy.rules ?? {}) } }, 200));
  return app;
}
