/**
 * Accepting an evaluation: the row is written first (so GET never answers 404 after a 202), in
 * one statement with the in-flight caps' check (src/db/admission.ts); then the workflow is
 * started (./workflow-starter.ts: a start slower than a few tens of milliseconds carries on after
 * the 202); if Temporal refuses while the POST waits, the row is removed again and the caller
 * gets 503.
 */
import { createHash, randomUUID } from 'node:crypto';
import { v5 as uuidv5 } from 'uuid';
import type { Language, Limits } from '../domain/evaluation';
import { DEFAULT_CHECKER } from '../domain/checkers';
import { TestSetNotFoundError, type NewBundle } from '../db/evaluations';
import type { LanguageCatalog } from '../sandbox/language-catalog';
import type { EvaluationRow, EvaluationStore } from '../db/evaluations';
import type { TemporalGateway } from '../temporal/gateway';
import { describeRun } from '../temporal/run-description';
import { workflowInputFor } from '../temporal/workflow-input';
import { TemporalUnavailableError } from '../temporal/gateway';
import { withDatabase } from './dependency-errors';
import { ApiError, serviceUnavailable } from './errors';
import { DestinationLookupError, validateCallbackUrl } from '../webhooks/ssrf-guard';
import { checkCapacity } from './ratelimit';
import { AdmissionRefusedError } from '../db/admission';
import { DEFAULT_CASE_PARALLELISM, type CreateEvaluationRequest } from '../contract/schemas';
import { toNewTestCases } from '../contract/test-sets';
import type { WorkflowStarter } from './workflow-starter';

export interface SubmissionDeps {
  store: EvaluationStore;
  temporal: TemporalGateway;
  starter: WorkflowStarter;
  reviewTimeout: string;
  publicUrl?: string;
  webhooks: { enabled: boolean; allowPrivate: boolean };
  /** Evaluations not yet finished, per tenant and overall, beyond which new ones are refused. */
  maxInFlight: { perTenant: number; total: number };
  /** The languages, their default limits, and whether their toolchains work here. */
  languages: LanguageCatalog;
}

export class Submissions {
  constructor(private readonly deps: SubmissionDeps) {}

  async submit(tenant: string, request: CreateEvaluationRequest, idempotencyKey?: string): Promise<EvaluationRow> {
    const requestHash = idempotencyKey ? hashRequest(request) : undefined;
    if (idempotencyKey) {
      const existing = await withDatabase(() => this.deps.store.findByIdempotencyKey(tenant, idempotencyKey));
      if (existing) return sameRequestOrConflict(existing, requestHash!);
    }

    await this.requireAvailable(request.checker?.kind === 'program' ? request.checker.language : undefined);
    const language = await this.deps.languages.describe(request.language);
    if (!language.available) {
      // Refused now rather than queued to fail in the worker: its toolchain is missing here.
      throw new ApiError(
        422,
        'language_unavailable',
        `${language.name} is not available on this service: ${language.unavailableReason ?? 'its toolchain does not work'}`,
        { language: request.language, reason: language.unavailableReason },
      );
    }
    const callbackUrl = request.callbackUrl !== undefined ? await this.vetCallbackUrl(request.callbackUrl) : undefined;
    const id = idempotencyKey ? idempotencyId(tenant, idempotencyKey) : randomUUID();
    // The language's defaults (the JVM and Go need more than Python); the submission's own limits win.
    const limits: Limits = { ...language.defaultLimits, ...stripUndefined(request.limits ?? {}) };
    const files = request.files ? decodeFiles(request.files) : undefined;
    const code =
      request.code !== undefined ? Buffer.from(request.code, 'utf8') : files!.find((file) => file.path === request.entryPoint)!.content;
    let row: EvaluationRow;
    try {
      row = await withDatabase(() =>
        this.deps.store.create(
          {
            id,
            tenant,
            language: request.language,
            code,
            files,
            entryPoint: request.entryPoint,
            bundle: bundleOf(request, id),
            stdin: request.stdin !== undefined ? Buffer.from(request.stdin, 'utf8') : undefined,
            expectedOutput: request.expectedOutput !== undefined ? Buffer.from(request.expectedOutput, 'utf8') : undefined,
            limits,
            metadata: request.metadata ?? {},
            idempotencyKey,
            requestHash,
            callbackUrl,
          },
          undefined,
          this.deps.maxInFlight,
        ),
      );
    } catch (err) {
      if (err instanceof AdmissionRefusedError) throw this.refusal(err);
      if (err instanceof TestSetNotFoundError) {
        throw new ApiError(422, 'test_set_not_found', `${err.message} for this tenant (or it was deleted)`, { testSetId: err.testSetId });
      }
      // Two requests with the same key raced; the loser answers with the winner's evaluation.
      if (idempotencyKey && isUniqueViolation(err)) {
        const winner = await withDatabase(() => this.deps.store.findByIdempotencyKey(tenant, idempotencyKey));
        if (winner) return sameRequestOrConflict(winner, requestHash!);
      }
      throw err;
    }

    try {
      await this.deps.starter.begin(row.id, () => this.ensureStarted(row));
    } catch (err) {
      await withDatabase(() => this.deps.store.remove(id));
      if (err instanceof TemporalUnavailableError) {
        throw serviceUnavailable('temporal_unavailable', 'Temporal is unreachable; the evaluation was not accepted, try again shortly');
      }
      throw err;
    }
    return row;
  }

  /**
   * Starts the evaluation's workflow unless it exists already: a start of a started (or ended)
   * workflow id is refused by Temporal and ignored here, so this is safe to repeat. A cancel calls
   * it for a `queued` row, whose workflow may still be starting in the background.
   */
  async ensureStarted(row: EvaluationRow): Promise<void> {
    await this.deps.temporal.startEvaluation(workflowInputFor(row, this.deps.reviewTimeout), describeRun(row, this.deps.publicUrl));
  }

  /** A custom checker's language must work here too, or no case could be judged. */
  private async requireAvailable(checkerLanguage: Language | undefined): Promise<void> {
    if (checkerLanguage === undefined) return;
    const checker = await this.deps.languages.describe(checkerLanguage);
    if (!checker.available) {
      throw new ApiError(
        422,
        'language_unavailable',
        `the checker's language ${checker.name} is not available on this service: ${checker.unavailableReason ?? 'its toolchain does not work'}`,
        { language: checkerLanguage, reason: checker.unavailableReason },
      );
    }
  }

  /** The answer to a refused admission: the tenant's cap (429) or the service's (503), with the counts. */
  private refusal(refused: AdmissionRefusedError): ApiError {
    const answer = checkCapacity({
      tenantInFlight: refused.counts.tenant,
      totalInFlight: refused.counts.total,
      perTenantMax: this.deps.maxInFlight.perTenant,
      totalMax: this.deps.maxInFlight.total,
    });
    // The database applied the same caps; if the two disagree, that is a defect to surface, not to admit.
    if (!answer) throw new Error(`admission refused at counts the caps allow (${refused.message})`, { cause: refused });
    return answer;
  }

  /** Refuses a callback the worker could not or must not call (SSRF guard, after DNS resolution). */
  private async vetCallbackUrl(url: string): Promise<string> {
    if (!this.deps.webhooks.enabled) {
      throw new ApiError(400, 'webhooks_disabled', 'callbackUrl is not available: this service has no WEBHOOK_SECRET configured');
    }
    try {
      const verdict = await validateCallbackUrl(url, { allowPrivate: this.deps.webhooks.allowPrivate });
      if (!verdict.ok) throw new ApiError(400, 'invalid_callback_url', verdict.message, { reason: verdict.reason });
      return verdict.url;
    } catch (err) {
      if (err instanceof DestinationLookupError)
        throw serviceUnavailable('dns_unavailable', `could not resolve the callbackUrl's host right now: ${err.message}`);
      throw err;
    }
  }
}

function decodeFiles(files: NonNullable<CreateEvaluationRequest['files']>): { path: string; content: Buffer }[] {
  return Object.entries(files).map(([path, file]) => ({
    path,
    content: file.base64 !== undefined ? Buffer.from(file.base64, 'base64') : Buffer.from(file.content ?? '', 'utf8'),
  }));
}

/** The test cases a submission runs, if any: a stored set, or its inline cases stored as a set of its own. */
function bundleOf(request: CreateEvaluationRequest, evaluationId: string): NewBundle | undefined {
  const mode = request.stopAtFirstFailure ? 'first_failure' : 'all';
  const parallelism = request.caseParallelism ?? DEFAULT_CASE_PARALLELISM;
  if (request.testSetId !== undefined) return { cases: { testSetId: request.testSetId }, mode, parallelism };
  if (request.testCases === undefined) return undefined;
  return {
    mode,
    parallelism,
    cases: {
      inline: {
        name: `inline cases of evaluation ${evaluationId}`,
        checker: request.checker ?? DEFAULT_CHECKER,
        cases: toNewTestCases(request.testCases),
      },
    },
  };
}

function sameRequestOrConflict(existing: EvaluationRow, requestHash: string): EvaluationRow {
  if (existing.requestHash !== requestHash) {
    throw new ApiError(422, 'idempotency_key_reused', 'this Idempotency-Key was already used with a different request body');
  }
  return existing;
}

function hashRequest(request: CreateEvaluationRequest): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

/** Key order must not make two equal bodies look different. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The namespace of Crucible's idempotency ids (RFC 9562 name-based UUIDs). Fixed for good:
 * changing it changes the id, and so the workflow id, that a tenant and key name.
 */
export const IDEMPOTENCY_NAMESPACE = 'fec30855-7711-4a68-be39-1047318a638d';

/**
 * The same tenant and key always name the same evaluation (and so the same workflow id): a UUID
 * v5 of `${tenant}:${key}`. Tenants cannot contain ':' (TENANT_PATTERN in src/api/auth/api-keys.ts),
 * so no two pairs share a name.
 *
 * Rows created before this was a real v5 carry an id derived from SHA-256 instead. They are
 * still found, because a repeated request looks its evaluation up by (tenant, idempotency_key)
 * before it derives an id; only evaluations created from now on get ids of this form.
 */
export function idempotencyId(tenant: string, key: string): string {
  return uuidv5(`${tenant}:${key}`, IDEMPOTENCY_NAMESPACE);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string })?.code === 'P2002' || /Unique constraint/i.test(String((err as Error)?.message));
}
