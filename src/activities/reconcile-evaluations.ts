/** reconcileEvaluations: one pass of the reconciler, run by the reconcile schedule's workflow. */
import type { Reconciler } from '../reconciler/reconciler';
import type { ReconcileSummary } from '../workflows/reconcile-activities';

export function makeReconcileEvaluations(deps: { reconciler: Reconciler }) {
  return async function reconcileEvaluations(): Promise<ReconcileSummary> {
    return deps.reconciler.pass();
  };
}
