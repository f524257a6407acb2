/**
 * Starts the workflow of an evaluation that the API has just stored, for the POST that admitted
 * it, without letting a slow Temporal hold the POST.
 *
 * A POST waits for its start for at most `answerWithinMs`. A start that takes longer carries on
 * in the background and the POST answers 202: the row is in PostgreSQL, so GET answers at once,
 * and the start is retried here while Temporal is unreachable. If this process dies first, the
 * reconciler starts a `queued` row that has no workflow (src/reconciler/reconciler.ts). A start
 * is idempotent (workflow id `evaluation-<id>`, duplicates rejected), so a retry or the
 * reconciler's start never runs the code twice.
 *
 * The contract's 503 for an unreachable Temporal ("nothing half-created is left behind") holds
 * because a POST waits for its start in full whenever this process has not seen a start
 * succeed since it began or since the last one failed as unreachable, and whenever too many
 * starts are already carrying on in the background. In those cases a failed start still removes
 * the row and answers 503, as before.
 */
import type { Logger } from '../logging/logger';
import { TemporalUnavailableError } from '../temporal/gateway';

/** How a POST's start ended for the POST: done, or carrying on in the background. */
export type StartOutcome = 'started' | 'continuing';

export interface WorkflowStarterOptions {
  log: Logger;
  /** How long a POST waits for its start before it answers and lets the start carry on. */
  answerWithinMs?: number;
  /** Starts carrying on in the background beyond which a POST waits for its own in full. */
  maxInBackground?: number;
  /** The wait before the n-th retry (from 1) of a start that found Temporal unreachable. */
  retryDelayMs?: (retry: number) => number;
}

export const DEFAULT_ANSWER_WITHIN_MS = 25;
/**
 * A backlog submitted at once fills this bound, and beyond it POSTs wait for their starts as they
 * did before. The bound is the API's memory under a backlog of 10,000 (the bench's backlog phase,
 * peak RSS): 198 MB before starts could carry on, 318 MB with 96 of them, 201 MB with 32. The
 * price is POST latency under load: p99 237 ms with 96, 410 ms with 32 (647 ms before).
 */
export const DEFAULT_MAX_IN_BACKGROUND = 32;
const defaultRetryDelayMs = (retry: number) => Math.min(30_000, 500 * 2 ** (retry - 1));

export class WorkflowStarter {
  private readonly answerWithinMs: number;
  private readonly maxInBackground: number;
  private readonly retryDelayMs: (retry: number) => number;
  /** Whether the last start this process saw ended well; false until one has. */
  private startsSucceeding = false;
  private inBackground = 0;
  private stopped = false;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  /** Set while drain waits for the background to empty. */
  private onIdle?: () => void;

  constructor(private readonly options: WorkflowStarterOptions) {
    this.answerWithinMs = options.answerWithinMs ?? DEFAULT_ANSWER_WITHIN_MS;
    this.maxInBackground = options.maxInBackground ?? DEFAULT_MAX_IN_BACKGROUND;
    this.retryDelayMs = options.retryDelayMs ?? defaultRetryDelayMs;
  }

  /** Starts handed to the background and not finished yet (including those waiting to retry). */
  get backgroundCount(): number {
    return this.inBackground;
  }

  /**
   * Runs `start` for the evaluation. Resolves `started` when it finished in time, `continuing`
   * when it carries on in the background (from then on its failures are this starter's to
   * handle). Rejects with the start's error when it failed in time: the caller still owns the row.
   */
  async begin(evaluationId: string, start: () => Promise<void>): Promise<StartOutcome> {
    if (this.stopped || !this.startsSucceeding || this.inBackground >= this.maxInBackground) {
      await this.observe(start());
      return 'started';
    }
    const attempt = this.observe(start());
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.answerWithinMs);
    });
    try {
      if ((await Promise.race([attempt.then(() => 'done' as const), late])) === 'done') return 'started';
    } finally {
      clearTimeout(timer);
    }
    this.inBackground++;
    this.carryOn(evaluationId, start, attempt);
    return 'continuing';
  }

  /**
   * Stops retrying and waits up to `timeoutMs` for the starts in flight. Resolves with how many
   * were left unfinished: their rows stay `queued`, and the reconciler starts them.
   */
  async drain(timeoutMs: number): Promise<number> {
    this.stopped = true;
    for (const timer of this.retryTimers) {
      clearTimeout(timer);
      this.retryTimers.delete(timer);
      this.finishBackground();
    }
    if (this.inBackground > 0) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<void>((resolve) => (this.onIdle = resolve));
      await Promise.race([idle, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
      this.onIdle = undefined;
    }
    if (this.inBackground > 0) {
      this.options.log.warn(
        { starts: this.inBackground },
        'workflow starts still unfinished at shutdown: their evaluations stay queued and the reconciler starts them',
      );
    }
    return this.inBackground;
  }

  /** Keeps the record of whether starts succeed, which decides whether a POST may answer early. */
  private async observe(attempt: Promise<void>): Promise<void> {
    try {
      await attempt;
      this.startsSucceeding = true;
    } catch (err) {
      if (err instanceof TemporalUnavailableError) this.startsSucceeding = false;
      throw err;
    }
  }

  /**
   * Sees a start in the background (already counted in inBackground) through to its end,
   * retrying it while Temporal is unreachable.
   */
  private carryOn(evaluationId: string, start: () => Promise<void>, attempt: Promise<void>, retry = 0): void {
    attempt.then(
      () => this.finishBackground(),
      (err: unknown) => {
        if (err instanceof TemporalUnavailableError && !this.stopped) {
          const delayMs = this.retryDelayMs(retry + 1);
          this.options.log.warn({ err, evaluationId, retryInMs: delayMs }, 'workflow start: Temporal is unreachable; retrying');
          const timer = setTimeout(() => {
            this.retryTimers.delete(timer);
            this.carryOn(evaluationId, start, this.observe(start()), retry + 1);
          }, delayMs);
          timer.unref();
          this.retryTimers.add(timer);
          return;
        }
        this.options.log.error(
          { err, evaluationId },
          'workflow start failed after the POST was answered; the evaluation stays queued and the reconciler starts it again',
        );
        this.finishBackground();
      },
    );
  }

  private finishBackground(): void {
    this.inBackground--;
    if (this.inBackground === 0) this.onIdle?.();
  }
}
