/*
 * stub_browser: a fake "browser" for the corral test suite.
 *
 * It builds a process tree that is hard to clean up, so that tests can prove
 * that corral's cleanup kills everything:
 *   - SIGTERM, SIGHUP and SIGINT are ignored in every process it makes;
 *   - N children that sleep forever (like renderers/zygotes);
 *   - one double-forked grandchild that calls setsid() and is reparented
 *     away (to PID 1 or the nearest subreaper), like chrome_crashpad_handler.
 *
 * Usage: stub_browser [OPTIONS] [ANYTHING...]
 *   --children N      sleeping children to fork (default 3)
 *   --pid-file PATH   write all pids, one per line, to PATH once they all
 *                     exist (written to PATH.tmp, then renamed).  Order:
 *                       line 1            the main process
 *                       next N lines      the children
 *                       next S lines      the spinners (--spin S)
 *                       last line         the escapee (setsid grandchild)
 *   --exit-after SEC  main process exits with status 0 after SEC seconds
 *                     (fractions allowed), leaving the others running
 *   --crash-after SEC main process raises SIGSEGV after SEC seconds (core
 *                     dumps are disabled first with RLIMIT_CORE=0)
 *   --fork-bomb       after writing the pid file, main keeps forking
 *                     sleeping children until fork() fails, then retries
 *                     every 100 ms; never exits on its own.  Safety cap:
 *                     stops forking (but keeps looping) after
 *                     --fork-bomb-max N children (default 2000, 0 = no cap),
 *                     so a host without an enforced pids limit survives.
 *   --spin N          N extra child processes that spin on the CPU
 *   --allocate MB     after writing the pid file (and, when playing DevTools,
 *                     after answering the first request, so the daemon sees
 *                     the browser ready before a cap can kill it), main
 *                     allocates MB MiB and writes to every page, then goes
 *                     on sleeping
 *   --user-data-dir=DIR with --remote-debugging-port=0 (as corrald starts a
 *                     browser): play Chrome's DevTools start-up. Listen on
 *                     127.0.0.1:0, write DIR/DevToolsActivePort, and answer
 *                     every HTTP request with a /json/version body. Without
 *                     --pid-file the pid file is DIR/stub.pids.
 *   --plant-devtools-fifo
 *                     play a hostile browser: where DIR/DevToolsActivePort
 *                     goes, make a FIFO instead (an open(2) for reading
 *                     would wait for a writer that never comes); still listen
 *   --plant-devtools-symlink TARGET
 *                     the same with a symlink to TARGET (root would read it)
 * Options accept "--opt VALUE" and "--opt=VALUE".  Unknown arguments (e.g.
 * Chrome flags such as --headless, --user-data-dir=DIR,
 * --remote-debugging-port=0) are ignored.  Nothing is printed on stdout;
 * errors go to stderr (exit status 2 for bad usage, 1 for runtime errors).
 *
 * Build: cc -std=c11 -Wall -Wextra -O2 -o stub_browser stub_browser.c
 */
#define _GNU_SOURCE /* pipe2 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdnoreturn.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHILDREN 4096

static const char *prog = "stub_browser";

static pid_t made[2 * MAX_CHILDREN + 2];
static size_t n_made;

/* On a setup failure, do not leave half a tree behind. */
static void kill_made(void)
{
    for (size_t i = 0; i < n_made; i++)
        if (made[i] > 0)
            kill(made[i], SIGKILL);
}

static void die(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
    kill_made();
    exit(1);
}

static void usage_error(const char *opt, const char *val)
{
    fprintf(stderr, "%s: bad value for %s: '%s'\n", prog, opt, val ? val : "(missing)");
    kill_made();
    exit(2);
}

static noreturn void sleep_forever(void)
{
    for (;;)
        pause();
}

static noreturn void spin_forever(void)
{
    volatile uint64_t x = 0;
    for (;;)
        x++;
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_seconds(double s)
{
    if (s <= 0)
        return;
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_nsec = 999999999L;
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static long parse_long(const char *opt, const char *val, long min, long max)
{
    if (!val || !*val)
        usage_error(opt, val);
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || *end || v < min || v > max)
        usage_error(opt, val);
    return v;
}

static double parse_seconds(const char *opt, const char *val)
{
    if (!val || !*val)
        usage_error(opt, val);
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (errno || *end || !(v >= 0) || v > 1e9)
        usage_error(opt, val);
    return v;
}

/* Matches "--name VALUE" (consuming the next argument) or "--name=VALUE". */
static bool opt_value(int argc, char **argv, int *i, const char *name, const char **val)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return false;
    if (argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return true;
    }
    if (argv[*i][n] != '\0')
        return false;
    *val = (*i + 1 < argc) ? argv[++*i] : NULL;
    return true;
}

static void ignore_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = { SIGTERM, SIGHUP, SIGINT };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], &sa, NULL) == -1)
            die("sigaction");
}

/* Fork a child that runs fn; returns its pid. */
static pid_t fork_child(void (*fn)(void))
{
    pid_t pid = fork();
    if (pid == -1)
        die("fork");
    if (pid == 0) {
        fn();
        _exit(0); /* not reached */
    }
    made[n_made++] = pid;
    return pid;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/*
 * Double fork: an intermediate child forks the escapee and exits at once.
 * The escapee calls setsid() and reports its own pid through a pipe, so the
 * pid we record is the one the process itself sees.  Once we have reaped
 * the intermediate child, the escapee has already been reparented.
 */
static pid_t fork_escapee(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) == -1)
        die("pipe2");
    pid_t mid = fork();
    if (mid == -1)
        die("fork");
    if (mid == 0) {
        close(p[0]);
        pid_t g = fork();
        if (g == -1)
            _exit(1);
        if (g > 0)
            _exit(0);
        /* escapee */
        if (setsid() == -1)
            _exit(1);
        pid_t me = getpid();
        if (write_all(p[1], &me, sizeof me) == -1)
            _exit(1);
        close(p[1]);
        sleep_forever();
    }
    close(p[1]);
    int st;
    while (waitpid(mid, &st, 0) == -1) {
        if (errno != EINTR)
            die("waitpid");
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        errno = ECHILD;
        die("double fork of the escapee");
    }
    pid_t esc = 0;
    size_t got = 0;
    while (got < sizeof esc) {
        ssize_t r = read(p[0], (char *)&esc + got, sizeof esc - got);
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0) {
            errno = r == 0 ? EPIPE : errno;
            die("reading the escapee's pid");
        }
        got += (size_t)r;
    }
    close(p[0]);
    made[n_made++] = esc;
    return esc;
}

static void write_pid_file(const char *path)
{
    size_t len = strlen(path);
    char *tmp = malloc(len + 5);
    if (!tmp)
        die("malloc");
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp", 5);

    FILE *f = fopen(tmp, "w");
    if (!f)
        die(tmp);
    fprintf(f, "%ld\n", (long)getpid());
    for (size_t i = 0; i < n_made; i++)
        fprintf(f, "%ld\n", (long)made[i]);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        int e = errno;
        fclose(f);
        unlink(tmp);
        errno = e;
        die(tmp);
    }
    if (fclose(f) != 0) {
        unlink(tmp);
        die(tmp);
    }
    if (rename(tmp, path) == -1) {
        unlink(tmp);
        die(path);
    }
    free(tmp);
}

static void allocate(long mb)
{
    size_t len = (size_t)mb * 1024 * 1024;
    if (len == 0)
        return;
    char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        die("mmap for --allocate");
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        page = 4096;
    for (size_t off = 0; off < len; off += (size_t)page)
        mem[off] = (char)(off / (size_t)page + 1);
    /* never freed: the memory stays charged while the process lives */
}

/* A listening socket on 127.0.0.1:0, as Chrome's --remote-debugging-port=0. */
static int listen_for_devtools(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
        die("devtools socket");
    *port = ntohs(addr.sin_port);
    return fd;
}

/* Chrome writes "<port>\n<browser ws path>\n" once DevTools listens. */
static void write_devtools_active_port(const char *dir, int port)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/DevToolsActivePort", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        die(tmp);
    fprintf(f, "%d\n/devtools/browser/stub\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        die(path);
}

/* What a hostile browser can leave in its own profile where corrald, as
 * root, looks for DevToolsActivePort: a FIFO, or a symlink to TARGET. */
static void plant_devtools_active_port(const char *dir, const char *symlink_target)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/DevToolsActivePort", dir);
    if (symlink_target ? symlink(symlink_target, path) != 0 : mkfifo(path, 0600) != 0)
        die(path);
}

/* Answer one HTTP request with a /json/version body, whatever was asked.
 * Returns whether a request was answered. */
static bool serve_devtools_request(int listener, int port)
{
    int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (client < 0)
        return false;
    char request[4096];
    struct pollfd pfd = { client, POLLIN, 0 };
    if (poll(&pfd, 1, 1000) > 0)
        (void)!read(client, request, sizeof request);
    char body[256], response[512];
    int n = snprintf(body, sizeof body,
                     "{\"Browser\":\"Stub/1.0\",\"webSocketDebuggerUrl\":"
                     "\"ws://127.0.0.1:%d/devtools/browser/stub\"}",
                     port);
    int m = snprintf(response, sizeof response,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                     n, body);
    (void)write_all(client, response, (size_t)m);
    close(client);
    return true;
}

/* Sleep up to `seconds`, serving DevTools requests meanwhile if listening.
 * Returns whether a DevTools request was answered. */
static bool idle(double seconds, int listener, int port)
{
    if (listener < 0) {
        sleep_seconds(seconds);
        return false;
    }
    struct pollfd pfd = { listener, POLLIN, 0 };
    if (poll(&pfd, 1, (int)(seconds * 1000)) > 0)
        return serve_devtools_request(listener, port);
    return false;
}

int main(int argc, char **argv)
{
    long n_children = 3, n_spin = 0, alloc_mb = 0, bomb_max = 2000;
    const char *pid_file = NULL;
    double exit_after = -1, crash_after = -1;
    bool fork_bomb = false;
    const char *user_data_dir = NULL;
    bool devtools = false, plant_fifo = false;
    const char *plant_symlink = NULL;

    for (int i = 1; i < argc; i++) {
        const char *v;
        if (opt_value(argc, argv, &i, "--children", &v))
            n_children = parse_long("--children", v, 0, MAX_CHILDREN);
        else if (opt_value(argc, argv, &i, "--pid-file", &v)) {
            if (!v || !*v)
                usage_error("--pid-file", v);
            pid_file = v;
        } else if (opt_value(argc, argv, &i, "--exit-after", &v))
            exit_after = parse_seconds("--exit-after", v);
        else if (opt_value(argc, argv, &i, "--crash-after", &v))
            crash_after = parse_seconds("--crash-after", v);
        else if (opt_value(argc, argv, &i, "--spin", &v))
            n_spin = parse_long("--spin", v, 0, MAX_CHILDREN);
        else if (opt_value(argc, argv, &i, "--allocate", &v))
            alloc_mb = parse_long("--allocate", v, 0, (long)(SIZE_MAX / (1024 * 1024)) - 1);
        else if (opt_value(argc, argv, &i, "--fork-bomb-max", &v))
            bomb_max = parse_long("--fork-bomb-max", v, 0, LONG_MAX);
        else if (strcmp(argv[i], "--fork-bomb") == 0)
            fork_bomb = true;
        else if (strcmp(argv[i], "--plant-devtools-fifo") == 0)
            plant_fifo = true;
        else if (opt_value(argc, argv, &i, "--plant-devtools-symlink", &v)) {
            if (!v || !*v)
                usage_error("--plant-devtools-symlink", v);
            plant_symlink = v;
        }
        else if (strncmp(argv[i], "--user-data-dir=", 16) == 0)
            user_data_dir = argv[i] + 16;
        else if (strcmp(argv[i], "--remote-debugging-port=0") == 0)
            devtools = true;
        /* anything else: ignored (Chrome flags etc.) */
    }

    ignore_signals(); /* SIG_IGN is inherited by every fork */

    if (crash_after >= 0) {
        struct rlimit rl = { 0, 0 };
        setrlimit(RLIMIT_CORE, &rl);
    }

    for (long i = 0; i < n_children; i++)
        fork_child(sleep_forever);
    for (long i = 0; i < n_spin; i++)
        fork_child(spin_forever);
    fork_escapee();

    char default_pid_file[PATH_MAX];
    if (!pid_file && user_data_dir) {
        snprintf(default_pid_file, sizeof default_pid_file, "%s/stub.pids", user_data_dir);
        pid_file = default_pid_file;
    }
    if (pid_file)
        write_pid_file(pid_file);

    /* After the pid file: once DevTools "answers", every pid is on record. */
    int listener = -1, port = 0;
    if (devtools && user_data_dir) {
        listener = listen_for_devtools(&port);
        if (plant_fifo || plant_symlink)
            plant_devtools_active_port(user_data_dir, plant_symlink);
        else
            write_devtools_active_port(user_data_dir, port);
    }

    double start = now_mono();
    double deadline = -1;
    bool crash = false;
    if (exit_after >= 0)
        deadline = start + exit_after;
    if (crash_after >= 0 && (deadline < 0 || start + crash_after < deadline)) {
        deadline = start + crash_after;
        crash = true;
    }

    bool answered = listener < 0; /* without DevTools nobody waits for us */
    if (alloc_mb > 0 && answered)
        allocate(alloc_mb);

    long bombed = 0;
    for (;;) {
        double now = now_mono();
        if (deadline >= 0 && now >= deadline) {
            if (crash) {
                signal(SIGSEGV, SIG_DFL);
                raise(SIGSEGV);
            }
            exit(0);
        }
        double nap = 1.0;
        if (fork_bomb) {
            if (bomb_max == 0 || bombed < bomb_max) {
                pid_t pid = fork();
                if (pid == 0)
                    sleep_forever();
                if (pid > 0) {
                    bombed++;
                    continue;
                }
                /* EAGAIN (tasks limit) or ENOMEM: retry slowly */
            }
            nap = 0.1;
        }
        if (deadline >= 0 && deadline - now < nap)
            nap = deadline - now;
        if (idle(nap, listener, port) && !answered) {
            answered = true;
            if (alloc_mb > 0)
                allocate(alloc_mb);
        }
    }
}
