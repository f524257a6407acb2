/**
 * Admission by work in progress, on top of request rate: how many evaluations a tenant, and the
 * whole service, may have unfinished at once. Pure decision logic; the caller supplies the counts
 * (evaluations not yet in a terminal status) and renders the error.
 */
import { ApiError } from '../errors';

export interface CapacityCheck {
  /** Unfinished evaluations of the calling tenant, not counting the one being admitted. */
  tenantInFlight: number;
  /** Unfinished evaluations of all tenants, not counting the one being admitted. */
  totalInFlight: number;
  perTenantMax: number;
  totalMax: number;
  /** Suggested wait for Retry-After; default 5 s (evaluations take seconds). */
  retryAfterSeconds?: number;
}

const DEFAULT_RETRY_AFTER_SECONDS = 5;

/**
 * null when one more evaluation may start; otherwise the error to answer with. The tenant's own
 * cap is checked first: when a tenant is over its share, that (429, its own doing) is the more
 * useful answer than the service being busy (503).
 */
export function checkCapacity(check: CapacityCheck): ApiError | null {
  assertCount('tenantInFlight', check.tenantInFlight);
  assertCount('totalInFlight', check.totalInFlight);
  assertMaximum('perTenantMax', check.perTenantMax);
  assertMaximum('totalMax', check.totalMax);
  const retryAfter = check.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
  assertMaximum('retryAfterSeconds', retryAfter);
  const headers = { 'Retry-After': String(retryAfter) };

  if (check.tenantInFlight >= check.perTenantMax) {
    return new ApiError(
      429,
      'tenant_capacity',
      `this tenant already has ${check.tenantInFlight} evaluations in progress (at most ${check.perTenantMax}); retry when some finish`,
      { inFlight: check.tenantInFlight, limit: check.perTenantMax, retryAfterSeconds: retryAfter },
      headers,
    );
  }
  if (check.totalInFlight >= check.totalMax) {
    return new ApiError(
      503,
      'service_capacity',
      `the service is at capacity (${check.totalInFlight} evaluations in progress); retry shortly`,
      { retryAfterSeconds: retryAfter },
      headers,
    );
  }
  return null;
}

function assertCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
}

/** A maximum of 0 would refuse everything; that is a configuration mistake, not a policy. */
function assertMaximum(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
}
