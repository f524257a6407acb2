/**
 * Prometheus metrics (prom-client). One registry per process; the API serves it at /metrics,
 * and a standalone worker serves it on WORKER_METRICS_PORT.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Durations of evaluations: a trivial program takes well under a second, the longest five minutes. */
const EVALUATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600];

/** Where a gauge's values come from when it is scraped (the database, Temporal). */
export type GaugeSource = () => Promise<Array<{ labels: Record<string, string>; value: number }>>;

export class Metrics {
  readonly registry = new Registry();

  /** A histogram of evaluation durations (EVALUATION_BUCKETS) in this registry. */
  private evaluationHistogram<L extends string>(name: string, help: string, labelNames: readonly L[]): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets: EVALUATION_BUCKETS, registers: [this.registry] });
  }

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

  readonly queueWaitSeconds = this.evaluationHistogram(
    'crucible_queue_wait_seconds',
    "Time an activity waited in the task queue for a worker (scheduled to started), by activity and the evaluation's language",
    ['activity', 'language'] as const,
  );

  readonly scanSeconds = this.evaluationHistogram(
    'crucible_scan_seconds',
    'Duration of the securityScan activity, by language and the action it decided',
    ['language', 'action'] as const,
  );

  readonly executeSeconds = this.evaluationHistogram(
    'crucible_execute_seconds',
    'Duration of the execute activity (sandbox start, program, output), by language and verdict',
    ['language', 'verdict'] as const,
  );

  readonly endToEndSeconds = this.evaluationHistogram(
    'crucible_end_to_end_seconds',
    'From the workflow start to the stored result, by language, final status and verdict',
    ['language', 'status', 'verdict'] as const,
  );

  readonly sandboxStartSeconds = new Histogram({
    name: 'crucible_sandbox_start_seconds',
    help: 'From asking the engine for a sandbox to the program starting in it',
    labelNames: ['engine', 'language'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20],
    registers: [this.registry],
  });

  readonly activitiesRunning = new Gauge({
    name: 'crucible_activities_running',
    help: 'Activities this worker is running now, by activity',
    labelNames: ['activity'] as const,
    registers: [this.registry],
  });

  private inFlightSource?: GaugeSource;
  private backlogSource?: GaugeSource;

  readonly evaluationsInFlight: Gauge<'status'> = new Gauge({
    name: 'crucible_evaluations_in_flight',
    help: 'Unfinished evaluations in the database, by status (service-wide: every API process reports the same)',
    labelNames: ['status'] as const,
    registers: [this.registry],
    collect: (): Promise<void> => this.collectFrom('in_flight', this.inFlightSource, this.evaluationsInFlight),
  });

  readonly taskQueueBacklog: Gauge<'task_type'> = new Gauge({
    name: 'crucible_task_queue_backlog',
    help: "Tasks waiting in the Temporal task queue for a worker (Temporal's approximate backlog), by task type",
    labelNames: ['task_type'] as const,
    registers: [this.registry],
    collect: (): Promise<void> => this.collectFrom('backlog', this.backlogSource, this.taskQueueBacklog),
  });

  /** The API process tells the gauges where to read; a worker leaves them empty. */
  setGaugeSources(sources: { inFlight?: GaugeSource; backlog?: GaugeSource }): void {
    this.inFlightSource = sources.inFlight;
    this.backlogSource = sources.backlog;
  }

  readonly gaugeSourceFailures = new Counter({
    name: 'crucible_gauge_source_failures_total',
    help: 'Scrapes where a gauge could not read its source (PostgreSQL or Temporal unreachable); the gauge is then empty',
    labelNames: ['gauge'] as const,
    registers: [this.registry],
  });

  /**
   * A source that fails (Temporal down) empties its gauge and counts the failure, rather than
   * failing the whole scrape: the other metrics matter most exactly then.
   */
  private async collectFrom<L extends string>(name: string, source: GaugeSource | undefined, gauge: Gauge<L>): Promise<void> {
    if (!source) return;
    gauge.reset();
    let values: Awaited<ReturnType<GaugeSource>>;
    try {
      values = await source();
    } catch {
      this.gaugeSourceFailures.inc({ gauge: name });
      return;
    }
    for (const { labels, value } of values) gauge.set(labels as Partial<Record<L, string>>, value);
  }

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
