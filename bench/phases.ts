/**
 * The suite's measurements. Each phase submits trivial Python evaluations, waits for them through
 * PostgreSQL (not by polling the API, whose load would be part of the measurement), checks that
 * every one was stored exactly once, and returns its rows for the table.
 */
import os from 'node:os';
import autocannon from 'autocannon';
import { TRIVIAL, type ApiClient } from './client';
import { cpuPerEvaluation, cpuSnapshot } from './cpu';
import { historyBreakdowns } from './history';
import { reproduce, type BenchOptions } from './options';
import { ms, percentiles, quantile, type Row } from './report';
import { rssMb, type Service } from './service';
import type { Integrity, StoreProbe } from './store-probe';
import { describeSqliteTime, scrapeSqliteTotals, type SqliteTotals } from './temporal-sqlite';

export interface PhaseContext {
  options: BenchOptions;
  service: Service;
  api: ApiClient;
  probe: StoreProbe;
}

const FINISH_TIMEOUT_MS = 300_000;

/** Resolves each watched id once PostgreSQL says it finished; one query per tick for all of them. */
class Watcher {
  private readonly waiting = new Map<string, { resolve: () => void; reject: (err: Error) => void }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly probe: StoreProbe,
    private readonly everyMs: number,
  ) {}

  finished(id: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.timer ??= setTimeout(() => void this.tick(), this.everyMs);
    });
  }

  private async tick(): Promise<void> {
    let done: Set<string>;
    try {
      done = await this.probe.finished([...this.waiting.keys()]);
    } catch (err) {
      for (const waiter of this.waiting.values()) waiter.reject(err as Error);
      this.waiting.clear();
      this.timer = undefined;
      return;
    }
    for (const id of done) {
      this.waiting.get(id)!.resolve();
      this.waiting.delete(id);
    }
    this.timer = this.waiting.size > 0 ? setTimeout(() => void this.tick(), this.everyMs) : undefined;
  }
}

/** The embedded Temporal server's SQLite time over a phase; no row when the service is not the suite's own. */
async function sqliteRow(
  label: string,
  service: Service,
  before: SqliteTotals | undefined,
  seconds: number,
  command: string,
  evaluations?: number,
): Promise<Row[]> {
  if (!service.temporalMetricsUrl || !before) return [];
  const after = await scrapeSqliteTotals(service.temporalMetricsUrl);
  return [
    {
      measure: `${label}: Temporal server's SQLite time (its metrics)`,
      value: describeSqliteTime(before, after, seconds, evaluations),
      command,
    },
  ];
}

const sqliteSnapshot = (service: Service) =>
  service.temporalMetricsUrl ? scrapeSqliteTotals(service.temporalMetricsUrl) : Promise.resolve(undefined);

function integrityRow(label: string, integrity: Integrity, command: string): Row {
  return {
    measure: `${label}: lost / duplicated (PostgreSQL)`,
    value: `${integrity.lost} / ${integrity.duplicated} of ${integrity.submitted}${integrity.notAccepted ? `; ${integrity.notAccepted} not accepted` : ''}`,
    goal: { text: '0 / 0', met: integrity.lost === 0 && integrity.duplicated === 0 },
    command,
  };
}

export async function sequential({ options, service, api, probe }: PhaseContext): Promise<Row[]> {
  const command = reproduce(options, 'sequential');
  const watcher = new Watcher(probe, 2);
  const runOne = async () => {
    const submitted = await api.submit();
    await watcher.finished(submitted.id);
    return { ...submitted, totalMs: Date.now() - submitted.startedAt };
  };
  for (let i = 0; i < 3; i++) await runOne(); // warm-up: caches, pools, the workflow bundle's first run
  const runs: Array<Awaited<ReturnType<typeof runOne>>> = [];
  for (let i = 0; i < options.sequential; i++) runs.push(await runOne());
  const times = await probe.stageTimes(runs.map((r) => r.id));
  const stage = (from: (r: (typeof runs)[number]) => number | undefined, to: string) =>
    runs.map((r) => {
      const start = from(r);
      const end = times.get(r.id)?.events[to];
      return start !== undefined && end !== undefined ? end - start : NaN;
    });
  const event = (type: string) => (r: (typeof runs)[number]) => times.get(r.id)?.events[type];
  const totals = runs.map((r) => r.totalMs);
  const toExecution = stage((r) => r.startedAt, 'EXECUTION_STARTED');
  const label = `sequential (${options.sequential})`;
  const rows: Row[] = [
    {
      measure: `${label}: POST -> finished, as the client sees it`,
      value: percentiles(totals),
      goal: { text: 'p50 <= 100 ms, p99 <= 250 ms', met: quantile(totals, 0.5) <= 100 && quantile(totals, 0.99) <= 250 },
      command,
    },
    { measure: `${label}: POST -> 202`, value: percentiles(runs.map((r) => r.acceptMs)), command },
    {
      measure: `${label}: POST -> EXECUTION_STARTED stored`,
      value: percentiles(toExecution),
      goal: { text: 'p50 <= 40 ms', met: quantile(toExecution, 0.5) <= 40 },
      command,
    },
    {
      measure: `${label}: stage EVALUATION_QUEUED -> SCAN_COMPLETED`,
      value: percentiles(stage(event('EVALUATION_QUEUED'), 'SCAN_COMPLETED')),
      command,
    },
    {
      measure: `${label}: stage SCAN_COMPLETED -> EXECUTION_STARTED`,
      value: percentiles(stage(event('SCAN_COMPLETED'), 'EXECUTION_STARTED')),
      command,
    },
    {
      measure: `${label}: stage EXECUTION_STARTED -> EVALUATION_COMPLETED`,
      value: percentiles(stage(event('EXECUTION_STARTED'), 'EVALUATION_COMPLETED')),
      command,
    },
    {
      measure: `${label}: stage EVALUATION_COMPLETED -> row stored`,
      value: percentiles(runs.map((r) => (times.get(r.id)?.storedAt ?? NaN) - (times.get(r.id)?.events.EVALUATION_COMPLETED ?? NaN))),
      command,
    },
  ];
  if (options.history > 0 && service.temporalAddress) {
    const breakdowns = await historyBreakdowns(
      service.temporalAddress,
      service.namespace,
      runs.slice(-options.history).map((r) => r.id),
    );
    const labels = [...new Set(breakdowns.flatMap((b) => [...b.keys()]))];
    for (const part of labels) {
      const values = breakdowns.map((b) => b.get(part) ?? 0);
      rows.push({
        measure: `${label}: history, ${part}`,
        value: part.endsWith('(count)')
          ? `median ${quantile(values, 0.5)}`
          : `median ${ms(quantile(values, 0.5))} (last ${breakdowns.length} runs)`,
        command,
      });
    }
  }
  rows.push(integrityRow(label, await probe.integrity(runs.map((r) => r.id)), command));
  return rows;
}

/** `clients` loops of submit-and-wait until `stop()` says so or `total` evaluations were submitted. */
function closedLoop(api: ApiClient, watcher: Watcher, clients: number, total = Infinity) {
  const ids: string[] = [];
  let stopped = false;
  const done = Promise.all(
    Array.from({ length: clients }, async () => {
      while (!stopped && ids.length < total) {
        const { id } = await api.submit();
        ids.push(id);
        await watcher.finished(id);
      }
    }),
  );
  return { ids, done, stop: () => (stopped = true) };
}

export async function throughput({ options, service, api, probe }: PhaseContext): Promise<Row[]> {
  const command = reproduce(options, 'throughput');
  const watcher = new Watcher(probe, 10);
  const sqliteBefore = await sqliteSnapshot(service);
  const cpuBefore = cpuSnapshot(service.cpuSources);
  const started = performance.now();
  const loop = closedLoop(api, watcher, options.concurrency, options.throughput);
  await loop.done;
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuPerEvaluation(cpuBefore, cpuSnapshot(service.cpuSources), loop.ids.length);
  const rate = loop.ids.length / seconds;
  const label = `throughput (${options.throughput}, concurrency ${options.concurrency})`;
  return [
    {
      measure: `${label}: evaluations finished per second`,
      value: `${rate.toFixed(1)} /s (${loop.ids.length} in ${seconds.toFixed(1)} s)`,
      goal: { text: '>= 31 /s', met: rate >= 31 },
      command,
    },
    {
      measure: `${label}: CPU per evaluation, by process (/proc)`,
      // What the goal leaves: every core busy for a second, shared by 31 evaluations.
      value: `${cpu.map(([process, cpuMs]) => `${process} ${ms(cpuMs)}`).join(' · ')} (31 /s on ${os.cpus().length} CPUs leaves ${ms((os.cpus().length * 1000) / 31)})`,
      command,
    },
    ...(await sqliteRow(label, service, sqliteBefore, seconds, command, loop.ids.length)),
    integrityRow(label, await probe.integrity(loop.ids), command),
  ];
}

export async function postUnderLoad({ options, service, api, probe }: PhaseContext): Promise<Row[]> {
  const command = reproduce(options, 'post');
  const watcher = new Watcher(probe, 10);
  const loop = closedLoop(api, watcher, options.concurrency);
  await new Promise((resolve) => setTimeout(resolve, 1000)); // let the worker fill up first
  const fired: string[] = [];
  const sqliteBefore = await sqliteSnapshot(service);
  const result = await autocannon({
    url: `${api.url}/v1/evaluations`,
    // Enough connections that the rate holds even when an answer takes a second.
    connections: Math.max(10, options.rate),
    overallRate: options.rate,
    duration: options.rateSeconds,
    requests: [
      {
        method: 'POST',
        headers: api.headers,
        body: JSON.stringify(TRIVIAL),
        onResponse: (status: number, body: string) => {
          if (status === 202) fired.push((JSON.parse(body) as { id: string }).id);
        },
      },
    ],
  });
  const label = `POST under load (${options.rate}/s for ${options.rateSeconds} s, ${options.concurrency} clients saturating)`;
  // Read as the load stops, so the time is the rate's seconds and the SQLite calls are theirs.
  const sqliteDuring = await sqliteRow(label, service, sqliteBefore, options.rateSeconds, command);
  loop.stop();
  await loop.done;
  await probe.waitAllFinished(fired, FINISH_TIMEOUT_MS);
  const refused = result.non2xx + result.errors + result.timeouts;
  return [
    {
      measure: `${label}: POST latency (autocannon)`,
      value: `p50 ${ms(result.latency.p50)} · p90 ${ms(result.latency.p90)} · p99 ${ms(result.latency.p99)} · max ${ms(result.latency.max)}; ${result.requests.total} sent, ${refused} failed`,
      goal: { text: 'p99 <= 50 ms, none failed', met: result.latency.p99 <= 50 && refused === 0 },
      command,
    },
    ...sqliteDuring,
    integrityRow(label, await probe.integrity([...loop.ids, ...fired]), command),
  ];
}

export async function backlog({ options, service, api, probe }: PhaseContext): Promise<Row[]> {
  const command = reproduce(options, 'backlog');
  const peaks = new Map<string, number>();
  const sample = () => {
    for (const [label, pid] of service.processes()) {
      const rss = rssMb(pid);
      if (rss !== undefined) peaks.set(label, Math.max(peaks.get(label) ?? 0, rss));
    }
  };
  sample();
  const sampler = setInterval(sample, 500);
  const started = performance.now();
  let accepted = 0;
  let ids: string[];
  try {
    const per = Math.ceil(options.backlog / 4);
    const parts = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const mine = await api.submitBatch(Math.max(0, Math.min(per, options.backlog - i * per)));
        accepted += mine.length;
        return mine;
      }),
    );
    ids = parts.flat();
    const submitSeconds = (performance.now() - started) / 1000;
    await probe.waitAllFinished(ids, FINISH_TIMEOUT_MS + options.backlog * 1000, 500);
    const totalSeconds = (performance.now() - started) / 1000;
    const label = `backlog (${options.backlog} submitted at once)`;
    const rssGoals: Record<string, number> = { api: 250, worker: 400, 'api+worker': 400 };
    const rows: Row[] = [
      {
        measure: `${label}: submitted, then all finished`,
        value: `${accepted} accepted in ${submitSeconds.toFixed(1)} s (${(accepted / submitSeconds).toFixed(0)} /s); all finished after ${totalSeconds.toFixed(1)} s (${(accepted / totalSeconds).toFixed(1)} /s)`,
        command,
      },
      ...[...peaks].map(([process, peak]) => ({
        measure: `${label}: peak RSS of ${process}`,
        value: `${peak.toFixed(0)} MB`,
        goal: rssGoals[process] !== undefined ? { text: `< ${rssGoals[process]} MB`, met: peak < rssGoals[process]! } : undefined,
        command,
      })),
      integrityRow(label, await probe.integrity(ids), command),
    ];
    return rows;
  } finally {
    clearInterval(sampler);
  }
}
