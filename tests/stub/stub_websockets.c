/* The stub browser holding WebSocket connections (--hold-websockets), as
 * Chrome holds a DevTools client: an upgrade is answered 101 and the
 * connection kept, echoing whatever comes, until the client closes it. Any
 * other request gets the /json/version answer. Many connections at once, on
 * one poll(2). */
#define _GNU_SOURCE /* accept4, strcasestr */

#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stub.h"

#define MAX_HELD 4096

static int held[MAX_HELD];
static int n_held;

/* A new client: upgraded and held, or answered and closed. */
static bool take_client(int listener, int port)
{
    int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (client < 0)
        return false;
    char request[4096];
    read_request(client, request, sizeof request);
    if (strcasestr(request, "upgrade: websocket") && n_held < MAX_HELD) {
        static const char upgraded[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                       "Connection: Upgrade\r\n\r\n";
        (void)write_all(client, upgraded, sizeof upgraded - 1);
        held[n_held++] = client;
        return true;
    }
    answer_version(client, port);
    close(client);
    return true;
}

/* Echo what a held client sent; false once it has closed (or failed). */
static bool echo(int fd)
{
    char bytes[4096];
    ssize_t n = read(fd, bytes, sizeof bytes);
    return n > 0 && write_all(fd, bytes, (size_t)n) == 0;
}

bool idle_holding_websockets(double seconds, int listener, int port)
{
    static struct pollfd fds[MAX_HELD + 1];
    fds[0] = (struct pollfd){ listener, POLLIN, 0 };
    for (int i = 0; i < n_held; i++)
        fds[i + 1] = (struct pollfd){ held[i], POLLIN, 0 };
    int watched = n_held;
    if (poll(fds, (nfds_t)watched + 1, (int)(seconds * 1000)) <= 0)
        return false;
    /* Closed ones leave from the back, so the indexes still ahead stay right. */
    for (int i = watched - 1; i >= 0; i--) {
        if (!fds[i + 1].revents || echo(held[i]))
            continue;
        close(held[i]);
        held[i] = held[--n_held];
    }
    return fds[0].revents ? take_client(listener, port) : false;
}
