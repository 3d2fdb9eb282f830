/* The stub browser's process tree: children, spinners, a double-forked
 * setsid escapee, a pid file, memory that stays charged. */
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stub.h"

static pid_t made[2 * MAX_CHILDREN + 2];
static size_t n_made;

/* On a setup failure, do not leave half a tree behind. */
void kill_made(void)
{
    for (size_t i = 0; i < n_made; i++)
        if (made[i] > 0)
            kill(made[i], SIGKILL);
}

noreturn void sleep_forever(void)
{
    for (;;)
        pause();
}

noreturn void spin_forever(void)
{
    volatile uint64_t x = 0;
    for (;;)
        x++;
}

void ignore_signals(void)
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
pid_t fork_child(void (*fn)(void))
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

/*
 * Double fork: an intermediate child forks the escapee and exits at once.
 * The escapee calls setsid() and reports its own pid through a pipe, so the
 * pid we record is the one the process itself sees.  Once we have reaped
 * the intermediate child, the escapee has already been reparented.
 */
pid_t fork_escapee(void)
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

void write_pid_file(const char *path)
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

void allocate(long mb)
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

/* The serial number of the session keyring this process has, or "none",
 * in DIR/stub.keyring: whether a session shares a keyring with corrald or
 * another session shows there (keyctl(2): KEYCTL_GET_KEYRING_ID of
 * KEY_SPEC_SESSION_KEYRING, never creating one). */
void write_keyring_file(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/stub.keyring", dir);
    long id = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3L /* session */, 0L);
    FILE *f = fopen(path, "w");
    if (!f)
        die(path);
    if (id < 0)
        fprintf(f, "none\n");
    else
        fprintf(f, "%ld\n", id);
    if (fclose(f) != 0)
        die(path);
}
