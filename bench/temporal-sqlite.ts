/**
 * Where the embedded Temporal server spends its time in SQLite, from the server's own Prometheus
 * metrics (TEMPORAL_SERVER_METRICS_PORT): the dev server keeps history and visibility in one SQLite
 * file behind a single connection, so every persistence call of every workflow waits its turn on
 * it. The latency the server records for a call includes that wait; their sum over a phase,
 * divided by the phase's length, is how many calls were in flight on average: near or above 1,
 * calls queue behind each other, and a POST's StartWorkflowExecution queues with them.
 *
 * The history shard's persistence calls also take the shard's semaphore (one permit: the dev
 * server has one shard) and hold it for their SQLite call, so the calls of all runs queue there
 * too; the wait for it is reported beside the SQLite time.
 *
 * A Prometheus text parser from npm (parse-prometheus-text-format) dropped the labels and the
 * _sum/_count lines of Temporal's histograms, so the three metric families needed are read here.
 */
import { ms } from './report';

/**
 * Latency sum (seconds) and call count per `store operation`, e.g. "visibility
 * RecordWorkflowExecutionStarted"; the shard semaphore's waits under SHARD_SEMAPHORE.
 */
export type SqliteTotals = Map<string, { seconds: number; calls: number }>;

const FAMILIES = { persistence_latency: 'history', visibility_persistence_latency: 'visibility', semaphore_latency: 'shard' } as const;
const SAMPLE = /^(persistence_latency|visibility_persistence_latency|semaphore_latency)_(sum|count)\{([^}]*)\} (\S+)$/;
/** The history shard's semaphore, as the server labels it. */
const SHARD_SEMAPHORE = 'shard ShardInfo';

export async function scrapeSqliteTotals(metricsUrl: string): Promise<SqliteTotals> {
  const response = await fetch(metricsUrl);
  if (!response.ok) throw new Error(`${metricsUrl} answered ${response.status}`);
  return sqliteTotals(await response.text());
}

export function sqliteTotals(prometheusText: string): SqliteTotals {
  const totals: SqliteTotals = new Map();
  for (const line of prometheusText.split('\n')) {
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const [, family, part, labels, value] = match;
    const operation = /(?:^|,)operation="([^"]*)"/.exec(labels!)?.[1] ?? 'unknown';
    const key = `${FAMILIES[family as keyof typeof FAMILIES]} ${operation}`;
    const entry = totals.get(key) ?? { seconds: 0, calls: 0 };
    if (part === 'sum') entry.seconds += Number(value);
    else entry.calls += Number(value);
    totals.set(key, entry);
  }
  return totals;
}

/**
 * One line for the table: SQLite time per evaluation (when a count is given) and per call, how
 * many calls were in flight on average, and the operations that took most of the time.
 */
export function describeSqliteTime(before: SqliteTotals, after: SqliteTotals, seconds: number, evaluations?: number): string {
  const all = [...after].map(([key, total]) => {
    const earlier = before.get(key) ?? { seconds: 0, calls: 0 };
    return { key, ms: (total.seconds - earlier.seconds) * 1000, calls: total.calls - earlier.calls };
  });
  const spent = all.filter((op) => !op.key.startsWith('shard '));
  const semaphore = all.find((op) => op.key === SHARD_SEMAPHORE);
  const totalMs = spent.reduce((sum, op) => sum + op.ms, 0);
  const calls = spent.reduce((sum, op) => sum + op.calls, 0);
  if (calls === 0) return 'no persistence calls recorded';
  const per = evaluations ? (value: number) => value / evaluations : (value: number) => value;
  const largest = spent
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 4)
    .map((op) => `${op.key} ${ms(per(op.ms))} (${per(op.calls).toFixed(1)} calls)`);
  return [
    evaluations ? `${ms(totalMs / evaluations)} per evaluation in ${(calls / evaluations).toFixed(1)} calls` : `${calls} calls`,
    `${ms(totalMs / calls)} per call`,
    `${(totalMs / 1000 / seconds).toFixed(2)} calls in flight on average on its one connection`,
    `most${evaluations ? ' per evaluation' : ''}: ${largest.join(', ')}`,
    ...(semaphore && semaphore.calls > 0
      ? [
          `history shard's semaphore (held over its persistence calls): ${ms(semaphore.ms / semaphore.calls)} wait per acquisition on average (${semaphore.calls} acquisitions)`,
        ]
      : []),
  ].join(' · ');
}
