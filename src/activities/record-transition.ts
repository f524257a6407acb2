/** Small lifecycle writes (status and event) between the main steps; the first one claims the evaluation for its run. */
import type { EvaluationStore } from '../db/evaluations';
import { currentRun } from './current-run';
import { refusalsAreFinal } from './errors';
import type { ReviewInputRecord, TransitionInput } from '../workflows/activities';

export function makeRecordTransition(deps: { store: EvaluationStore }) {
  return async function recordTransition(input: TransitionInput): Promise<void> {
    await refusalsAreFinal(() =>
      deps.store.recordTransition({
        evaluationId: input.evaluationId,
        run: currentRun(),
        status: input.status,
        at: new Date(input.at),
        findings: input.findings,
        startedAt: input.startedAt ? new Date(input.startedAt) : undefined,
        event: input.event ? { ...input.event, at: new Date(input.event.at) } : undefined,
        events: input.events?.map((event) => ({ ...event, at: new Date(event.at) })),
        review: reviewRecord(input.review),
      }),
    );
  };
}

export function reviewRecord(review: ReviewInputRecord | undefined) {
  return review ? { ...review, at: new Date(review.at) } : undefined;
}
