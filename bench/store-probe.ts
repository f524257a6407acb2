/**
 * What PostgreSQL says about the evaluations the suite submitted: which have finished (one query
 * for all of them, so watching costs the service one cheap read however many are in flight),
 * when each lifecycle event was stored, and whether any evaluation is lost or duplicated.
 */
import { Pool } from 'pg';
import { TERMINAL_STATUSES } from '../src/domain/evaluation';

export interface StageTimes {
  /** Unix ms of each stored lifecycle event, by type. */
  events: Record<string, number>;
  /** When the final write changed the row. */
  storedAt: number;
}

export interface Integrity {
  submitted: number;
  /** Submitted ids without a row, or whose row never finished. */
  lost: number;
  /** Rows or events present more than once: submitted ids repeated, an event type stored twice. */
  duplicated: number;
  /** Finished, but not completed with verdict accepted. */
  notAccepted: number;
}

export class StoreProbe {
  private readonly pool: Pool;

  constructor(databaseUrl: string) {
    this.pool = new Pool({ connectionString: databaseUrl, max: 2 });
  }

  /** The ids among `ids` whose evaluation has finished. */
  async finished(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const { rows } = await this.pool.query<{ id: string }>('SELECT id FROM evaluations WHERE id = ANY($1::uuid[]) AND status = ANY($2)', [
      ids,
      TERMINAL_STATUSES,
    ]);
    return new Set(rows.map((r) => r.id));
  }

  /** Waits until every id has finished (polling every `everyMs`), or throws at the deadline. */
  async waitAllFinished(ids: readonly string[], timeoutMs: number, everyMs = 50): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let pending = [...ids];
    while (pending.length > 0) {
      const done = await this.finished(pending);
      pending = pending.filter((id) => !done.has(id));
      if (pending.length === 0) return;
      if (Date.now() > deadline) throw new Error(`${pending.length} of ${ids.length} evaluations did not finish within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  }

  async stageTimes(ids: readonly string[]): Promise<Map<string, StageTimes>> {
    const { rows } = await this.pool.query<{ id: string; type: string; at: Date; stored_at: Date }>(
      `SELECT e.id, ev.type, ev.created_at AS at, e.updated_at AS stored_at
         FROM evaluations e JOIN evaluation_events ev ON ev.evaluation_id = e.id
        WHERE e.id = ANY($1::uuid[])`,
      [ids],
    );
    const times = new Map<string, StageTimes>();
    for (const row of rows) {
      const entry = times.get(row.id) ?? { events: {}, storedAt: row.stored_at.getTime() };
      entry.events[row.type] = row.at.getTime();
      times.set(row.id, entry);
    }
    return times;
  }

  async integrity(ids: readonly string[]): Promise<Integrity> {
    const unique = [...new Set(ids)];
    const { rows } = await this.pool.query<{ present: string; finished: string; accepted: string; duplicate_events: string }>(
      `SELECT count(*) AS present,
              count(*) FILTER (WHERE status = ANY($2)) AS finished,
              count(*) FILTER (WHERE status = 'completed' AND verdict = 'accepted') AS accepted,
              (SELECT count(*) FROM (SELECT 1 FROM evaluation_events WHERE evaluation_id = ANY($1::uuid[])
                                      GROUP BY evaluation_id, type HAVING count(*) > 1) d) AS duplicate_events
         FROM evaluations WHERE id = ANY($1::uuid[])`,
      [unique, TERMINAL_STATUSES],
    );
    const r = rows[0]!;
    return {
      submitted: ids.length,
      lost: unique.length - Number(r.finished),
      duplicated: ids.length - unique.length + Number(r.duplicate_events),
      notAccepted: Number(r.finished) - Number(r.accepted),
    };
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
