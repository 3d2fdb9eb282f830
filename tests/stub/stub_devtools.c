/* The stub browser playing Chrome's DevTools start-up: a listening port,
 * DevToolsActivePort in the profile, /json/version answers; or, for the
 * hostile cases, a FIFO or symlink planted where that file goes. */
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

/* A listening socket on 127.0.0.1:0, as Chrome's --remote-debugging-port=0. */
int listen_for_devtools(int *port)
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
void write_devtools_active_port(const char *dir, int port)
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
void plant_devtools_active_port(const char *dir, const char *symlink_target)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/DevToolsActivePort", dir);
    if (symlink_target ? symlink(symlink_target, path) != 0 : mkfifo(path, 0600) != 0)
        die(path);
}

const char *deep_json_path;

enum { DEEP_LEVELS = 100000 };

/* Whether the request line ("GET /json/list HTTP/1.1") asks for PATH. */
static bool asks_for(const char *request, const char *path)
{
    const char *target = strchr(request, ' ');
    size_t n = strlen(path);
    return target && strncmp(target + 1, path, n) == 0 && (target[1 + n] == ' ' || target[1 + n] == '?');
}

/* The hostile answer: DEEP_LEVELS "[" then as many "]", as JSON. */
static void answer_deep(int client)
{
    static char body[2 * DEEP_LEVELS];
    memset(body, '[', DEEP_LEVELS);
    memset(body + DEEP_LEVELS, ']', DEEP_LEVELS);
    char head[256];
    int m = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: %d\r\nConnection: close\r\n\r\n",
                     (int)sizeof body);
    (void)write_all(client, head, (size_t)m);
    (void)write_all(client, body, sizeof body);
}

bool hold_websockets;

/* Read what a new client sent within a second (a request head, as one
 * read gives it on loopback), NUL-terminated. */
void read_request(int client, char *request, size_t size)
{
    ssize_t n = 0;
    struct pollfd pfd = { client, POLLIN, 0 };
    if (poll(&pfd, 1, 1000) > 0)
        n = read(client, request, size - 1);
    request[n > 0 ? n : 0] = '\0';
}

/* Answer one HTTP request with a /json/version body, whatever was asked
 * (but see --deep-json). Returns whether a request was answered. */
bool serve_devtools_request(int listener, int port)
{
    int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (client < 0)
        return false;
    char request[4096];
    read_request(client, request, sizeof request);
    if (deep_json_path && asks_for(request, deep_json_path))
        answer_deep(client);
    else
        answer_version(client, port);
    close(client);
    return true;
}

/* The /json/version answer, on a connection that then closes. */
void answer_version(int client, int port)
{
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
}

/* Sleep up to `seconds`, serving DevTools requests meanwhile if listening.
 * Returns whether a DevTools request was answered. */
bool idle(double seconds, int listener, int port)
{
    if (listener < 0) {
        sleep_seconds(seconds);
        return false;
    }
    if (hold_websockets)
        return idle_holding_websockets(seconds, listener, port);
    struct pollfd pfd = { listener, POLLIN, 0 };
    if (poll(&pfd, 1, (int)(seconds * 1000)) > 0)
        return serve_devtools_request(listener, port);
    return false;
}
