/**
 * A warm Python scanner: `scan.py --serve` started once per interpreter (a fork server), which
 * forks a fresh child per scan. The child lowers the same limits the one-shot scanner sets
 * (address space, CPU, no core) before it parses anything, runs in the same empty environment
 * with the same isolated-interpreter flags, and exits after one scan, so nothing one scan does can
 * reach the next. What is saved is the interpreter's start and the scanner's imports: a scan
 * costs a fork (about a millisecond) instead of a new interpreter (about 40 ms).
 *
 * Each server runs one scan at a time; up to MAX_SERVERS run side by side, started when all are
 * busy, so one slow hostile input does not hold up the others. Deadlines are kept here: at the
 * deadline the scan's child is SIGKILLed by pid (the server has not reaped it yet, so the pid is
 * still that child's). A server that dies is replaced on the next scan; the scan it was running
 * fails with a retryable ScanError. Idle servers do not keep Node's event loop alive, and a server
 * exits when its stdin closes, so it never outlives the worker.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { constants } from 'node:os';
import type { BoundedChildResult } from './bounded-child';
import { ScanError } from './types';

export const MAX_SERVERS = 4;
const MAX_SERVER_STDERR_BYTES = 16 * 1024;
/** How long a server that exited has for the rest of its stderr to arrive before its scan fails without it. */
const STDERR_DRAIN_MS = 200;
/** After the deadline's kill, how long the server has to report the child's end before it is killed too. */
const KILL_GRACE_MS = 1000;

interface Pending {
  /** Servers that died before this scan started; it is handed to a new one once. */
  lostServers: number;
  input: Buffer;
  timeoutMs: number;
  resolve: (result: BoundedChildResult) => void;
  reject: (error: Error) => void;
}

type Answer = { kind: 'started'; pid: number } | { kind: 'done'; status: number; overflow: boolean; stdout: Buffer; stderr: Buffer };

/** One `scan.py --serve` process and its one scan in flight. */
class ForkServer {
  private readonly child: ChildProcessWithoutNullStreams;
  private buffered = Buffer.alloc(0);
  private stderr = '';
  private current: { pending: Pending; pid?: number; timedOut: boolean; timer: NodeJS.Timeout } | undefined;
  exited = false;
  /** die() has answered the scan in flight (it runs once, however the end is reported). */
  private settled = false;

  constructor(
    command: string,
    args: readonly string[],
    private readonly onIdle: (server: ForkServer) => void,
    private readonly requeue: (pending: Pending) => void,
  ) {
    this.child = spawn(command, args, { env: {}, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (chunk: Buffer) => this.receive(chunk));
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString('utf8')).slice(-MAX_SERVER_STDERR_BYTES)));
    // EPIPE after the server died is reported by the exit handler, with its stderr.
    this.child.stdin.on('error', () => undefined);
    this.child.on('error', (error) => this.die(error, this.child.pid === undefined ? 'scanner_unavailable' : 'scanner_failed'));
    this.child.on('exit', (code, signal) => {
      this.exited = true; // no new scan for it meanwhile
      const died = () => this.die(new Error(`exited with ${signal ? `signal ${signal}` : `status ${code}`}`), 'scanner_failed');
      // 'exit' can come before the last of the server's stderr has been read, and that is what says
      // why it died: wait for the pipe to end, but not for long (a scan child may still hold it).
      if (this.child.stderr.readableEnded) return died();
      const timer = setTimeout(died, STDERR_DRAIN_MS);
      this.child.stderr.once('end', () => {
        clearTimeout(timer);
        died();
      });
    });
    this.setReferenced(false);
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  run(pending: Pending): void {
    this.setReferenced(true);
    const timer = setTimeout(() => {
      current.timedOut = true;
      if (current.pid !== undefined) killQuietly(current.pid);
      // A server that does not answer (it never said `started`, or never reports the end) goes too.
      current.timer = setTimeout(
        () => this.die(new Error('did not answer by the deadline'), 'scanner_failed'),
        current.pid ? KILL_GRACE_MS : 0,
      );
    }, pending.timeoutMs);
    const current: NonNullable<ForkServer['current']> = { pending, timedOut: false, timer };
    this.current = current;
    this.child.stdin.write(Buffer.concat([Buffer.from(`${pending.input.length}\n`), pending.input]));
  }

  stop(): void {
    this.child.stdin.end();
  }

  private receive(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    for (let answer = this.nextAnswer(); answer; answer = this.nextAnswer()) {
      const current = this.current;
      if (!current) return this.die(new Error('answered a scan it was not asked for'), 'scanner_failed');
      if (answer.kind === 'started') {
        current.pid = answer.pid;
        if (current.timedOut) killQuietly(answer.pid);
        continue;
      }
      clearTimeout(current.timer);
      this.current = undefined;
      this.setReferenced(false);
      const signal = answer.status < 0 ? signalName(-answer.status) : null;
      current.pending.resolve({
        stdout: answer.stdout.toString('utf8'),
        stderr: answer.stderr.toString('utf8'),
        exitCode: answer.status >= 0 ? answer.status : null,
        signal,
        timedOut: current.timedOut,
        stdoutOverflow: answer.overflow,
        inputError: null,
        pid: current.pid,
      });
      this.onIdle(this);
    }
  }

  /** Parses one complete answer off the front of the buffer, if there is one. */
  private nextAnswer(): Answer | undefined {
    const newline = this.buffered.indexOf(10);
    if (newline < 0) return undefined;
    const words = this.buffered.subarray(0, newline).toString('ascii').split(' ');
    if (words[0] === 'started' && words.length === 2) {
      this.buffered = this.buffered.subarray(newline + 1);
      return { kind: 'started', pid: Number(words[1]) };
    }
    if (words[0] === 'done' && words.length === 5) {
      const [status, overflow, outLength, errLength] = words.slice(1).map(Number) as [number, number, number, number];
      const end = newline + 1 + outLength + errLength;
      if (this.buffered.length < end) return undefined;
      const body = this.buffered.subarray(newline + 1, end);
      this.buffered = this.buffered.subarray(end);
      return { kind: 'done', status, overflow: overflow === 1, stdout: body.subarray(0, outLength), stderr: body.subarray(outLength) };
    }
    this.die(new Error(`broke its protocol: ${JSON.stringify(this.buffered.subarray(0, 200).toString('utf8'))}`), 'scanner_failed');
    return undefined;
  }

  private die(error: Error, code: 'scanner_unavailable' | 'scanner_failed'): void {
    if (this.settled) return;
    this.settled = true;
    this.exited = true;
    this.child.kill('SIGKILL');
    const current = this.current;
    this.current = undefined;
    if (current?.timedOut) {
      clearTimeout(current.timer);
      if (current.pid !== undefined) killQuietly(current.pid);
      current.pending.resolve({
        stdout: '',
        stderr: '',
        exitCode: null,
        signal: 'SIGKILL',
        timedOut: true,
        stdoutOverflow: false,
        inputError: null,
      });
    } else if (current && current.pid === undefined && current.pending.lostServers === 0) {
      // It died before it forked for this scan (e.g. killed while idle): nothing ran, so try a new server.
      clearTimeout(current.timer);
      current.pending.lostServers++;
      this.requeue(current.pending);
    } else if (current) {
      clearTimeout(current.timer);
      if (current.pid !== undefined) killQuietly(current.pid);
      const stderr = this.stderr.trim() ? `: ${this.stderr.trim().slice(-2000)}` : '';
      current.pending.reject(new ScanError(code, `the Python scan server ${error.message}${stderr}`, { cause: error }));
    }
    this.onIdle(this);
  }

  /** Only a server with a scan in flight keeps the process alive. */
  private setReferenced(referenced: boolean): void {
    // The pipes are sockets (with ref/unref) although their declared types are plain streams.
    const handles = [this.child, this.child.stdin, this.child.stdout, this.child.stderr] as unknown as Array<{
      ref(): void;
      unref(): void;
    }>;
    for (const handle of handles) {
      if (referenced) handle.ref();
      else handle.unref();
    }
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone: it finished as the deadline passed.
  }
}

function signalName(number: number): NodeJS.Signals {
  const entry = Object.entries(constants.signals).find(([, value]) => value === number);
  return (entry?.[0] ?? `SIG${number}`) as NodeJS.Signals;
}

/** Up to MAX_SERVERS fork servers of one interpreter and script, and the scans waiting for one. */
export class ForkServerPool {
  private readonly servers: ForkServer[] = [];
  private readonly queue: Pending[] = [];

  constructor(
    private readonly command: string,
    private readonly args: readonly string[],
  ) {}

  run(input: Buffer, timeoutMs: number): Promise<BoundedChildResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ lostServers: 0, input, timeoutMs, resolve, reject });
      this.dispatch();
    });
  }

  /** Ends every server (they exit once their stdin closes). */
  close(): void {
    for (const server of this.servers.splice(0)) server.stop();
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let server = this.servers.find((s) => !s.busy && !s.exited);
      if (!server && this.servers.length < MAX_SERVERS) {
        server = new ForkServer(
          this.command,
          this.args,
          (idle) => this.onIdle(idle),
          (pending) => this.queue.unshift(pending),
        );
        this.servers.push(server);
      }
      if (!server) return;
      server.run(this.queue.shift()!);
    }
  }

  private onIdle(server: ForkServer): void {
    if (server.exited) this.servers.splice(this.servers.indexOf(server), 1);
    this.dispatch();
  }
}
