"""The init that runs the user's program inside every sandbox engine (see init.ts for the protocol).

Why it exists: bubblewrap's own PID-1 reaper reports a signal death as exit code 128+n, and
`runsc run` does the same, so a program that calls exit(139) and one killed by SIGSEGV would look
the same. This init forks the program, waits for it with wait4() (exact exit status and rusage),
and reports on a channel that only the engine reads. When the program's main process ends it
kills every process that is left (kill(-1) as PID 1; as a child subreaper, each orphan), reaps
them, and only then reports.

It is run as `python3 -I -S -c <this file's text>` and imports only modules that load in a few
milliseconds (no json, no signal module: `signal` pulls in enum).
"""
import os, sys, time, resource, _signal, _ctypes

# prctl(2) through _ctypes alone: the ctypes package around it costs more start-up time than the
# rest of the init. Arguments are C ints; the result is prctl's return value (errno is not kept).
_PRCTL = _ctypes.dlsym(_ctypes.dlopen(None), 'prctl')

def prctl(option, arg):
    return _ctypes.call_function(_PRCTL, (option, arg, 0, 0, 0))

def main():
    if prctl(4, 0) != 0:  # PR_SET_DUMPABLE = 4
        raise OSError('prctl(PR_SET_DUMPABLE, 0) failed')

    args = sys.argv[1:]
    options = {}
    while args and args[0] != '--':
        key, _, value = args.pop(0).partition('=')
        options[key] = value
    command = args[1:]
    if not command or '--report' not in options:
        raise ValueError('usage: init --report=fds:S,O,E[,A]|framed:F [--rlimits=..] [--user=U:G] [--subreaper] '
                         '[--collect=NAME,*.SUFFIX,.. --collect-max=BYTES:FILES [--collect-depth=N]] [--stdin-file=PATH] -- COMMAND...')

    limits = []
    for item in options.get('--rlimits', '').split(','):
        if item:
            name, soft, hard = item.split(':')
            limits.append((getattr(resource, 'RLIMIT_' + name), int(soft), int(hard)))
    user = None
    if options.get('--user'):
        user = tuple(int(part) for part in options['--user'].split(':'))
    if '--subreaper' in options and prctl(36, 1) != 0:  # PR_SET_CHILD_SUBREAPER
        raise OSError('prctl(PR_SET_CHILD_SUBREAPER) failed')
    am_pid1 = os.getpid() == 1

    collect = [pattern for pattern in options.get('--collect', '').split(',') if pattern]
    collect_bytes, _, collect_files = options.get('--collect-max', '0:0').partition(':')
    collect_max = (int(collect_bytes), int(collect_files))
    collect_depth = int(options.get('--collect-depth', '1'))

    mode, _, spec = options['--report'].partition(':')
    relay = {}
    if mode == 'fds':
        fds = [int(part) for part in spec.split(',')]
        status_fd, out_fd, err_fd = fds[:3]
        artefact_fd = fds[3] if len(fds) > 3 else None
        for fd in fds:
            os.set_inheritable(fd, False)
        def report(line):
            write_all(status_fd, (line + '\n').encode())
        def send_artefact(kind, data):
            write_frame(artefact_fd, kind, data)
    elif mode == 'framed':
        frame_fd = int(spec)
        os.set_inheritable(frame_fd, False)
        out_r, out_fd = os.pipe()
        err_r, err_fd = os.pipe()
        relay = {out_r: b'o', err_r: b'e'}
        def report(line):
            write_frame(frame_fd, b'r', (line + '\n').encode())
        def send_artefact(kind, data):
            write_frame(frame_fd, kind, data)
        artefact_fd = frame_fd
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
    stdin_file = options.get('--stdin-file')
    pid = os.fork()
    if pid == 0:
        try:
            if stdin_file:
                # The engine put stdin in the sandbox as a read-only file (see init.ts).
                stdin_fd = os.open(stdin_file, os.O_RDONLY | os.O_NOFOLLOW)
                os.dup2(stdin_fd, 0)
                os.close(stdin_fd)
            os.dup2(out_fd, 1)
            os.dup2(err_fd, 2)
            # Python ignores these at start-up; ignored dispositions survive exec.
            for sig in (_signal.SIGPIPE, _signal.SIGXFSZ, _signal.SIGINT, _signal.SIGCHLD):
                _signal.signal(sig, _signal.SIG_DFL)
            # No privilege can be gained from here on: setuid/setcap files are plain files.
            if prctl(38, 1) != 0:  # PR_SET_NO_NEW_PRIVS
                raise OSError('prctl(PR_SET_NO_NEW_PRIVS) failed')
            if user is not None:
                # Empty the bounding set where the init may (CAP_SETPCAP), then drop to the user,
                # which clears the permitted and effective sets.
                for cap in range(64):
                    prctl(24, cap)  # PR_CAPBSET_DROP; EINVAL past the last cap
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
    collected = ''
    if collect and exit_code == 0:
        if artefact_fd is None:
            raise ValueError('--collect needs an artefact fd (fds:S,O,E,A) or the framed channel')
        # Every process of the program is dead (kill_leftovers): nothing can change the work dir now.
        count, error = send_artefacts(collect, collect_max, collect_depth, send_artefact)
        collected = ',"collected":%d' % count
        if error:
            collected += ',"collectError":%s' % quote(error)
    report('{"exitCode":%s,"signal":%s,"userUs":%d,"systemUs":%d,"maxRssKb":%d,"wallUs":%d,"leftovers":%d%s}' % (
        'null' if exit_code is None else exit_code,
        'null' if signal is None else signal,
        usage_total[0], usage_total[1], usage_total[2], wall_us, leftovers, collected))

def send_artefacts(patterns, limits, depth, send):
    """Sends the regular files that match in the work dir's first `depth` levels (1: its top
    level), as frames: 'n' (b'x' or b'-' for executable, then the path relative to the work dir,
    such as app/Main.class) followed by 'a' frames of content. Never follows a link (directories
    are entered by fd, O_NOFOLLOW), never opens anything but a regular file with one link, never
    sends more than the limits allow. Returns (files sent, error or None)."""
    max_bytes, max_files = limits
    names = sorted(find_artefacts(patterns, depth))
    if not names:
        return 0, 'the compiler produced none of ' + ', '.join(patterns)
    if len(names) > max_files:
        return 0, 'the compiler produced %d files, more than %d' % (len(names), max_files)
    total = 0
    for index, name in enumerate(names):
        try:
            fd = open_beneath(name)
        except OSError as error:
            return index, '%s cannot be read as a regular file (%s)' % (name, error.strerror)
        try:
            info = os.fstat(fd)
            if (info.st_mode & 0o170000) != 0o100000 or info.st_nlink != 1:
                return index, '%s is not a regular file' % name
            total += info.st_size
            if total > max_bytes:
                return index, 'the compiled program is larger than %d bytes' % max_bytes
            send(b'n', (b'x' if info.st_mode & 0o100 else b'-') + name.encode('utf-8', 'surrogateescape'))
            left = info.st_size
            while left > 0:
                chunk = os.read(fd, min(left, 1 << 20))
                if not chunk:
                    break
                send(b'a', chunk)
                left -= len(chunk)
            if left != 0:
                return index, '%s changed while it was read' % name
        finally:
            os.close(fd)
    return len(names), None

def find_artefacts(patterns, depth):
    """Paths of the entries whose name matches, in the first `depth` levels of the work dir; a
    directory within them is searched (never through a link), not matched."""
    found = []
    def walk(dir_fd, prefix, level):
        for name in os.listdir(dir_fd):
            # lstat, not the entry's d_type: gVisor lists a file's mount point as a directory.
            if level < depth and is_directory(os.stat(name, dir_fd=dir_fd, follow_symlinks=False)):
                child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
                try:
                    if is_directory(os.fstat(child)):
                        walk(child, prefix + name + '/', level + 1)
                finally:
                    os.close(child)
            elif matches(name, patterns):
                found.append(prefix + name)
    top = os.open('.', os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        walk(top, '', 1)
    finally:
        os.close(top)
    return found

def is_directory(info):
    return (info.st_mode & 0o170000) == 0o040000

def open_beneath(relative):
    """Opens a path relative to the work dir one component at a time, following no link."""
    parts = relative.split('/')
    dir_fd = os.open('.', os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            os.close(dir_fd)
            dir_fd = child
        return os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)

def matches(name, patterns):
    for pattern in patterns:
        if pattern.startswith('*'):
            if len(name) > len(pattern) - 1 and name.endswith(pattern[1:]):
                return True
        elif name == pattern:
            return True
    return False

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
