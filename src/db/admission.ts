/**
 * Admission of a new evaluation against the in-flight caps, atomically across every API process.
 *
 * Counting unfinished evaluations and then inserting one is a race: fifty concurrent submissions
 * all count nine and all insert. So the count and the insert happen after a PostgreSQL
 * transaction-scoped advisory lock is taken: the next admission's count starts only after this
 * one's insert is committed (or rolled back), whichever API process makes it. The lock is one for
 * the whole service, because the total cap counts every tenant.
 *
 * All of it is one statement, the function admit_evaluation (migration
 * 20261129050000_admission_in_one_statement): lock, count over a partial index of the unfinished
 * rows, insert the row and its EVALUATION_QUEUED event. The lock is therefore held only while
 * PostgreSQL works, never across a round trip to a busy API process (an interactive transaction
 * held it over five). A submission waits at most ADMISSION_WAIT_MS for the lock; then the API
 * answers 503 with Retry-After.
 */
import type { Evaluation } from '../generated/prisma/client';
import type { Db } from './client';
import type { Tx } from './evaluations';

/** Unfinished evaluations, not counting the one being admitted. */
export interface InFlightCounts {
  tenant: number;
  total: number;
}

/** The in-flight caps a new evaluation is admitted against. */
export interface AdmissionCaps {
  perTenant: number;
  total: number;
}

/** The caps were reached; the counts are what admission saw, for the caller's answer. */
export class AdmissionRefusedError extends Error {
  override readonly name = 'AdmissionRefusedError';
  constructor(readonly counts: InFlightCounts) {
    super(`admission refused: ${counts.tenant} unfinished evaluations of this tenant, ${counts.total} in all`);
  }
}

/**
 * The advisory lock's key, as admit_evaluation takes it: any fixed 64-bit number works as long as
 * nothing else in the database locks the same one; this one spells "crucible" in ASCII.
 */
export const ADMISSION_LOCK_KEY = 0x6372756369626c65n;

/** How long a submission may wait for the admission lock. */
export const ADMISSION_WAIT_MS = 10_000;

/**
 * Stores `row` and its EVALUATION_QUEUED event if the caps allow (no caps: always). Throws
 * AdmissionRefusedError when they do not. Inside a transaction (a bundle's test set is stored
 * first) the lock is held until that transaction ends.
 */
export async function admitEvaluation(db: Db | Tx, row: Evaluation, caps?: AdmissionCaps, waitMs = ADMISSION_WAIT_MS): Promise<void> {
  const [result] = await db.$queryRaw<Array<{ admitted: boolean; tenant_in_flight: number; total_in_flight: number }>>`
    SELECT admitted, tenant_in_flight, total_in_flight
      FROM admit_evaluation(${JSON.stringify(columnsOf(row))}::jsonb, ${caps?.perTenant ?? null}::int, ${caps?.total ?? null}::int, ${waitMs}::int)`;
  if (!result) throw new Error('admit_evaluation returned no row');
  if (!result.admitted) throw new AdmissionRefusedError({ tenant: result.tenant_in_flight, total: result.total_in_flight });
}

/**
 * The row (or the fields given of it) keyed by column name, as jsonb_populate_record reads it: every field,
 * camelCase to snake_case (the schema maps each field so), bytes as hex, times as ISO strings.
 * A key that names no column would be dropped silently; test/db/admission.test.ts checks that
 * every key is a column and that the stored row reads back equal.
 */
export function columnsOf(row: Partial<Evaluation>): Record<string, unknown> {
  const columns: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(row)) {
    columns[columnOf(field)] =
      value instanceof Uint8Array ? `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}` : value;
  }
  return columns;
}

/** Field names are the model's few dozen: each is converted once, not on every submission. */
const columnNames = new Map<string, string>();

function columnOf(field: string): string {
  let column = columnNames.get(field);
  if (column === undefined) {
    column = field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
    columnNames.set(field, column);
  }
  return column;
}
