/**
 * `npm run bench:bundle`: what a test case costs inside a bundle against the same program sent as
 * separate submissions. Starts the service as `npm start` does (or targets one with the suite's
 * --url flags), then, one after the other on the same service:
 *
 *   1. one submission with N test cases (caseParallelism P), timed from POST to its final status;
 *   2. N separate submissions of the same program with one case's stdin and expected output each,
 *      sent by P clients in a closed loop, timed from the first POST to the last final status.
 *
 * Both run every case in a fresh sandbox; the bundle saves the scan, the workflow and the status
 * writes per case, and for a compiled language the compile. Flags: --cases N (100),
 * --parallelism P (2), --language python|cpp (python), plus the suite's service flags.
 */
import { ApiClient } from './client';
import { parseOptions } from './options';
import { machineLine, ms, printTable, type Row } from './report';
import { provideService } from './service';

const PROGRAMS = {
  python: 'print(int(input()) * 2)',
  cpp: '#include <iostream>\nint main() { long n; std::cin >> n; std::cout << n * 2 << "\\n"; }',
} as const;
type Language = keyof typeof PROGRAMS;

const TERMINAL = new Set(['completed', 'blocked', 'rejected', 'cancelled', 'failed']);

async function main(): Promise<void> {
  // Our three flags are taken out; the rest are the suite's service flags (bench/options.ts).
  const ours: Record<string, string> = { cases: '100', parallelism: '2', language: 'python' };
  const rest: string[] = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!.replace(/^--/, '');
    if (argv[i]!.startsWith('--') && name in ours) ours[name] = argv[++i] ?? '';
    else rest.push(argv[i]!);
  }
  const cases = positive('cases', ours.cases);
  const parallelism = positive('parallelism', ours.parallelism);
  const language = ours.language as Language;
  if (!(language in PROGRAMS)) throw new Error(`--language must be one of ${Object.keys(PROGRAMS).join(', ')}`);
  const options = parseOptions(rest);
  const command = `npm run bench:bundle -- --cases ${cases} --parallelism ${parallelism} --language ${language}`;

  const machineBefore = machineLine();
  const service = await provideService(options);
  const api = new ApiClient(service.url, service.apiKey);
  const testCases = Array.from({ length: cases }, (_, i) => ({ stdin: `${i}\n`, expectedOutput: `${2 * i}\n` }));
  try {
    // One of each first, so neither measurement pays for a cold JIT, scanner or toolchain cache.
    await finished(api, [await submit(api, { language, code: PROGRAMS[language], testCases: testCases.slice(0, 2) })]);
    await finished(api, [await submit(api, { language, code: PROGRAMS[language], ...testCases[0] })]);

    process.stderr.write(`bench:bundle: one bundle of ${cases} cases...\n`);
    const bundleStarted = performance.now();
    const bundleId = await submit(api, { language, code: PROGRAMS[language], testCases, caseParallelism: parallelism });
    const [bundle] = await finished(api, [bundleId]);
    const bundleMs = performance.now() - bundleStarted;
    if (bundle?.verdict !== 'accepted') throw new Error(`the bundle ended ${bundle?.status}/${bundle?.verdict}`);

    process.stderr.write(`bench:bundle: ${cases} separate submissions, ${parallelism} at a time...\n`);
    const separateStarted = performance.now();
    const results = await closedLoop(parallelism, cases, async (i) => {
      const id = await submit(api, { language, code: PROGRAMS[language], ...testCases[i] });
      return (await finished(api, [id]))[0]!;
    });
    const separateMs = performance.now() - separateStarted;
    const wrong = results.filter((r) => r.verdict !== 'accepted').length;
    if (wrong > 0) throw new Error(`${wrong} separate submissions were not accepted`);

    const perBundleCase = bundleMs / cases;
    const perSubmission = separateMs / cases;
    const rows: Row[] = [
      {
        measure: `${cases} cases as one bundle (parallelism ${parallelism})`,
        value: `${(bundleMs / 1000).toFixed(1)} s, ${ms(perBundleCase)} per case`,
        command,
      },
      {
        measure: `${cases} separate submissions (${parallelism} at a time)`,
        value: `${(separateMs / 1000).toFixed(1)} s, ${ms(perSubmission)} per submission`,
        command,
      },
      {
        measure: 'per case: bundle / separate',
        value: `${(perBundleCase / perSubmission).toFixed(2)}x (${ms(perSubmission - perBundleCase)} saved per case)`,
        command,
      },
    ];
    printTable(rows, [
      `Crucible bundle benchmark: ${language}, ${options.url ? `against ${options.url}` : 'service started by the bench (npm start entry point)'}`,
      `machine: before ${machineBefore}; after ${machineLine()}`,
    ]);
  } finally {
    await service.stop();
  }
}

async function submit(api: ApiClient, body: unknown): Promise<string> {
  for (;;) {
    const res = await fetch(`${api.url}/v1/evaluations`, { method: 'POST', headers: api.headers, body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status === 202) return (JSON.parse(text) as { id: string }).id;
    if (res.status !== 429 && res.status !== 503) throw new Error(`POST /v1/evaluations answered ${res.status}: ${text.slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 1000 * Number(res.headers.get('retry-after') ?? 1)));
  }
}

interface Finished {
  status: string;
  verdict?: string;
}

/** Polls until every evaluation is final; a bench, not a test, so a fixed short interval is fine. */
async function finished(api: ApiClient, ids: string[]): Promise<Finished[]> {
  const done = new Map<string, Finished>();
  for (;;) {
    for (const id of ids) {
      if (done.has(id)) continue;
      const body = (await (await fetch(`${api.url}/v1/evaluations/${id}`, { headers: api.headers })).json()) as Finished;
      if (TERMINAL.has(body.status)) done.set(id, body);
    }
    if (done.size === ids.length) return ids.map((id) => done.get(id)!);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function closedLoop<T>(clients: number, count: number, one: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await one(index);
      }
    }),
  );
  return results;
}

function positive(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${String(value)}`);
  return n;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
