/*
 * The init that runs the user's program inside every sandbox engine, compiled: the same program
 * as init.py, with the same arguments, behaviour and reports (see init.ts for the protocol). It
 * exists because a second Python start-up in every run cost 20-30 ms; this one starts in about
 * one. init.py stays as the fallback where no C compiler is available (run/compiled-init.ts).
 *
 *   init --report=fds:S,O,E|framed:F [--rlimits=NAME:SOFT:HARD,..] [--user=U:G] [--subreaper] -- COMMAND...
 *
 * It forks the program, waits for it with wait4() (exact exit status and rusage), and reports on
 * a channel that only the engine reads. When the program's main process ends it kills every
 * process that is left (kill(-1) as PID 1; as a child subreaper, each orphan), reaps them, and
 * only then reports. Any change here must be made in init.py too: the protocol tests run both.
 *
 * Plain C99 + POSIX/Linux calls of the C library only, so that it builds with any gcc/cc and,
 * where the static C library is installed, links statically.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RLIMITS 16
#define EXEC_ERROR_CAP 4000
#define RELAY_CHUNK 65536

/* The Python init dies with a traceback and exit status 1 on any setup error; so does this one. */
static void die(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs("init: ", stderr);
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
  va_end(args);
  exit(1);
}

static const char USAGE[] =
    "usage: init --report=fds:S,O,E|framed:F [--rlimits=..] [--user=U:G] [--subreaper] -- COMMAND...";

struct program_rlimit {
  int resource;
  rlim_t soft, hard;
};

struct options {
  const char *report;
  const char *rlimits;
  const char *user;
  int subreaper;
  char **command;
};

/* Total user and system CPU time (us) and the largest peak RSS (KB) of every process reaped. */
static long long usage_user_us, usage_system_us, usage_max_rss_kb;

static void account(const struct rusage *usage) {
  usage_user_us += (long long)usage->ru_utime.tv_sec * 1000000 + usage->ru_utime.tv_usec;
  usage_system_us += (long long)usage->ru_stime.tv_sec * 1000000 + usage->ru_stime.tv_usec;
  if (usage->ru_maxrss > usage_max_rss_kb) usage_max_rss_kb = usage->ru_maxrss;
}

static long long monotonic_ns(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

static void write_all(int fd, const char *data, size_t length) {
  while (length > 0) {
    ssize_t written = write(fd, data, length);
    if (written < 0) {
      if (errno == EINTR) continue;
      die("write to fd %d: %s", fd, strerror(errno));
    }
    data += written;
    length -= (size_t)written;
  }
}

/* One frame of the 'framed' channel: type byte, 4-byte big-endian length, payload. */
static void write_frame(int fd, char kind, const char *data, size_t length) {
  unsigned char header[5] = {(unsigned char)kind, (unsigned char)(length >> 24), (unsigned char)(length >> 16),
                             (unsigned char)(length >> 8), (unsigned char)length};
  write_all(fd, (const char *)header, sizeof header);
  write_all(fd, data, length);
}

/* How reports go out: a line on the status fd, or an 'r' frame. */
static int report_framed;
static int report_fd;

static void report(const char *line) {
  size_t length = strlen(line);
  char *with_newline = malloc(length + 2);
  if (with_newline == NULL) die("out of memory");
  memcpy(with_newline, line, length);
  with_newline[length] = '\n';
  with_newline[length + 1] = '\0';
  if (report_framed) write_frame(report_fd, 'r', with_newline, length + 1);
  else write_all(report_fd, with_newline, length + 1);
  free(with_newline);
}

/* A JSON string: '"' and '\' escaped, control characters as \u00XX, every other byte as is. */
static char *json_quote(const char *text) {
  size_t length = strlen(text);
  char *out = malloc(length * 6 + 3);
  if (out == NULL) die("out of memory");
  char *cursor = out;
  *cursor++ = '"';
  for (const unsigned char *ch = (const unsigned char *)text; *ch; ch++) {
    if (*ch == '"' || *ch == '\\') {
      *cursor++ = '\\';
      *cursor++ = (char)*ch;
    } else if (*ch < 0x20) {
      cursor += sprintf(cursor, "\\u%04x", *ch);
    } else {
      *cursor++ = (char)*ch;
    }
  }
  *cursor++ = '"';
  *cursor = '\0';
  return out;
}

static long long parse_integer(const char *text, const char *what) {
  char *end;
  errno = 0;
  long long value = strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0') die("%s: not an integer: %s", what, text);
  return value;
}

static int rlimit_resource(const char *name) {
  static const struct {
    const char *name;
    int resource;
  } known[] = {{"CPU", RLIMIT_CPU},     {"FSIZE", RLIMIT_FSIZE}, {"NOFILE", RLIMIT_NOFILE}, {"CORE", RLIMIT_CORE},
               {"AS", RLIMIT_AS},       {"NPROC", RLIMIT_NPROC}, {"STACK", RLIMIT_STACK},   {"DATA", RLIMIT_DATA},
               {"MEMLOCK", RLIMIT_MEMLOCK}};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
    if (strcmp(known[i].name, name) == 0) return known[i].resource;
  }
  die("unknown rlimit %s", name);
  return -1;
}

/* "CPU:2:3,NOFILE:512:512" -> limits; returns how many. */
static int parse_rlimits(const char *spec, struct program_rlimit *limits) {
  int count = 0;
  char *copy = strdup(spec), *save = NULL;
  if (copy == NULL) die("out of memory");
  for (char *item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
    char *soft = strchr(item, ':');
    char *hard = soft == NULL ? NULL : strchr(soft + 1, ':');
    if (hard == NULL || strchr(hard + 1, ':') != NULL) die("bad rlimit %s", item);
    *soft++ = '\0';
    *hard++ = '\0';
    if (count == MAX_RLIMITS) die("too many rlimits");
    limits[count].resource = rlimit_resource(item);
    /* -1 is RLIM_INFINITY, as for Python's resource.setrlimit. */
    limits[count].soft = (rlim_t)parse_integer(soft, "rlimit");
    limits[count].hard = (rlim_t)parse_integer(hard, "rlimit");
    count++;
  }
  free(copy);
  return count;
}

static void parse_options(int argc, char **argv, struct options *options) {
  int index = 1;
  memset(options, 0, sizeof *options);
  for (; index < argc && strcmp(argv[index], "--") != 0; index++) {
    const char *arg = argv[index];
    if (strncmp(arg, "--report=", 9) == 0) options->report = arg + 9;
    else if (strncmp(arg, "--rlimits=", 10) == 0) options->rlimits = arg + 10;
    else if (strncmp(arg, "--user=", 7) == 0) options->user = arg + 7;
    else if (strcmp(arg, "--subreaper") == 0) options->subreaper = 1;
    else die("unknown option %s", arg);
  }
  if (index + 1 >= argc || options->report == NULL) die("%s", USAGE);
  options->command = argv + index + 1;
}

static void set_cloexec(int fd) {
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) die("fd %d: %s", fd, strerror(errno));
}

static void make_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) die("pipe: %s", strerror(errno));
}

static void set_disposition(int sig, void (*handler)(int)) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  if (sigaction(sig, &action, NULL) != 0) die("sigaction(%d): %s", sig, strerror(errno));
}

static void on_sigchld(int sig) { (void)sig; }

/* In the forked child: writes what failed to the exec-error pipe and ends with 127. */
static void child_failed(int error_fd, const char *program, const char *step) {
  char message[EXEC_ERROR_CAP + 1];
  int length = snprintf(message, sizeof message, "%s: %s: %s", program, step, strerror(errno));
  if (length > EXEC_ERROR_CAP) length = EXEC_ERROR_CAP;
  if (length > 0) {
    ssize_t ignored = write(error_fd, message, (size_t)length);
    (void)ignored;
  }
  _exit(127);
}

/*
 * The program's side of the fork: its stdout/stderr, default signal dispositions and mask, no
 * new privileges, the unprivileged user, the rlimits, then exec. Nothing here returns.
 */
static void start_program(char **command, int out_fd, int err_fd, int error_fd, const sigset_t *original_mask,
                          int have_user, uid_t uid, gid_t gid, const struct program_rlimit *limits, int limit_count) {
  if (dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) child_failed(error_fd, command[0], "dup2");
  /* The init ignores SIGPIPE and SIGXFSZ (as Python does) and may have inherited ignored ones. */
  int defaults[] = {SIGPIPE, SIGXFSZ, SIGINT, SIGCHLD};
  for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) signal(defaults[i], SIG_DFL);
  sigprocmask(SIG_SETMASK, original_mask, NULL);
  /* No privilege can be gained from here on: setuid/setcap files are plain files. */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_failed(error_fd, command[0], "prctl(PR_SET_NO_NEW_PRIVS)");
  if (have_user) {
    /* Empty the bounding set where the init may (CAP_SETPCAP), then drop to the user, which
       clears the permitted and effective sets. EINVAL past the last capability is expected. */
    for (int cap = 0; cap < 64; cap++) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    if (setgroups(0, NULL) != 0) child_failed(error_fd, command[0], "setgroups");
    if (setgid(gid) != 0) child_failed(error_fd, command[0], "setgid");
    if (setuid(uid) != 0) child_failed(error_fd, command[0], "setuid");
  }
  for (int i = 0; i < limit_count; i++) {
    struct rlimit value = {limits[i].soft, limits[i].hard};
    if (setrlimit(limits[i].resource, &value) != 0) child_failed(error_fd, command[0], "setrlimit");
  }
  execv(command[0], command);
  child_failed(error_fd, command[0], "exec");
}

/* Processes whose parent is `parent` (orphans are reparented to a subreaper); SIGKILLs each. */
static void kill_children_of(pid_t parent) {
  DIR *proc = opendir("/proc");
  if (proc == NULL) die("/proc: %s", strerror(errno));
  struct dirent *entry;
  while ((entry = readdir(proc)) != NULL) {
    const char *name = entry->d_name;
    if (name[0] < '0' || name[0] > '9') continue;
    char path[300], stat[512];
    snprintf(path, sizeof path, "/proc/%s/stat", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t length = read(fd, stat, sizeof stat - 1);
    close(fd);
    if (length <= 0) continue;
    stat[length] = '\0';
    /* "pid (comm) state ppid ...": comm may contain anything, so parse after the last ')'. */
    char *after = strrchr(stat, ')');
    char state;
    int ppid;
    if (after == NULL || sscanf(after + 1, " %c %d", &state, &ppid) != 2) continue;
    if (ppid == parent) kill((pid_t)atoi(name), SIGKILL);
  }
  closedir(proc);
}

/* SIGKILLs and reaps every process left; returns how many there were. */
static int kill_leftovers(int am_pid1) {
  int count = 0;
  pid_t me = getpid();
  for (;;) {
    if (am_pid1) kill(-1, SIGKILL); /* every process of the namespace but the init itself */
    else kill_children_of(me);
    int status;
    struct rusage usage;
    pid_t reaped = wait4(-1, &status, WNOHANG, &usage);
    if (reaped < 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) return count;
      die("wait4: %s", strerror(errno));
    }
    if (reaped == 0) {
      struct timespec pause = {0, 2 * 1000 * 1000};
      nanosleep(&pause, NULL);
      continue;
    }
    count++;
    account(&usage);
  }
}

/* The 'framed' channel's relay: the program's stdout and stderr pipes, until their EOF. */
struct relay {
  int fds[2];
  char kinds[2];
  int open;
};

static void relay_once(struct relay *relay, int index, int frame_fd) {
  static char buffer[RELAY_CHUNK];
  ssize_t length = read(relay->fds[index], buffer, sizeof buffer);
  if (length < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (length > 0) {
    write_frame(frame_fd, relay->kinds[index], buffer, (size_t)length);
    return;
  }
  close(relay->fds[index]);
  relay->fds[index] = -1;
  relay->open--;
}

/* Waits up to timeout_ms for output (or, with `wake` unblocked, SIGCHLD) and relays what came. */
static void relay_poll(struct relay *relay, int frame_fd, int timeout_ms, const sigset_t *wake) {
  struct pollfd polled[2];
  int which[2], count = 0;
  for (int i = 0; i < 2; i++) {
    if (relay->fds[i] < 0) continue;
    polled[count].fd = relay->fds[i];
    polled[count].events = POLLIN;
    which[count++] = i;
  }
  struct timespec timeout = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
  int ready = ppoll(polled, (nfds_t)count, &timeout, wake);
  if (ready < 0) {
    if (errno == EINTR) return;
    die("ppoll: %s", strerror(errno));
  }
  for (int i = 0; i < count; i++) {
    if (polled[i].revents != 0) relay_once(relay, which[i], frame_fd);
  }
}

int main(int argc, char **argv) {
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) die("prctl(PR_SET_DUMPABLE, 0) failed");

  struct options options;
  parse_options(argc, argv, &options);
  struct program_rlimit limits[MAX_RLIMITS];
  int limit_count = options.rlimits == NULL ? 0 : parse_rlimits(options.rlimits, limits);
  int have_user = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  if (options.user != NULL && options.user[0] != '\0') {
    char *copy = strdup(options.user);
    char *colon = copy == NULL ? NULL : strchr(copy, ':');
    if (colon == NULL) die("bad --user %s", options.user);
    *colon = '\0';
    uid = (uid_t)parse_integer(copy, "--user");
    gid = (gid_t)parse_integer(colon + 1, "--user");
    free(copy);
    have_user = 1;
  }
  if (options.subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) die("prctl(PR_SET_CHILD_SUBREAPER) failed");
  int am_pid1 = getpid() == 1;

  /* Like the Python init: SIGPIPE and SIGXFSZ ignored (a closed channel is an error, not a death),
     SIGINT default. The program gets all three back at their defaults. */
  sigset_t original_mask;
  sigprocmask(SIG_SETMASK, NULL, &original_mask);
  set_disposition(SIGPIPE, SIG_IGN);
  set_disposition(SIGXFSZ, SIG_IGN);
  set_disposition(SIGINT, SIG_DFL);

  int out_fd, err_fd;
  struct relay relay = {{-1, -1}, {'o', 'e'}, 0};
  sigset_t wake_mask; /* the mask during ppoll: SIGCHLD unblocked, so it interrupts the wait */
  if (strncmp(options.report, "fds:", 4) == 0) {
    int status_fd;
    char trailing;
    if (sscanf(options.report + 4, "%d,%d,%d%c", &status_fd, &out_fd, &err_fd, &trailing) != 3) {
      die("bad --report %s", options.report);
    }
    set_cloexec(status_fd);
    set_cloexec(out_fd);
    set_cloexec(err_fd);
    report_fd = status_fd;
  } else if (strncmp(options.report, "framed:", 7) == 0) {
    report_framed = 1;
    report_fd = (int)parse_integer(options.report + 7, "--report");
    set_cloexec(report_fd);
    int out_pipe[2], err_pipe[2];
    make_pipe(out_pipe);
    make_pipe(err_pipe);
    relay.fds[0] = out_pipe[0];
    relay.fds[1] = err_pipe[0];
    relay.open = 2;
    out_fd = out_pipe[1];
    err_fd = err_pipe[1];
    /* SIGCHLD stays blocked except inside ppoll, so a child's end cannot slip between the
       non-blocking wait4 and the poll (the Python init uses a wake-up fd for the same). */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    set_disposition(SIGCHLD, on_sigchld);
    sigprocmask(SIG_SETMASK, NULL, &wake_mask);
    sigdelset(&wake_mask, SIGCHLD);
  } else {
    const char *colon = strchr(options.report, ':');
    die("unknown report mode %.*s", colon == NULL ? (int)strlen(options.report) : (int)(colon - options.report),
        options.report);
  }

  int exec_error[2]; /* close-on-exec: EOF means exec succeeded */
  make_pipe(exec_error);

  long long started = monotonic_ns();
  pid_t pid = fork();
  if (pid < 0) die("fork: %s", strerror(errno));
  if (pid == 0) {
    close(exec_error[0]);
    start_program(options.command, out_fd, err_fd, exec_error[1], &original_mask, have_user, uid, gid, limits,
                  limit_count);
  }
  close(exec_error[1]);
  close(out_fd);
  close(err_fd);
  char exec_message[EXEC_ERROR_CAP + 1];
  size_t exec_length = 0;
  for (;;) {
    ssize_t chunk = read(exec_error[0], exec_message + exec_length, EXEC_ERROR_CAP - exec_length);
    if (chunk < 0 && errno == EINTR) continue;
    if (chunk <= 0) break;
    exec_length += (size_t)chunk;
    if (exec_length == EXEC_ERROR_CAP) break;
  }
  close(exec_error[0]);
  if (exec_length > 0) {
    exec_message[exec_length] = '\0';
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    char *quoted = json_quote(exec_message);
    char *line = malloc(strlen(quoted) + 16);
    if (line == NULL) die("out of memory");
    sprintf(line, "{\"execError\":%s}", quoted);
    report(line);
    return 0;
  }
  report("{\"event\":\"started\"}");

  int main_status = 0, main_ended = 0;
  for (;;) {
    int status;
    struct rusage usage;
    pid_t reaped = wait4(-1, &status, report_framed ? WNOHANG : 0, &usage);
    if (reaped < 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) break;
      die("wait4: %s", strerror(errno));
    }
    if (reaped > 0) {
      account(&usage);
      if (reaped == pid) {
        main_status = status;
        main_ended = 1;
        break;
      }
      continue;
    }
    /* framed, nothing to reap: relay output until a child ends (SIGCHLD) or a second passes */
    relay_poll(&relay, report_fd, 1000, &wake_mask);
  }
  long long wall_us = (monotonic_ns() - started) / 1000;

  /* The program's main process is gone: nothing it started may outlive it. */
  int leftovers = kill_leftovers(am_pid1);

  /* Every writer is dead: relay what is still in the pipes, up to their EOF. */
  long long deadline = monotonic_ns() + 2000000000LL;
  while (relay.open > 0 && monotonic_ns() < deadline) relay_poll(&relay, report_fd, 100, NULL);

  if (!main_ended) {
    report("{\"execError\":\"init lost its child\"}");
    return 0;
  }
  char exit_code[16] = "null", signal_number[16] = "null";
  if (WIFEXITED(main_status)) snprintf(exit_code, sizeof exit_code, "%d", WEXITSTATUS(main_status));
  if (WIFSIGNALED(main_status)) snprintf(signal_number, sizeof signal_number, "%d", WTERMSIG(main_status));
  char line[256];
  snprintf(line, sizeof line,
           "{\"exitCode\":%s,\"signal\":%s,\"userUs\":%lld,\"systemUs\":%lld,\"maxRssKb\":%lld,\"wallUs\":%lld,"
           "\"leftovers\":%d}",
           exit_code, signal_number, usage_user_us, usage_system_us, usage_max_rss_kb, wall_us, leftovers);
  report(line);
  return 0;
}
