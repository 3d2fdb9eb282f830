"""Measurement 6b: the API's latency while a crowd holds connections open.
GET /v1/health, sequentially on keep-alive connections opened for it, with no
crowd, with 1,000 connections that send nothing, and with 300 that trickle
one header line a second. The crowd runs in a process of its own
(common/crowd.py); corrald cuts a connection that sends nothing for 5 s
and a request not whole within 10 s, so each round opens its crowd anew
and measures at once, well within that."""
import os
import resource
import socket
import subprocess
import sys
import time

from common.stats import quantile

CROWD_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "common", "crowd.py")
VARIANTS = ("none", "idle", "trickle")
REQUEST = b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
GAP_S = 0.01  # between requests: 200 of them span about 2 s, across the trickle's lines
REQUESTS_PER_CONNECTION = 20  # then the bench opens a new connection (corrald would keep it)


def raise_fd_limit():
    """The bench and its crowd hold 1,000 sockets: the soft limit up to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def read_answer(sock, pending):
    """One whole answer from a keep-alive connection: (status, closes, bytes after it)."""
    while b"\r\n\r\n" not in pending:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the API closed the connection before its answer")
        pending += chunk
    head, _, rest = pending.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    fields = dict(line.split(b":", 1) for line in lines[1:] if b":" in line)
    length = int(fields[b"content-length"])
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the API closed mid-answer")
        rest += chunk
    return int(lines[0].split()[1]), fields.get(b"connection", b"").strip() == b"close", rest[length:]


def health_times(port, count):
    """Microseconds of `count` sequential GET /v1/health, split: on a connection already open
    (keep-alive), and the first of a new connection, timed from its connect(). corrald keeps a
    connection for 10 min, whatever its count of requests; the bench opens a new one after
    REQUESTS_PER_CONNECTION, so that first requests are measured too."""
    kept, fresh, sock, pending, on_this = [], [], None, b"", 0
    try:
        for _ in range(count):
            started = time.perf_counter_ns()
            new = sock is None
            if new:
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(REQUEST)
            status, closes, pending = read_answer(sock, pending)
            on_this = 1 if new else on_this + 1
            (fresh if new else kept).append((time.perf_counter_ns() - started) / 1000)
            if status != 200:
                raise ConnectionError(f"GET /v1/health answered {status}")
            if closes or on_this == REQUESTS_PER_CONNECTION:
                sock.close()
                sock, pending = None, b""
            time.sleep(GAP_S)
    finally:
        if sock:
            sock.close()
    return kept, fresh


class Crowd:
    """count connections of one kind, in a child process, until stop()."""

    def __init__(self, port, count, kind):
        self.process = subprocess.Popen([sys.executable, CROWD_SCRIPT, str(port), str(count), kind],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline().split()
        if line[:1] != ["ready"]:
            self.stop()
            raise RuntimeError(f"the crowd of {count} did not connect")
        self.connected = int(line[1])

    def stop(self):
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ApiCrowdBench:
    def __init__(self, daemon, requests, sizes):
        self.daemon, self.requests, self.sizes = daemon, requests, sizes  # sizes: {"idle": 1000, "trickle": 300}
        self.baseline = self.daemon_fds()  # the lowest seen: rounds lower it

    def daemon_fds(self):
        return len(os.listdir(f"/proc/{self.daemon.process.pid}/fd"))

    def wait_fds(self, done, timeout):
        """Until done(corrald's fd count), or the timeout: whether it came."""
        deadline = time.monotonic() + timeout
        while not done(self.daemon_fds()):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def run(self, variant):
        # The last round's crowd must be gone from corrald (it closes a crowd's
        # connections a moment after the crowd does), and this round's all accepted.
        settled = self.wait_fds(lambda n: n <= self.baseline + 4, 15)
        before = self.daemon_fds()
        self.baseline = min(self.baseline, before)
        crowd = None if variant == "none" else Crowd(self.daemon.port, self.sizes[variant], variant)
        try:
            opened = time.monotonic()
            if crowd:  # well within the 5 s after which corrald cuts the idle crowd
                settled &= self.wait_fds(lambda n: n >= before + crowd.connected - 2, 1)
            fds = self.daemon_fds()
            kept, fresh = health_times(self.daemon.port, self.requests)
            window = time.monotonic() - opened
        finally:
            if crowd:
                crowd.stop()
        kept, fresh = sorted(kept), sorted(fresh)
        return {"variant": variant, "crowd": crowd.connected if crowd else 0, "daemon_fds": fds, "settled": settled,
                "requests": len(kept), "p50_us": round(quantile(kept, 0.5), 1),
                "p90_us": round(quantile(kept, 0.9), 1), "p99_us": round(quantile(kept, 0.99), 1),
                "max_us": round(kept[-1], 1), "new_connection_us": [round(t, 1) for t in fresh],
                "window_s": round(window, 2)}
