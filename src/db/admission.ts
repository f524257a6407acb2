/**
 * Admission of a new evaluation against the in-flight caps, atomically across every API process.
 *
 * Counting unfinished evaluations and then inserting one is a race: fifty concurrent submissions
 * all count nine and all insert. So the count and the insert run in one transaction that first
 * takes a PostgreSQL transaction-scoped advisory lock: the next admission's count starts only
 * after this one's insert is committed (or rolled back), whichever API process makes it. The
 * lock is one for the whole service, because the total cap counts every tenant; it is held for
 * one count over a partial index of the unfinished rows and two inserts, a few milliseconds.
 * Submissions queue for it: ADMISSION_WAIT_MS bounds how long one waits before the API answers
 * 503 with Retry-After.
 */
import { Prisma } from '../generated/prisma/client';
import { TERMINAL_STATUSES } from '../domain/evaluation';

/** Unfinished evaluations, not counting the one being admitted. */
export interface InFlightCounts {
  tenant: number;
  total: number;
}

/** Throws (the error the caller wants answered) to refuse; returns to admit. */
export type AdmissionDecision = (counts: InFlightCounts) => void;

/**
 * The advisory lock's key. Any fixed 64-bit number works as long as nothing else in the database
 * locks the same one; this one spells "crucible" in ASCII, high bit clear.
 */
export const ADMISSION_LOCK_KEY = 0x6372756369626c65n;

/** How long a submission may wait for a connection and the lock, and hold them, in all. */
export const ADMISSION_WAIT_MS = 10_000;

/** Runs inside the insert's transaction, before the insert: lock, count, decide. */
export function admissionGate(tenant: string, decide: AdmissionDecision) {
  return async (tx: Prisma.TransactionClient): Promise<void> => {
    await tx.$queryRaw`SELECT 1 FROM pg_advisory_xact_lock(${ADMISSION_LOCK_KEY})`;
    // One statement, written so that it matches evaluations_unfinished_tenant_idx's predicate.
    const [counts] = await tx.$queryRaw<Array<{ tenant: number; total: number }>>`
      SELECT count(*) FILTER (WHERE tenant = ${tenant})::int AS tenant, count(*)::int AS total
        FROM evaluations WHERE status NOT IN (${Prisma.join([...TERMINAL_STATUSES])})`;
    decide({ tenant: counts?.tenant ?? 0, total: counts?.total ?? 0 });
  };
}
