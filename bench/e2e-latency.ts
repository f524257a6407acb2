/**
 * End-to-end latency of one evaluation: POST -> scanned -> executed in the sandbox -> stored,
 * as seen by a client polling GET. Runs against a running service (`npm start`).
 *
 *   npm run bench -- [--url http://127.0.0.1:3000] [--runs 20] [--concurrency 1]
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.BENCH_URL ?? 'http://127.0.0.1:3000' },
    runs: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '1' },
    'poll-ms': { type: 'string', default: '10' },
  },
});
const baseUrl = values.url!;
const runs = Number(values.runs);
const concurrency = Number(values.concurrency);
const pollMs = Number(values['poll-ms']);
// The key `npm start` wrote, unless API_KEY names another.
const apiKey = process.env.API_KEY ?? readLocalKey();
const auth: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};

function readLocalKey(): string | undefined {
  const file = path.resolve(process.env.DATA_DIR ?? '.data', 'api-key');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : undefined;
}

const TERMINAL = new Set(['completed', 'blocked', 'rejected', 'cancelled', 'failed']);

async function oneEvaluation(): Promise<{ totalMs: number; acceptMs: number; status: string; verdict?: string }> {
  const started = performance.now();
  const res = await fetch(`${baseUrl}/v1/evaluations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify({ language: 'python', code: 'print(sum(range(10)))' }),
  });
  if (res.status !== 202) throw new Error(`POST answered ${res.status}: ${await res.text()}`);
  const acceptMs = performance.now() - started;
  const { id } = (await res.json()) as { id: string };
  for (;;) {
    const body = (await (await fetch(`${baseUrl}/v1/evaluations/${id}`, { headers: auth })).json()) as { status: string; verdict?: string };
    if (TERMINAL.has(body.status)) return { totalMs: performance.now() - started, acceptMs, status: body.status, verdict: body.verdict };
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

async function main() {
  await oneEvaluation(); // warm-up: worker caches, connection pools
  const results: Awaited<ReturnType<typeof oneEvaluation>>[] = [];
  let next = 0;
  const wallStart = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < runs) {
        next++;
        results.push(await oneEvaluation());
      }
    }),
  );
  const wallMs = performance.now() - wallStart;
  const totals = results.map((r) => r.totalMs).sort((a, b) => a - b);
  const accepts = results.map((r) => r.acceptMs).sort((a, b) => a - b);
  const notAccepted = results.filter((r) => r.verdict !== 'accepted');
  console.log(`end-to-end latency of print(sum(range(10))), ${runs} runs, concurrency ${concurrency}, poll every ${pollMs} ms`);
  console.log(
    `  POST -> completed   median ${quantile(totals, 0.5).toFixed(0)} ms   p90 ${quantile(totals, 0.9).toFixed(0)} ms   min ${totals[0]!.toFixed(0)} ms   max ${totals[totals.length - 1]!.toFixed(0)} ms`,
  );
  console.log(`  POST -> 202         median ${quantile(accepts, 0.5).toFixed(1)} ms`);
  console.log(`  throughput          ${((runs / wallMs) * 1000).toFixed(1)} evaluations/s`);
  if (notAccepted.length > 0) console.log(`  WARNING: ${notAccepted.length} runs did not end completed/accepted`);
  console.log(
    `reproduce: npm start (in another terminal), then npm run bench -- --url ${baseUrl} --runs ${runs} --concurrency ${concurrency}`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
