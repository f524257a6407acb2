/**
 * The init process that runs the user's program inside every engine.
 *
 * Why it exists: bubblewrap's own PID-1 reaper reports a signal death as exit code 128+n, and
 * `runsc run` does the same, so a program that calls exit(139) and one killed by SIGSEGV would
 * look the same. This small init forks the user's program, waits for it with wait4() (exact exit
 * status and rusage), and reports on a channel that only the engine reads:
 *
 *   {"event":"started"}                     once the program's exec() succeeded
 *   {"exitCode":..,"signal":..,...}         when it ended (or {"execError": ...})
 *
 * Nothing outlives the program: when the program's main process ends, the init kills every
 * process that is left (kill(-1) as PID 1 of a PID namespace; as a child subreaper outside one,
 * each orphan that was reparented to it), reaps them, and only then reports. A program that
 * daemonized (double fork + setsid) or ignores signals is gone before the result exists.
 *
 * Two ways to report (`--report`):
 * - `fds:STATUS,OUT,ERR` (bwrap, process): the program's stdout and stderr are the given fds,
 *   the report lines go to STATUS.
 * - `framed:FD` (gVisor, where `runsc run` passes only stdin/stdout/stderr into the sandbox):
 *   the program writes into pipes that the init relays, in frames, to FD, together with the
 *   report lines. A frame is one type byte ('o' stdout, 'e' stderr, 'r' report line), a 4-byte
 *   big-endian length and the payload. Only the init holds FD, so the program cannot forge a frame.
 *
 * It is careful about the program it supervises:
 * - it makes itself non-dumpable, so a program with the same uid cannot ptrace it or read its fds
 *   or environment through /proc/<init>/...;
 * - with `--user=UID:GID` (the engine started it privileged: gVisor, the process engine run as
 *   root), the program runs as that unprivileged user and cannot signal or trace the init at all;
 * - as PID 1 of a namespace it only receives signals it has a handler for (bwrap);
 * - the report fd and the exec-error pipe are close-on-exec, so the program never holds them.
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

    args = sys.argv[1:]
    options = {}
    while args and args[0] != '--':
        key, _, value = args.pop(0).partition('=')
        options[key] = value
    command = args[1:]
    if not command or '--report' not in options:
        raise ValueError('usage: init --report=fds:S,O,E|framed:F [--rlimits=..] [--user=U:G] [--subreaper] -- COMMAND...')

    limits = []
    for item in options.get('--rlimits', '').split(','):
        if item:
            name, soft, hard = item.split(':')
            limits.append((getattr(resource, 'RLIMIT_' + name), int(soft), int(hard)))
    user = None
    if options.get('--user'):
        user = tuple(int(part) for part in options['--user'].split(':'))
    if '--subreaper' in options and libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        raise OSError(ctypes.get_errno(), 'prctl(PR_SET_CHILD_SUBREAPER) failed')
    am_pid1 = os.getpid() == 1

    mode, _, spec = options['--report'].partition(':')
    relay = {}
    if mode == 'fds':
        status_fd, out_fd, err_fd = (int(part) for part in spec.split(','))
        for fd in (status_fd, out_fd, err_fd):
            os.set_inheritable(fd, False)
        def report(line):
            write_all(status_fd, (line + '\n').encode())
    elif mode == 'framed':
        frame_fd = int(spec)
        os.set_inheritable(frame_fd, False)
        out_r, out_fd = os.pipe()
        err_r, err_fd = os.pipe()
        relay = {out_r: b'o', err_r: b'e'}
        def report(line):
            write_frame(frame_fd, b'r', (line + '\n').encode())
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        _signal.set_wakeup_fd(wake_w)
        _signal.signal(_signal.SIGCHLD, lambda number, frame: None)
    else:
        raise ValueError('unknown report mode ' + mode)

    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
    exec_error_r, exec_error_w = os.pipe()  # close-on-exec: EOF means exec succeeded

    started = time.monotonic_ns()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(out_fd, 1)
            os.dup2(err_fd, 2)
            # Python ignores these at start-up; ignored dispositions survive exec.
            for sig in (_signal.SIGPIPE, _signal.SIGXFSZ, _signal.SIGINT, _signal.SIGCHLD):
                _signal.signal(sig, _signal.SIG_DFL)
            # No privilege can be gained from here on: setuid/setcap files are plain files.
            if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
                raise OSError(ctypes.get_errno(), 'prctl(PR_SET_NO_NEW_PRIVS) failed')
            if user is not None:
                # Empty the bounding set where the init may (CAP_SETPCAP), then drop to the user,
                # which clears the permitted and effective sets.
                for cap in range(64):
                    libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP; EINVAL past the last cap
                os.setgroups([])
                os.setgid(user[1])
                os.setuid(user[0])
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
    if exec_error:
        os.waitpid(pid, 0)
        report('{"execError":%s}' % quote(exec_error.decode('utf-8', 'replace')))
        return
    report('{"event":"started"}')

    usage_total = [0, 0, 0]  # user us, system us, max rss KB
    def account(usage):
        usage_total[0] += int(usage.ru_utime * 1e6)
        usage_total[1] += int(usage.ru_stime * 1e6)
        usage_total[2] = max(usage_total[2], usage.ru_maxrss)

    main_status = None
    if mode == 'fds':
        while main_status is None:
            try:
                reaped, status, usage = os.wait4(-1, 0)
            except ChildProcessError:
                break
            account(usage)
            if reaped == pid:
                main_status = status
    else:
        import select
        poller = select.poll()
        for fd in relay:
            poller.register(fd, select.POLLIN)
        poller.register(wake_r, select.POLLIN)
        while main_status is None:
            try:
                while True:
                    reaped, status, usage = os.wait4(-1, os.WNOHANG)
                    if reaped == 0:
                        break
                    account(usage)
                    if reaped == pid:
                        main_status = status
            except ChildProcessError:
                break
            if main_status is not None:
                break
            for fd, _ in poller.poll(1000):
                if fd == wake_r:
                    drain(wake_r)
                else:
                    relay_once(fd, relay, poller, frame_fd)
    wall_us = (time.monotonic_ns() - started) // 1000

    # The program's main process is gone: nothing it started may outlive it.
    leftovers = kill_leftovers(am_pid1, account)

    if relay:
        # Every writer is dead: relay what is still in the pipes, up to their EOF.
        deadline = time.monotonic() + 2
        while relay and time.monotonic() < deadline:
            for fd, _ in poller.poll(100):
                if fd in relay:
                    relay_once(fd, relay, poller, frame_fd)

    if main_status is None:
        report('{"execError":"init lost its child"}')
        return
    exit_code = os.WEXITSTATUS(main_status) if os.WIFEXITED(main_status) else None
    signal = os.WTERMSIG(main_status) if os.WIFSIGNALED(main_status) else None
    report('{"exitCode":%s,"signal":%s,"userUs":%d,"systemUs":%d,"maxRssKb":%d,"wallUs":%d,"leftovers":%d}' % (
        'null' if exit_code is None else exit_code,
        'null' if signal is None else signal,
        usage_total[0], usage_total[1], usage_total[2], wall_us, leftovers))

def kill_leftovers(am_pid1, account):
    """SIGKILLs and reaps every process left; returns how many there were."""
    count = 0
    me = os.getpid()
    while True:
        if am_pid1:
            try:
                os.kill(-1, 9)  # every process of the namespace but the init itself
            except OSError:
                pass
        else:
            for child in children_of(me):
                try:
                    os.kill(child, 9)
                except OSError:
                    pass
        try:
            reaped, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return count
        if reaped == 0:
            time.sleep(0.002)
            continue
        count += 1
        account(usage)

def children_of(parent):
    """Processes whose parent is 'parent' (orphans are reparented to a subreaper)."""
    found = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/' + name + '/stat', 'rb') as stat_file:
                stat = stat_file.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b')') + 2:].split()
        if int(fields[1]) == parent:
            found.append(int(name))
    return found

def relay_once(fd, relay, poller, frame_fd):
    try:
        data = os.read(fd, 65536)
    except BlockingIOError:
        return
    if data:
        write_frame(frame_fd, relay[fd], data)
    else:
        poller.unregister(fd)
        os.close(fd)
        del relay[fd]

def drain(fd):
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass

def write_frame(fd, kind, data):
    write_all(fd, kind + len(data).to_bytes(4, 'big') + data)

def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]

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

/** How the init reports: see the module comment. */
export type InitChannel = { kind: 'fds'; statusFd: number; stdoutFd: number; stderrFd: number } | { kind: 'framed'; fd: number };

export interface InitInvocation {
  python: string;
  channel: InitChannel;
  rlimits: readonly ProgramRlimit[];
  /** Run the program as this user (the init must be privileged to switch). */
  user?: { uid: number; gid: number };
  /** Become a child subreaper, to find and kill orphans when not PID 1 of a namespace. */
  subreaper?: boolean;
  command: readonly string[];
}

/** argv that starts the init (inside whatever sandbox the caller builds). */
export function initArgv(invocation: InitInvocation): string[] {
  const limits = invocation.rlimits.map((limit) => `${limit.name}:${limit.soft}:${limit.hard}`).join(',');
  const { channel } = invocation;
  const report = channel.kind === 'fds' ? `fds:${channel.statusFd},${channel.stdoutFd},${channel.stderrFd}` : `framed:${channel.fd}`;
  const options = [`--report=${report}`, `--rlimits=${limits}`];
  if (invocation.user) options.push(`--user=${invocation.user.uid}:${invocation.user.gid}`);
  if (invocation.subreaper) options.push('--subreaper');
  return [invocation.python, '-I', '-S', '-c', SANDBOX_INIT_SOURCE, ...options, '--', ...invocation.command];
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
      /** Processes still alive when the main process ended, killed by the init. */
      leftovers: number;
    }
  | { kind: 'exec_failed'; message: string };

export type InitLine = InitReport | { kind: 'started' };

export class InitReportParseError extends Error {
  override readonly name = 'InitReportParseError';
}

/** Parses one line of the init; throws InitReportParseError when it is malformed. */
export function parseInitLine(line: string): InitLine {
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
  if (record.event === 'started') return { kind: 'started' };
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
    leftovers: Number.isInteger(record.leftovers) ? (record.leftovers as number) : 0,
  };
}

/** Parses the init's final status line; throws InitReportParseError when it is malformed. */
export function parseInitReport(line: string): InitReport {
  const parsed = parseInitLine(line);
  if (parsed.kind === 'started') throw new InitReportParseError(`not a final status line: ${JSON.stringify(line)}`);
  return parsed;
}
