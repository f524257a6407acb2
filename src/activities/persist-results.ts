/**
 * The terminal write. The workflow retries it without limit, and the store makes a retry a
 * no-op, so the result is stored exactly once whatever happens to PostgreSQL or the worker.
 */
import type { EvaluationStore } from '../db/evaluations';
import type { OutcomeInput } from './types';

export function makePersistResults(deps: { store: EvaluationStore }) {
  return async function persistResults(input: OutcomeInput): Promise<void> {
    await deps.store.recordOutcome({
      ...input,
      at: new Date(input.at),
      event: { ...input.event, at: new Date(input.event.at) },
    });
  };
}
