/**
 * Overhead of the bwrap engine: median wall time and peak memory of a trivial Python and
 * JavaScript program, run through the engine and as a plain process, over RUNS runs each.
 *
 *   npx tsx bench/sandbox.ts            (RUNS=30 by default; e.g. RUNS=100 npx tsx bench/sandbox.ts)
 *
 * "engine" is the wall time of BwrapEngine.run() as the execute activity sees it (cgroup set-up,
 * launcher, bwrap, init, the program, teardown); "plain" is spawning the interpreter directly
 * from Node. Peak memory is the program's own peak RSS (ru_maxrss) in both cases.
 */
import { spawn } from 'node:child_process';
import { LIMIT_DEFAULTS, type Language } from '../src/domain/evaluation';
import { BwrapEngine } from '../src/sandbox/bwrap';

const RUNS = Number(process.env.RUNS ?? 30);

interface Sample {
  wallMs: number;
  peakKb: number;
}

const programs: Record<Language, { code: string; plain: [string, string[]] }> = {
  python: { code: 'pass\n', plain: ['/usr/bin/python3', ['-c', 'pass']] },
  javascript: { code: '0\n', plain: [process.execPath, ['-e', '0']] },
};

async function engineSample(engine: BwrapEngine, language: Language): Promise<Sample> {
  const started = performance.now();
  const result = await engine.run({ language, code: Buffer.from(programs[language].code), limits: LIMIT_DEFAULTS });
  const wallMs = performance.now() - started;
  if (result.exitCode !== 0) throw new Error(`trivial ${language} run failed: ${result.stderr.toString()}`);
  return { wallMs, peakKb: result.memoryKb };
}

/** Wall time of spawning the interpreter directly from Node, until it exits. */
function plainWall(language: Language): Promise<number> {
  const [command, args] = programs[language].plain;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    // The same empty environment as in the sandbox (tsx would otherwise pass its loader options on).
    const child = spawn(command, args, { stdio: 'ignore', env: {} });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`${command} exited ${code}`))));
  });
}

/**
 * Peak RSS of the plain interpreter, from wait4()'s rusage (as the sandbox's init reports it), via
 * a small python wrapper, since /usr/bin/time is not assumed to be installed. Measured in a run of
 * its own so that the wrapper does not distort the wall time above.
 */
function plainPeakKb(language: Language): Promise<number> {
  const [command, args] = programs[language].plain;
  const measure = 'import os, sys\npid = os.fork()\nif pid == 0:\n    os.execv(sys.argv[1], sys.argv[1:])\n_, _, usage = os.wait4(pid, 0)\nprint(usage.ru_maxrss)';
  return new Promise((resolve, reject) => {
    let output = '';
    const child = spawn('/usr/bin/python3', ['-I', '-S', '-c', measure, command, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {},
    });
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(Number(output.trim())) : reject(new Error(`measuring ${command} failed`))));
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function main(): Promise<void> {
  const engine = new BwrapEngine();
  console.log(`bwrap engine: ${(await engine.check()).detail}`);
  console.log(`runs per measurement: ${RUNS} (sequential, after 3 warm-up runs)\n`);
  const rows: string[][] = [['language', 'engine median ms', 'plain median ms', 'ratio', 'engine peak KB', 'plain peak KB']];
  for (const language of ['python', 'javascript'] as const) {
    for (let i = 0; i < 3; i++) {
      await engineSample(engine, language);
      await plainWall(language);
    }
    const engineSamples: Sample[] = [];
    const plainWalls: number[] = [];
    const plainPeaks: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      engineSamples.push(await engineSample(engine, language));
      plainWalls.push(await plainWall(language));
      plainPeaks.push(await plainPeakKb(language));
    }
    const engineMs = median(engineSamples.map((s) => s.wallMs));
    const plainMs = median(plainWalls);
    rows.push([
      language,
      engineMs.toFixed(1),
      plainMs.toFixed(1),
      `${(engineMs / plainMs).toFixed(2)}x`,
      String(Math.max(...engineSamples.map((s) => s.peakKb))),
      String(Math.max(...plainPeaks)),
    ]);
  }
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column])).join('  '));
  console.log(`\nplain commands: /usr/bin/python3 -c pass; ${process.execPath} -e 0`);
  console.log(`reproduce: RUNS=${RUNS} npx tsx bench/sandbox.ts`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
