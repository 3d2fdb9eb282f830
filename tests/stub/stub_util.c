/* The stub browser's errors, time and option parsing. */
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

const char *prog = "stub_browser";

void die(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
    kill_made();
    exit(1);
}

void usage_error(const char *opt, const char *val)
{
    fprintf(stderr, "%s: bad value for %s: '%s'\n", prog, opt, val ? val : "(missing)");
    kill_made();
    exit(2);
}

double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sleep_seconds(double s)
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

long parse_long(const char *opt, const char *val, long min, long max)
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

double parse_seconds(const char *opt, const char *val)
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
bool opt_value(int argc, char **argv, int *i, const char *name, const char **val)
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

int write_all(int fd, const void *buf, size_t len)
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
