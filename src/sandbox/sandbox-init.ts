/**
 * The init process that runs inside the sandbox, as its PID 1.
 *
 * Why it exists: bubblewrap's own PID-1 reaper reports a signal death as exit code 128+n, so a
 * program that calls exit(139) and one killed by SIGSEGV would look the same. This small init
 * forks the user's program, waits for it with wait4() (exact exit status and rusage), reaps any
 * orphans, and writes one JSON line to a status fd that only the engine reads. When it exits,
 * the kernel kills whatever is left in the PID namespace, so a daemonized process cannot keep
 * the run alive.
 *
 * It is careful about the program it supervises, which runs with the same uid:
 * - it makes itself non-dumpable, so the program cannot ptrace it or read its fds or environment
 *   through /proc/1/...;
 * - as PID 1 of the namespace it only receives signals it has a handler for, and it installs
 *   none (Python's SIGINT handler is reset), so the program cannot kill it;
 * - the status fd and the exec-error pipe are close-on-exec, so the program never holds them.
 * Resource limits (rlimits) are applied in the child only, so they bind the program, not init.
 *
 * It is written for Debian's /usr/bin/python3 run with -I -S, and imports only modules that load
 * in a few milliseconds (no json, no signal module: `signal` pulls in enum).
 */

/** Python source of the init; passed to `python3 -I -S -c`. */
export const SANDBOX_INIT_SOURCE = String.raw`
import os, sys, time, resource, _signal, ctypes

def main():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE = 4
        raise OSError(ctypes.get_errno(), 'prctl(PR_SET_DUMPABLE, 0) failed')

    status_fd, out_fd, err_fd = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    limits = []
    for item in sys.argv[4].split(','):
        if item:
            name, soft, hard = item.split(':')
            limits.append((getattr(resource, 'RLIMIT_' + name), int(soft), int(hard)))
    command = sys.argv[6:]
    if sys.argv[5] != '--' or not command:
        raise ValueError('usage: init STATUS_FD OUT_FD ERR_FD LIMITS -- COMMAND...')

    for fd in (status_fd, out_fd, err_fd):
        os.set_inheritable(fd, False)
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
    exec_error_r, exec_error_w = os.pipe()  # close-on-exec: EOF means exec succeeded

    started = time.monotonic_ns()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(out_fd, 1)
            os.dup2(err_fd, 2)
            # Python ignores these at start-up; ignored dispositions survive exec.
            for sig in (_signal.SIGPIPE, _signal.SIGXFSZ, _signal.SIGINT):
                _signal.signal(sig, _signal.SIG_DFL)
            for resource_id, soft, hard in limits:
                resource.setrlimit(resource_id, (soft, hard))
            os.execv(command[0], command)
        except BaseException as error:
            os.write(exec_error_w, ('%s: %r' % (command[0], error)).encode('utf-8', 'replace')[:4000])
        finally:
            os._exit(127)
    os.close(exec_error_w)
    os.close(out_fd)
    os.close(err_fd)
    exec_error = b''
    while True:
        chunk = os.read(exec_error_r, 4096)
        if not chunk:
            break
        exec_error += chunk
    os.close(exec_error_r)

    user_us = system_us = 0
    max_rss_kb = 0
    main_status = None
    while main_status is None:
        try:
            reaped, status, usage = os.wait4(-1, 0)
        except ChildProcessError:
            break
        user_us += int(usage.ru_utime * 1e6)
        system_us += int(usage.ru_stime * 1e6)
        max_rss_kb = max(max_rss_kb, usage.ru_maxrss)
        if reaped == pid:
            main_status = status
    wall_us = (time.monotonic_ns() - started) // 1000

    if exec_error:
        line = '{"execError":%s}' % quote(exec_error.decode('utf-8', 'replace'))
    elif main_status is None:
        line = '{"execError":"init lost its child"}'
    else:
        exit_code = os.WEXITSTATUS(main_status) if os.WIFEXITED(main_status) else None
        signal = os.WTERMSIG(main_status) if os.WIFSIGNALED(main_status) else None
        line = '{"exitCode":%s,"signal":%s,"userUs":%d,"systemUs":%d,"maxRssKb":%d,"wallUs":%d}' % (
            'null' if exit_code is None else exit_code,
            'null' if signal is None else signal,
            user_us, system_us, max_rss_kb, wall_us)
    os.write(status_fd, (line + '\n').encode())

def quote(text):
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append('\\' + ch)
        elif ord(ch) < 0x20:
            out.append('\\u%04x' % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return ''.join(out)

main()
`;

/** A resource limit for the program, named like Python's resource.RLIMIT_<name>. */
export interface ProgramRlimit {
  name: 'CPU' | 'FSIZE' | 'NOFILE' | 'CORE' | 'AS' | 'NPROC' | 'STACK';
  soft: number;
  hard: number;
}

export interface InitInvocation {
  python: string;
  statusFd: number;
  stdoutFd: number;
  stderrFd: number;
  rlimits: readonly ProgramRlimit[];
  command: readonly string[];
}

/** argv that starts the init (inside whatever sandbox the caller builds). */
export function initArgv(invocation: InitInvocation): string[] {
  const limits = invocation.rlimits.map((limit) => `${limit.name}:${limit.soft}:${limit.hard}`).join(',');
  return [
    invocation.python,
    '-I',
    '-S',
    '-c',
    SANDBOX_INIT_SOURCE,
    String(invocation.statusFd),
    String(invocation.stdoutFd),
    String(invocation.stderrFd),
    limits,
    '--',
    ...invocation.command,
  ];
}

/** What the init reported about the program. */
export type InitReport =
  | {
      kind: 'finished';
      exitCode: number | null;
      signalNumber: number | null;
      cpuTimeMs: number;
      maxRssKb: number;
      wallTimeMs: number;
    }
  | { kind: 'exec_failed'; message: string };

export class InitReportParseError extends Error {
  override readonly name = 'InitReportParseError';
}

/** Parses the init's status line; throws InitReportParseError when it is malformed. */
export function parseInitReport(line: string): InitReport {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new InitReportParseError(`sandbox init wrote an unparseable status line: ${JSON.stringify(line)}`, {
      cause: error,
    });
  }
  if (typeof value !== 'object' || value === null) {
    throw new InitReportParseError(`sandbox init wrote a non-object status: ${JSON.stringify(line)}`);
  }
  const record = value as Record<string, unknown>;
  if (typeof record.execError === 'string') return { kind: 'exec_failed', message: record.execError };
  const exitCode = record.exitCode;
  const signal = record.signal;
  const numbers = [record.userUs, record.systemUs, record.maxRssKb, record.wallUs];
  const validNullableInt = (v: unknown) => v === null || Number.isInteger(v);
  if (!validNullableInt(exitCode) || !validNullableInt(signal) || !numbers.every((n) => Number.isInteger(n))) {
    throw new InitReportParseError(`sandbox init wrote an invalid status: ${JSON.stringify(line)}`);
  }
  const [userUs, systemUs, maxRssKb, wallUs] = numbers as number[];
  return {
    kind: 'finished',
    exitCode: exitCode as number | null,
    signalNumber: signal as number | null,
    cpuTimeMs: Math.round((userUs + systemUs) / 1000),
    maxRssKb,
    wallTimeMs: Math.round(wallUs / 1000),
  };
}
