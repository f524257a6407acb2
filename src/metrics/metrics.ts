/**
 * Prometheus metrics (prom-client). One registry per process; the API serves it at /metrics,
 * and a standalone worker serves it on WORKER_METRICS_PORT.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();

  readonly evaluationsSubmitted = new Counter({
    name: 'crucible_evaluations_submitted_total',
    help: 'Evaluations accepted by the API',
    labelNames: ['language'] as const,
    registers: [this.registry],
  });

  readonly evaluationsFinished = new Counter({
    name: 'crucible_evaluations_finished_total',
    help: 'Evaluations that reached a terminal status, by status and verdict',
    labelNames: ['status', 'verdict'] as const,
    registers: [this.registry],
  });

  readonly securityViolations = new Counter({
    name: 'crucible_security_violations_total',
    help: 'Submissions blocked by the scan policy, by rule id',
    labelNames: ['rule_id', 'tenant'] as const,
    registers: [this.registry],
  });

  readonly sandboxRunSeconds = new Histogram({
    name: 'crucible_sandbox_run_seconds',
    help: 'Wall time of sandboxed runs',
    labelNames: ['engine', 'language', 'verdict'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  readonly httpRequestSeconds = new Histogram({
    name: 'crucible_http_request_seconds',
    help: 'API request latency, by route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'crucible_' });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
