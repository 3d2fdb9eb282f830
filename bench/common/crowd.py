#!/usr/bin/python3
"""A crowd of API connections, in a process of its own so that it takes no
time (and no GIL) from the bench's measuring client:

    crowd.py PORT COUNT idle|trickle

idle: COUNT connections that send nothing. trickle: COUNT connections that
each send a request line and a Host line, then one header line a second
and never the empty line (as tests/e2e/test_connections.py does). Prints
"ready N" (N connected) once all are open; ends, closing them all, when its
stdin closes or says anything."""
import os
import resource
import select
import socket
import sys
import time


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def connect_all(port, count):
    crowd = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.setblocking(False)
        crowd.append(sock)
    return crowd


def send_all(crowd, data):
    for sock in crowd:
        try:
            sock.send(data)  # a few bytes: room in the send buffer; a cut connection is left alone
        except OSError:
            pass


def main():
    port, count, kind = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    raise_fd_limit()
    crowd = connect_all(port, count)
    if kind == "trickle":
        send_all(crowd, b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    print(f"ready {len(crowd)}", flush=True)
    started, line = time.monotonic(), 0
    while True:
        line += 1
        wait = max(0.0, started + line - time.monotonic())
        if select.select([sys.stdin], [], [], wait)[0]:
            break  # told to stop, or the bench went away
        if kind == "trickle":
            send_all(crowd, b"X-Trickle-%d: a\r\n" % line)
    for sock in crowd:
        sock.close()
    os._exit(0)


if __name__ == "__main__":
    main()
