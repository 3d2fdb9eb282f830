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
 *                     --pid-file the pid file is DIR/stub.pids; and
 *                     DIR/stub.keyring holds its session keyring's id.
 *   --plant-devtools-fifo
 *                     play a hostile browser: where DIR/DevToolsActivePort
 *                     goes, make a FIFO instead (an open(2) for reading
 *                     would wait for a writer that never comes); still listen
 *   --plant-devtools-symlink TARGET
 *                     the same with a symlink to TARGET (root would read it)
 *   --hold-websockets when playing DevTools: answer a WebSocket upgrade with
 *                     101 and hold the connection, echoing what comes, until
 *                     the client closes it (many at once), as Chrome keeps a
 *                     DevTools client; the stub itself never sends first
 *   --version         print "Stub 1.0" and exit, before anything else
 *   --deep-json PATH  play a hostile browser: answer requests for PATH
 *                     (e.g. /json/list) with 100,000 nested arrays, the
 *                     body of issue 19 that stopped corrald
 * Options accept "--opt VALUE" and "--opt=VALUE".  Unknown arguments (e.g.
 * Chrome flags such as --headless, --user-data-dir=DIR,
 * --remote-debugging-port=0) are ignored.  Nothing else is printed on stdout;
 * errors go to stderr (exit status 2 for bad usage, 1 for runtime errors).
 *
 * Build: cc -std=c11 -Wall -Wextra -O2 -o stub_browser stub_*.c
 * (stub_tree.c: the process tree; stub_devtools.c: playing DevTools;
 * stub_util.c: errors, time and option parsing).
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

#include "stub.h"

/* What the command line asked for. */
struct options {
    long n_children, n_spin, alloc_mb, bomb_max;
    const char *pid_file;
    double exit_after, crash_after;
    bool fork_bomb;
    const char *user_data_dir;
    bool devtools, plant_fifo;
    const char *plant_symlink;
    long claimed_port; /* --claim-devtools-port: name this port, not our own */
};

static const char *required_value(const char *opt, const char *v)
{
    if (!v || !*v)
        usage_error(opt, v);
    return v;
}

static bool parse_flag(char *arg, struct options *o)
{
    if (strcmp(arg, "--fork-bomb") == 0)
        o->fork_bomb = true;
    else if (strcmp(arg, "--plant-devtools-fifo") == 0)
        o->plant_fifo = true;
    else if (strcmp(arg, "--hold-websockets") == 0)
        hold_websockets = true;
    else if (strncmp(arg, "--user-data-dir=", 16) == 0)
        o->user_data_dir = arg + 16;
    else if (strcmp(arg, "--remote-debugging-port=0") == 0)
        o->devtools = true;
    else
        return false;
    return true;
}

static struct options parse_options(int argc, char **argv)
{
    struct options o = { .n_children = 3, .bomb_max = 2000, .exit_after = -1, .crash_after = -1 };
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (opt_value(argc, argv, &i, "--children", &v))
            o.n_children = parse_long("--children", v, 0, MAX_CHILDREN);
        else if (opt_value(argc, argv, &i, "--pid-file", &v))
            o.pid_file = required_value("--pid-file", v);
        else if (opt_value(argc, argv, &i, "--exit-after", &v))
            o.exit_after = parse_seconds("--exit-after", v);
        else if (opt_value(argc, argv, &i, "--crash-after", &v))
            o.crash_after = parse_seconds("--crash-after", v);
        else if (opt_value(argc, argv, &i, "--spin", &v))
            o.n_spin = parse_long("--spin", v, 0, MAX_CHILDREN);
        else if (opt_value(argc, argv, &i, "--allocate", &v))
            o.alloc_mb = parse_long("--allocate", v, 0, (long)(SIZE_MAX / (1024 * 1024)) - 1);
        else if (opt_value(argc, argv, &i, "--fork-bomb-max", &v))
            o.bomb_max = parse_long("--fork-bomb-max", v, 0, LONG_MAX);
        else if (opt_value(argc, argv, &i, "--plant-devtools-symlink", &v))
            o.plant_symlink = required_value("--plant-devtools-symlink", v);
        else if (opt_value(argc, argv, &i, "--deep-json", &v))
            deep_json_path = required_value("--deep-json", v);
        else if (opt_value(argc, argv, &i, "--claim-devtools-port", &v))
            o.claimed_port = atol(required_value("--claim-devtools-port", v));
        else
            parse_flag(argv[i], &o); /* anything else: ignored (Chrome flags etc.) */
    }
    return o;
}

/* Children, spinners, the escapee, and the pid file naming them all. */
static void build_tree(const struct options *o)
{
    for (long i = 0; i < o->n_children; i++)
        fork_child(sleep_forever);
    for (long i = 0; i < o->n_spin; i++)
        fork_child(spin_forever);
    fork_escapee();

    char default_pid_file[PATH_MAX];
    const char *pid_file = o->pid_file;
    if (!pid_file && o->user_data_dir) {
        snprintf(default_pid_file, sizeof default_pid_file, "%s/stub.pids", o->user_data_dir);
        pid_file = default_pid_file;
    }
    if (o->user_data_dir)
        write_keyring_file(o->user_data_dir);
    if (pid_file)
        write_pid_file(pid_file);
}

/* After the pid file: once DevTools "answers", every pid is on record.
 * Returns the listening socket, or -1 when not playing DevTools. */
static int start_devtools(const struct options *o, int *port)
{
    if (!o->devtools || !o->user_data_dir)
        return -1;
    int listener = listen_for_devtools(port);
    if (o->plant_fifo || o->plant_symlink)
        plant_devtools_active_port(o->user_data_dir, o->plant_symlink);
    else {
        /* A hostile browser, or a port another process took first: the
         * file names a port that is not ours. */
        write_devtools_active_port(o->user_data_dir, o->claimed_port ? (int)o->claimed_port : *port);
    }
    return listener;
}

static noreturn void end_main(bool crash)
{
    if (crash) {
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    }
    exit(0);
}

/* One more sleeping child, if the bomb may still fork; how long to nap. */
static double fork_bomb_step(const struct options *o, long *bombed)
{
    if (o->bomb_max == 0 || *bombed < o->bomb_max) {
        pid_t pid = fork();
        if (pid == 0)
            sleep_forever();
        if (pid > 0) {
            (*bombed)++;
            return 0;
        }
        /* EAGAIN (tasks limit) or ENOMEM: retry slowly */
    }
    return 0.1;
}

int main(int argc, char **argv)
{
    /* As Chrome: print the version and exit (corrald asks, for connect-to-launch). */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--version") == 0) {
            puts("Stub 1.0");
            return 0;
        }
    struct options o = parse_options(argc, argv);
    ignore_signals(); /* SIG_IGN is inherited by every fork */
    if (o.crash_after >= 0) {
        struct rlimit rl = { 0, 0 };
        setrlimit(RLIMIT_CORE, &rl);
    }
    build_tree(&o);
    int port = 0;
    int listener = start_devtools(&o, &port);

    double start = now_mono(), deadline = -1;
    bool crash = false;
    if (o.exit_after >= 0)
        deadline = start + o.exit_after;
    if (o.crash_after >= 0 && (deadline < 0 || start + o.crash_after < deadline)) {
        deadline = start + o.crash_after;
        crash = true;
    }
    bool answered = listener < 0; /* without DevTools nobody waits for us */
    if (o.alloc_mb > 0 && answered)
        allocate(o.alloc_mb);

    long bombed = 0;
    for (;;) {
        double now = now_mono();
        if (deadline >= 0 && now >= deadline)
            end_main(crash);
        double nap = o.fork_bomb ? fork_bomb_step(&o, &bombed) : 1.0;
        if (nap == 0)
            continue;
        if (deadline >= 0 && deadline - now < nap)
            nap = deadline - now;
        if (idle(nap, listener, port) && !answered) {
            answered = true;
            if (o.alloc_mb > 0)
                allocate(o.alloc_mb);
        }
    }
}
