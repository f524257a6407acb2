/** The module the worker bundles: every workflow type the `evaluations` task queue runs. */
export { evaluationWorkflow } from './evaluation';
export { reconcileWorkflow } from './reconcile';
