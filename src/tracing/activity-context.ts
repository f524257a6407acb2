/**
 * The worker's own activity interceptor: reads the evaluation's context from the header the
 * workflow set (./context-header.ts), runs the activity with the request id in its log lines
 * (src/logging/log-context.ts), logs one line when it completes, and records the activity's timings in the Prometheus histograms:
 * queue wait, scan, execute and, when the result is stored, end to end, by language and outcome.
 */
import type { Context as ActivityContext } from '@temporalio/activity';
import { defaultPayloadConverter, type Headers } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptorsFactory, Next } from '@temporalio/worker';
import { withLogContext } from '../logging/log-context';
import type { Logger } from '../logging/logger';
import type { Metrics } from '../metrics/metrics';
import { CONTEXT_HEADER, type EvaluationContext } from './context-header';

export function readEvaluationContext(headers: Headers): EvaluationContext {
  const payload = headers[CONTEXT_HEADER];
  if (!payload) return {};
  const value = defaultPayloadConverter.fromPayload<unknown>(payload);
  return value && typeof value === 'object' ? (value as EvaluationContext) : {};
}

export function activityContextInterceptor(metrics: Metrics, log: Logger): ActivityInterceptorsFactory {
  return (ctx) => ({ inbound: new ActivityContextInbound(ctx, metrics, log) });
}

class ActivityContextInbound implements ActivityInboundCallsInterceptor {
  constructor(
    private readonly ctx: ActivityContext,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const info = this.ctx.info;
    const activity = info.activityType;
    const context = readEvaluationContext(input.headers);
    const language = context.language ?? 'unknown';
    // Worker clock against the server's: clamped, a skew must not make a negative wait.
    this.metrics.queueWaitSeconds.observe({ activity, language }, Math.max(0, Date.now() - info.currentAttemptScheduledTimestampMs) / 1000);
    this.metrics.activitiesRunning.inc({ activity });
    const started = performance.now();
    const fields = {
      workflowId: info.workflowExecution?.workflowId ?? '',
      activity,
      ...(context.requestId ? { requestId: context.requestId } : {}),
    };
    try {
      return await withLogContext(fields, async () => {
        const result = await next(input);
        const seconds = (performance.now() - started) / 1000;
        this.observe(activity, language, input.args, result, seconds, context);
        // One line per activity, with the request id: what an on-call engineer greps for.
        this.log.info({ attempt: info.attempt, durationMs: Math.round(seconds * 1000) }, 'activity completed');
        return result;
      });
    } finally {
      this.metrics.activitiesRunning.dec({ activity });
    }
  }

  /** By activity: what each one's outcome says (the activities' contract, src/workflows/activities.ts). */
  private observe(activity: string, language: string, args: unknown[], result: unknown, seconds: number, context: EvaluationContext) {
    const field = (value: unknown, name: string): string | undefined => {
      const v = value && typeof value === 'object' ? (value as Record<string, unknown>)[name] : undefined;
      return typeof v === 'string' ? v : undefined;
    };
    if (activity === 'securityScan') this.metrics.scanSeconds.observe({ language, action: field(result, 'action') ?? 'unknown' }, seconds);
    else if (activity === 'execute')
      this.metrics.executeSeconds.observe({ language, verdict: field(result, 'verdict') ?? 'unknown' }, seconds);
    else if (activity === 'persistResults' && context.workflowStartedAtMs !== undefined) {
      const outcome = args[0];
      this.metrics.endToEndSeconds.observe(
        { language, status: field(outcome, 'status') ?? 'unknown', verdict: field(outcome, 'verdict') ?? 'none' },
        Math.max(0, Date.now() - context.workflowStartedAtMs) / 1000,
      );
    }
  }
}
