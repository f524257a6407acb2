/** The reconciler's activity, as the reconcile workflow sees it. */
export interface ReconcileSummary {
  examined: number;
  failed: number;
  restarted: number;
}

export interface ReconcileActivities {
  reconcileEvaluations(): Promise<ReconcileSummary>;
}
