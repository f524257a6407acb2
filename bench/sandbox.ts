/**
 * Overhead of each sandbox engine: median wall time and peak memory of a trivial Python and
 * JavaScript program, run through the engine and as a plain process, over RUNS runs each.
 *
 *   npm run bench:sandbox                (RUNS=30 by default; e.g. RUNS=100 npm run bench:sandbox)
 *   ENGINES=bwrap,gvisor npm run bench:sandbox
 *
 * "engine" is the wall time of engine.run() as the execute activity sees it (cgroup set-up,
 * launcher, sandbox set-up, init, the program, teardown); "plain" is spawning the interpreter
 * directly from Node (`python3 -c pass`, `node -e 0`), measured in the same run, interleaved with
 * the engine's runs so that both see the same machine load. Peak memory is the program's own
 * peak RSS (ru_maxrss) in both cases (inside gVisor, as gVisor's kernel accounts it). An engine
 * that cannot work on this machine is listed with the reason and skipped.
 */
import { spawn } from 'node:child_process';
import { LIMIT_DEFAULTS, type Language } from '../src/domain/evaluation';
import { BwrapEngine } from '../src/sandbox/engines/bwrap';
import type { EngineName, SandboxEngine } from '../src/sandbox/engine';
import { GvisorEngine } from '../src/sandbox/engines/gvisor';
import { ProcessEngine } from '../src/sandbox/engines/process';

const RUNS = Number(process.env.RUNS ?? 30);
const ENGINES = (process.env.ENGINES ?? 'bwrap,gvisor,process').split(',') as EngineName[];

interface Sample {
  wallMs: number;
  peakKb: number;
}

const programs: Record<Language, { code: string; plain: [string, string[]] }> = {
  python: { code: 'pass\n', plain: ['/usr/bin/python3', ['-c', 'pass']] },
  javascript: { code: '0\n', plain: [process.execPath, ['-e', '0']] },
};

async function engineSample(engine: SandboxEngine, language: Language): Promise<Sample> {
  const started = performance.now();
  const result = await engine.run({ language, code: Buffer.from(programs[language].code), limits: LIMIT_DEFAULTS });
  const wallMs = performance.now() - started;
  if (result.exitCode !== 0) throw new Error(`trivial ${language} run in ${engine.name} failed: ${result.stderr.toString()}`);
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
  const measure =
    'import os, sys\npid = os.fork()\nif pid == 0:\n    os.execv(sys.argv[1], sys.argv[1:])\n_, _, usage = os.wait4(pid, 0)\nprint(usage.ru_maxrss)';
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

function createEngine(name: EngineName): SandboxEngine {
  switch (name) {
    case 'bwrap':
      return new BwrapEngine();
    case 'gvisor':
      return new GvisorEngine();
    case 'process':
      return new ProcessEngine();
  }
}

async function main(): Promise<void> {
  console.log(`runs per measurement: ${RUNS} (sequential, after 3 warm-up runs; engine and plain runs interleaved)\n`);
  const rows: string[][] = [
    ['engine', 'language', 'engine median ms', 'plain median ms', 'ratio', 'engine peak KB', 'plain peak KB', 'ratio'],
  ];
  for (const name of ENGINES) {
    const engine = createEngine(name);
    const check = await engine.check();
    console.log(`${check.detail}`);
    if (!check.ok) {
      rows.push([name, '-', 'skipped: cannot work on this machine (see its check above)', '', '', '', '', '']);
      continue;
    }
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
      const enginePeak = median(engineSamples.map((s) => s.peakKb));
      const plainPeak = median(plainPeaks);
      rows.push([
        name,
        language,
        engineMs.toFixed(1),
        plainMs.toFixed(1),
        `${(engineMs / plainMs).toFixed(2)}x`,
        String(enginePeak),
        String(plainPeak),
        `${(enginePeak / plainPeak).toFixed(2)}x`,
      ]);
    }
  }
  console.log('');
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column])).join('  '));
  console.log(`\npeak KB: median of the program's own peak RSS (ru_maxrss), in the engine and plain.`);
  console.log(`plain commands: /usr/bin/python3 -c pass; ${process.execPath} -e 0`);
  console.log(`reproduce: RUNS=${RUNS} ENGINES=${ENGINES.join(',')} npm run bench:sandbox`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
