/**
 * The terminal write. The workflow retries it without limit, and the store makes a retry a
 * no-op, so the result is stored exactly once whatever happens to PostgreSQL or the worker.
 */
import type { EvaluationStore } from '../db/evaluations';
import type { Metrics } from '../metrics/metrics';
import { currentRun } from './current-run';
import { refusalsAreFinal } from './errors';
import { reviewRecord } from './record-transition';
import type { OutcomeInput } from '../workflows/activities';

export function makePersistResults(deps: { store: EvaluationStore; metrics: Metrics }) {
  return async function persistResults(input: OutcomeInput): Promise<void> {
    const { stored } = await refusalsAreFinal(() =>
      deps.store.recordOutcome({
        ...input,
        run: currentRun(),
        at: new Date(input.at),
        event: { ...input.event, at: new Date(input.event.at) },
        review: reviewRecord(input.review),
      }),
    );
    // Counted on the write that changed the row, so retries do not count twice.
    if (stored) deps.metrics.evaluationsFinished.inc({ status: input.status, verdict: input.verdict ?? 'none' });
  };
}
