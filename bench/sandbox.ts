/**
 * Start-up cost of the sandbox, layer by layer: median wall time of a trivial program ("print 1")
 * over RUNS runs, each layer adding one piece of what the engine does, all measured in the same
 * run and interleaved (layer 1, 2, ..., 1, 2, ...) so that every layer sees the same machine load.
 *
 *   npm run bench:sandbox                (RUNS=30 by default; e.g. RUNS=100 npm run bench:sandbox)
 *   ENGINES=bwrap,gvisor npm run bench:sandbox      LANGUAGES=python npm run bench:sandbox
 *
 * Layers (bwrap):
 *   plain       the interpreter spawned from Node, no sandbox
 *   bwrap       bare bwrap (namespaces, read-only system dirs, /proc, /dev) around the interpreter: the floor
 *   +launcher   the same, started by the /bin/sh launcher that joins a fresh run cgroup (created and removed per run)
 *   +setpriv    the same, bwrap started as uid 65534 through setpriv (what the engine does as root)
 *   +init       the same, with the Python init (run/init.py) as PID 1 running the program and reporting on fds 3-5
 *   +C init     the same with the compiled init (run/init.c) instead, bound in from an fd like the engine
 *               does ("adds" is against the layer below +init, so the two inits compare directly)
 *   engine, init.py  engine.run() with the Python init (SANDBOX_INIT=python, or no C compiler): the "before"
 *   engine      engine.run(), as the execute activity sees it (everything: full bwrap argv, seccomp, supervisor, verdict)
 * Other engines: plain and the two engine layers only. The ratio column is against the floor (bwrap; plain for
 * the others). An engine that cannot work on this machine is listed with the reason and skipped.
 *
 * `npm run bench:sandbox -- --remote` compares instead the direct engine (spawns from this process)
 * with the RemoteSandboxEngine (spawns from its small host process), in a process made worker-sized
 * by BALLAST_MB (default 500) MB of touched Buffers: per run, the longest stall of this process's
 * event loop (spawn() forks the whole process synchronously), this process's CPU time, and the wall
 * time. E.g. RUNS=50 BALLAST_MB=800 npm run bench:sandbox -- --remote (first engine of ENGINES, python).
 */
import { spawn } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LIMIT_DEFAULTS, type Language } from '../src/domain/evaluation';
import type { EngineName, SandboxEngine } from '../src/sandbox/engine';
import { BwrapEngine } from '../src/sandbox/engines/bwrap';
import { GvisorEngine } from '../src/sandbox/engines/gvisor';
import { ProcessEngine } from '../src/sandbox/engines/process';
import { selectCgroupBackend, type CgroupBackend } from '../src/sandbox/host/cgroup-backend';
import { launchInCgroup } from '../src/sandbox/host/launcher';
import { createLanguageRegistry } from '../src/sandbox/languages';
import { SANDBOX_GID, SANDBOX_UID, hostSystemDirectories } from '../src/sandbox/layout';
import { SANDBOX_FDS } from '../src/sandbox/run/channel';
import { sandboxInit, type InitSettings } from '../src/sandbox/run/compiled-init';
import { initArgv, type InitProgram } from '../src/sandbox/run/init';
import { COMPILED_INIT_PATH } from '../src/sandbox/layout';
import { DEFAULT_BWRAP_PATH, DEFAULT_PYTHON_PATH, DEFAULT_SETPRIV_PATH } from '../src/config/defaults';
import { RemoteSandboxEngine } from '../src/sandbox/remote/remote-engine';

const RUNS = Number(process.env.RUNS ?? 30);
const ENGINES = (process.env.ENGINES ?? 'bwrap,gvisor,process').split(',') as EngineName[];
const LANGUAGES = (process.env.LANGUAGES ?? 'python,javascript').split(',') as Language[];

const languages = createLanguageRegistry();
/** The interpreted languages only: a compiled one's sample would time its compiler too. */
const programs: Partial<Record<Language, { code: string; argv: string[] }>> = {
  python: { code: 'print(1)\n', argv: [DEFAULT_PYTHON_PATH, '-I', '-c', 'print(1)'] },
  javascript: { code: 'console.log(1)\n', argv: [process.execPath, '-e', 'console.log(1)'] },
  bash: { code: 'echo 1\n', argv: ['/bin/bash', '-c', 'echo 1'] },
};

function programOf(language: Language): { code: string; argv: string[] } {
  const program = programs[language];
  if (program === undefined) throw new Error(`no benchmark program for ${language} (LANGUAGES=${Object.keys(programs).join(',')})`);
  return program;
}

interface Command {
  argv: string[];
  /** Extra pipes at fds 3.. (the init's channel). */
  extraFds?: number;
  /** Written to the fds after those (as the supervisor writes the engine's data inputs). */
  dataInputs?: Buffer[];
}

/** Wall time of spawning `argv` from Node until it exits (output drained), in ms. */
function timeCommand({ argv, extraFds = 0, dataInputs = [] }: Command): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const stdio: Array<'pipe' | 'ignore'> = ['ignore', 'pipe', 'pipe', ...Array<'pipe'>(extraFds + dataInputs.length).fill('pipe')];
    // The same empty environment as in the sandbox (tsx would otherwise pass its loader options on).
    const child = spawn(argv[0], argv.slice(1), { stdio, env: {} });
    dataInputs.forEach((data, index) => {
      const input = child.stdio[3 + extraFds + index] as NodeJS.WritableStream | null;
      input?.end(data);
    });
    let output = '';
    for (const stream of child.stdio.slice(1)) {
      stream?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      // A pipe the command never read (a data input it had no use for) is reset when it exits;
      // the exit status below is what says whether the command worked.
      stream?.on('error', (error: Error) => (output += `\n[${error.message}]`));
    }
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve(performance.now() - started) : reject(new Error(`${argv.join(' ')} exited ${code}: ${output}`)),
    );
  });
}

function bareBwrap(command: string[], extraHostPaths: readonly string[], asPid1 = false, extraArgs: string[] = []): string[] {
  return [
    DEFAULT_BWRAP_PATH,
    '--unshare-all',
    '--unshare-user',
    '--die-with-parent',
    ...hostSystemDirectories().flatMap((d) =>
      d.symlinkTarget === null ? ['--ro-bind', d.path, d.path] : ['--symlink', d.symlinkTarget, d.path],
    ),
    ...extraHostPaths.flatMap((hostPath) => ['--ro-bind', hostPath, hostPath]),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    ...extraArgs,
    ...(asPid1 ? ['--as-pid-1'] : []),
    '--',
    ...command,
  ];
}

/** The init's channel pipes (status, stdout, stderr, artefacts) at fds 3..; data inputs follow, as in the engine. */
const CHANNEL_FDS = SANDBOX_FDS.firstData - SANDBOX_FDS.status;

/** `comparedTo`: the layer whose time this one adds to (default the one before). */
type Layer = { name: string; sample: () => Promise<number>; comparedTo?: string };

/** Each engine twice: as configured (the compiled init where it builds) and with init.py. */
interface EnginePair {
  engine: SandboxEngine;
  withPythonInit: SandboxEngine;
}

function engineLayers(engines: EnginePair, language: Language, comparedTo?: { python: string; compiled: string }): Layer[] {
  return [
    { name: 'engine, init.py', sample: () => engineSample(engines.withPythonInit, language), comparedTo: comparedTo?.python },
    { name: 'engine', sample: () => engineSample(engines.engine, language), comparedTo: comparedTo?.compiled },
  ];
}

function bwrapLayers(language: Language, backend: CgroupBackend, engines: EnginePair, compiledInit: Buffer | null): Layer[] {
  const program = programOf(language).argv;
  const hostPaths = languages[language].hostPaths;
  const inCgroup = async (argv: string[], extraFds?: number, dataInputs?: Buffer[]) => {
    const cgroup = await backend.createRun({ memoryBytes: 512 * 1024 * 1024, maxTasks: 64 });
    try {
      const launch = launchInCgroup('/bin/sh', cgroup, argv[0], argv.slice(1));
      return await timeCommand({ argv: [launch.executable, ...launch.args], extraFds, dataInputs });
    } finally {
      await cgroup?.destroy();
    }
  };
  const setpriv = (argv: string[]) => [
    DEFAULT_SETPRIV_PATH,
    '--reuid',
    String(SANDBOX_UID),
    '--regid',
    String(SANDBOX_GID),
    '--clear-groups',
    '--',
    ...argv,
  ];
  const initFor = (initProgram: InitProgram) =>
    initArgv({
      program: initProgram,
      channel: { kind: 'fds', statusFd: SANDBOX_FDS.status, stdoutFd: SANDBOX_FDS.stdout, stderrFd: SANDBOX_FDS.stderr },
      rlimits: [],
      command: program,
    });
  const init = initFor({ kind: 'python', python: DEFAULT_PYTHON_PATH });
  const root = process.getuid?.() === 0;
  const asUser = root ? setpriv : (argv: string[]) => argv;
  // The compiled init as the engine binds it: from fd 6, the first after the channel's 3-5.
  const bindInit = ['--perms', '0555', '--ro-bind-data', String(SANDBOX_FDS.firstData), COMPILED_INIT_PATH];
  const cInit: Layer[] =
    compiledInit === null
      ? []
      : [
          {
            name: '+C init',
            // An alternative to +init, on the same layers below it.
            comparedTo: root ? '+setpriv' : '+launcher',
            sample: () =>
              inCgroup(asUser(bareBwrap(initFor({ kind: 'compiled', path: COMPILED_INIT_PATH }), hostPaths, true, bindInit)), CHANNEL_FDS, [
                compiledInit,
              ]),
          },
        ];
  return [
    { name: 'plain', sample: () => timeCommand({ argv: program }) },
    { name: 'bwrap', sample: () => timeCommand({ argv: bareBwrap(program, hostPaths) }) },
    { name: '+launcher', sample: () => inCgroup(bareBwrap(program, hostPaths)) },
    ...(root ? [{ name: '+setpriv', sample: () => inCgroup(setpriv(bareBwrap(program, hostPaths))) }] : []),
    { name: '+init', sample: () => inCgroup(asUser(bareBwrap(init, hostPaths, true)), CHANNEL_FDS) },
    ...cInit,
    ...engineLayers(engines, language, { python: '+init', compiled: compiledInit === null ? '+init' : '+C init' }),
  ];
}

async function engineSample(engine: SandboxEngine, language: Language): Promise<number> {
  const started = performance.now();
  const result = await engine.run({ language, code: Buffer.from(programOf(language).code), limits: LIMIT_DEFAULTS });
  const wallMs = performance.now() - started;
  if (result.exitCode !== 0 || result.stdout.toString() !== '1\n') {
    throw new Error(`trivial ${language} run in ${engine.name} failed: ${result.stderr.toString()}`);
  }
  return wallMs;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function createEngine(name: EngineName, init: InitSettings = {}): SandboxEngine {
  switch (name) {
    case 'bwrap':
      return new BwrapEngine({ init });
    case 'gvisor':
      return new GvisorEngine({ init });
    case 'process':
      return new ProcessEngine({ init });
  }
}

async function main(): Promise<void> {
  console.log(`runs per layer: ${RUNS} (after 3 warm-up rounds; layers interleaved)\n`);
  const backend = await selectCgroupBackend('auto');
  const init = await sandboxInit();
  console.log(`${init.describe}\n`);
  const compiledInit = init.kind === 'compiled' ? init.binary : null;
  const rows: string[][] = [['engine', 'language', 'layer', 'median ms', 'adds ms', 'x floor']];
  for (const name of ENGINES) {
    const engines: EnginePair = { engine: createEngine(name), withPythonInit: createEngine(name, { mode: 'python' }) };
    const check = await engines.engine.check();
    console.log(check.detail);
    if (!check.ok) {
      rows.push([name, '-', 'skipped: cannot work on this machine (see its check above)', '', '', '']);
      continue;
    }
    for (const language of LANGUAGES) {
      const layers: Layer[] =
        name === 'bwrap'
          ? bwrapLayers(language, backend, engines, compiledInit)
          : [{ name: 'plain', sample: () => timeCommand({ argv: programOf(language).argv }) }, ...engineLayers(engines, language)];
      const samples = layers.map(() => [] as number[]);
      for (let round = 0; round < RUNS + 3; round++) {
        for (const [index, layer] of layers.entries()) {
          const ms = await layer.sample();
          if (round >= 3) samples[index].push(ms);
        }
      }
      const medians = samples.map(median);
      const floor = medians[name === 'bwrap' ? 1 : 0];
      layers.forEach((layer, index) => {
        const base = layer.comparedTo === undefined ? index - 1 : layers.findIndex((other) => other.name === layer.comparedTo);
        const adds = index === 0 ? '' : (medians[index] - medians[base]).toFixed(1);
        rows.push([name, language, layer.name, medians[index].toFixed(1), adds, `${(medians[index] / floor).toFixed(2)}x`]);
      });
    }
  }
  console.log('');
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column])).join('  '));
  console.log(`\nprograms: ${LANGUAGES.map((language) => programOf(language).argv.join(' ')).join('; ')}`);
  console.log(`reproduce: RUNS=${RUNS} ENGINES=${ENGINES.join(',')} LANGUAGES=${LANGUAGES.join(',')} npm run bench:sandbox`);
}

/** One run's cost to this process: its event loop's longest stall, its CPU time, the run's wall time. */
interface ParentCost {
  stallMs: number;
  cpuMs: number;
  wallMs: number;
}

async function parentCost(engine: SandboxEngine, language: Language): Promise<ParentCost> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const cpu = process.cpuUsage();
  delay.enable();
  const wallMs = await engineSample(engine, language);
  delay.disable();
  const used = process.cpuUsage(cpu);
  // The histogram records each tick's lateness past its 1 ms resolution.
  return { stallMs: delay.max / 1e6, cpuMs: (used.user + used.system) / 1000, wallMs };
}

async function remoteComparison(): Promise<void> {
  const name = ENGINES[0];
  const language = LANGUAGES[0];
  const ballastMb = Number(process.env.BALLAST_MB ?? 500);
  // Touched, so that the pages are mapped and a fork has to copy their page tables.
  const ballast = Array.from({ length: Math.ceil(ballastMb / 10) }, () => Buffer.allocUnsafe(10 * 1024 * 1024).fill(1));
  const rssMb = Math.round(process.memoryUsage().rss / 1024 / 1024);
  const direct = createEngine(name);
  const remote = new RemoteSandboxEngine({ engine: name, allowProcessEngine: name === 'process' });
  try {
    await remote.start();
    const check = await direct.check();
    console.log(
      `${check.detail}\nthis process: RSS ${rssMb} MB (${ballast.length} x 10 MB of ballast); runs: ${RUNS} per engine, interleaved\n`,
    );
    if (!check.ok) throw new Error(`${name} cannot work on this machine`);
    const subjects = [
      { label: `${name}, direct (spawn from this process)`, engine: direct as SandboxEngine },
      { label: `${name}, remote (spawn from the host, pid ${remote.hostPid})`, engine: remote as SandboxEngine },
    ];
    const samples = subjects.map(() => [] as ParentCost[]);
    for (let round = 0; round < RUNS + 3; round++) {
      for (const [index, subject] of subjects.entries()) {
        const cost = await parentCost(subject.engine, language);
        if (round >= 3) samples[index].push(cost);
      }
    }
    const rows = [['engine', 'event-loop stall ms (median)', '(max)', 'parent CPU ms/run', 'wall ms']];
    subjects.forEach((subject, index) => {
      const of = (key: keyof ParentCost) => samples[index].map((cost) => cost[key]);
      rows.push([
        subject.label,
        median(of('stallMs')).toFixed(1),
        Math.max(...of('stallMs')).toFixed(1),
        median(of('cpuMs')).toFixed(1),
        median(of('wallMs')).toFixed(1),
      ]);
    });
    const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
    for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column])).join('  '));
    // Also what keeps the ballast alive to the end.
    const endRssMb = Math.round(process.memoryUsage().rss / 1024 / 1024);
    console.log(`\nthis process at the end: RSS ${endRssMb} MB, ${ballast.length} ballast buffers`);
    console.log(`reproduce: RUNS=${RUNS} BALLAST_MB=${ballastMb} ENGINES=${name} LANGUAGES=${language} npm run bench:sandbox -- --remote`);
  } finally {
    await remote.close();
  }
}

(process.argv.includes('--remote') ? remoteComparison() : main()).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
