/**
 * A long-running helper process (the Temporal dev server) that must never outlive this Node
 * process: stop() terminates it gracefully with a SIGKILL fallback, an 'exit' hook covers
 * process.exit(), and on Linux the kernel sends it SIGTERM when we die in any other way, even
 * SIGKILL (parent-death signal, set by util-linux `setpriv --pdeathsig`, which then execs the
 * command so the pid stays the same).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';

export interface SupervisedProcessOptions {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Each line the process writes to stdout or stderr. */
  log?: (line: string) => void;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SupervisedProcess {
  readonly pid: number;
  /** Settles when the process has exited, for whatever reason. */
  readonly exited: Promise<ProcessExit>;
  /** The last lines of output, for error messages. */
  recentOutput(): string;
  /** SIGTERM, then SIGKILL if it has not exited after graceMs; resolves once it is gone. */
  stop(graceMs: number): Promise<ProcessExit>;
}

const RECENT_LINES_KEPT = 40;

export function startSupervisedProcess(options: SupervisedProcessOptions): SupervisedProcess {
  const wrapper = parentDeathSignalWrapper();
  const [command, args] = wrapper ? [wrapper[0], [...wrapper.slice(1), options.command, ...options.args]] : [options.command, options.args];
  const child: ChildProcess = spawn(command, args, { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const recent: string[] = [];
  const onLine = (line: string) => {
    recent.push(line);
    if (recent.length > RECENT_LINES_KEPT) recent.shift();
    options.log?.(line);
  };
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
  }

  // Terminating on exit, not killing: the server then finishes its shutdown on its own.
  const terminateOnExit = () => {
    child.kill('SIGTERM');
  };
  process.once('exit', terminateOnExit);

  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      process.off('exit', terminateOnExit);
      resolve({ code, signal });
    });
    child.once('error', (error) => {
      // spawn failure (ENOENT, EACCES): there will be no 'exit' event.
      onLine(`could not run ${options.command}: ${error.message}`);
      process.off('exit', terminateOnExit);
      resolve({ code: null, signal: null });
    });
  });

  let stopping: Promise<ProcessExit> | undefined;
  return {
    pid: child.pid ?? -1,
    exited,
    recentOutput: () => recent.join('\n'),
    stop(graceMs) {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return exited;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        try {
          return await exited;
        } finally {
          clearTimeout(timer);
        }
      })();
      return stopping;
    },
  };
}

let cachedWrapper: string[] | null | undefined;

/** `setpriv --pdeathsig TERM --` where util-linux supports it (Linux), otherwise null. */
function parentDeathSignalWrapper(): string[] | null {
  if (cachedWrapper !== undefined) return cachedWrapper;
  cachedWrapper = null;
  if (process.platform === 'linux') {
    const help = spawnSync('setpriv', ['--help'], { encoding: 'utf8' });
    if (!help.error && help.stdout.includes('--pdeathsig')) cachedWrapper = ['setpriv', '--pdeathsig', 'TERM', '--'];
  }
  return cachedWrapper;
}
