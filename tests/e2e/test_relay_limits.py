"""Relayed WebSockets have bounds (issue 19, "Memory and descriptors without
bound"). The attack as it was found: 2,000 WebSocket relays held on one
session took 4,018 fds and 281 MiB; 9,989 took all of corrald's 20,000 fds,
and POST /v1/sessions then answered 500 "Too many open files". Here it is
sent as it was, scaled down: many relays held on one session, then across
sessions, then beside idle connections in --max-connections, then under a
small fd limit; what each idle relay costs in memory;
and an upgraded connection on which nothing is ever sent.

The browser is the stub with --hold-websockets (it answers an upgrade with
101 and holds the connection, echoing), except for WebDriver's se:cdp,
which needs a real chromedriver session."""
import json
import os
import socket
import unittest

from corral_harness import Daemon, process_status, stub_wrapper, wait_until

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's example key


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid):
    return int(process_status(pid)["VmRSS"].split()[0])


def url_path(url):
    return "/" + url.split("//", 1)[1].split("/", 1)[1]


def read_answer(sock):
    """(status, head, body) of one HTTP answer; the body by Content-Length
    (a 101 has none: what follows it is the relay's)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"the connection closed before an answer's head: {data!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    head = head.decode("latin-1")
    status = int(head.split(" ", 2)[1])
    length = 0
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk
    return status, head, body.decode("utf-8", "replace")


class Relays:
    """Raw WebSocket upgrades through corral, held until closed."""

    def __init__(self, port):
        self.port = port
        self.held = []

    def upgrade(self, path, timeout=10):
        """(status, body, socket): the socket is held when the answer is 101."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                     f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n\r\n".encode())
        try:
            status, _, body = read_answer(sock)
        except BaseException:
            sock.close()
            raise
        if status == 101:
            self.held.append(sock)
        else:
            sock.close()
        return status, body, sock

    def hold(self, path, count):
        for _ in range(count):
            status, body, _ = self.upgrade(path)
            assert status == 101, f"upgrade {len(self.held) + 1}: {status} {body}"

    def close_all(self):
        for sock in self.held:
            sock.close()
        self.held = []


class StubRelays(unittest.TestCase):
    daemon_args = ()
    launch_prefix = ()

    def setUp(self):
        self.wrapper = stub_wrapper("--hold-websockets")
        self.addCleanup(os.unlink, self.wrapper)
        self.daemon = Daemon(*self.daemon_args, browser=self.wrapper, launch_prefix=self.launch_prefix)
        self.addCleanup(self.daemon.remove)
        self.relays = Relays(self.daemon.port)
        self.addCleanup(self.close_everything)

    def close_everything(self):
        self.relays.close_all()
        for session in self.daemon.request("GET", "/v1/sessions")[1]["sessions"]:
            if session["state"] == "running":
                self.daemon.request("DELETE", f"/v1/sessions/{session['id']}?grace=0")
        self.daemon.assert_nothing_left()

    def ws_path(self, session):
        return url_path(session["devtools"]["ws"])

    def assert_refused(self, path, status):
        got, body, _ = self.relays.upgrade(path)
        self.assertEqual(got, status, body)
        self.assertEqual(json.loads(body)["error"]["code"], "too_many_relays", body)
        return body

    def assert_still_serving(self):
        """What the attack broke: a new session opens, health answers."""
        status, health = self.daemon.request("GET", "/v1/health", timeout=10)
        self.assertEqual(status, 200, health)
        status, opened = self.daemon.request("POST", "/v1/sessions", {}, timeout=60)
        self.assertEqual(status, 201, opened)
        self.daemon.close(opened["id"], grace=0)

    def assert_echoes(self, sock):
        sock.sendall(b"ping")
        self.assertEqual(sock.recv(16), b"ping")


class OneSession(StubRelays):
    """Defaults: 64 relays per session."""

    def test_one_session_holding_relays_past_its_bound(self):
        session = self.daemon.open()
        path = self.ws_path(session)
        pid = self.daemon.process.pid
        fds_before = open_fds(pid)
        self.relays.hold(path, 64)
        for _ in range(6):
            body = self.assert_refused(path, 429)
            self.assertIn("--max-relays-per-session", body)
        # Each relay holds two fds (client, browser); the refused ones none.
        self.assertLessEqual(open_fds(pid), fds_before + 2 * 64 + 8)
        self.assert_still_serving()
        self.assert_echoes(self.relays.held[0])
        # A relay that ends gives its place back.
        self.relays.held.pop().close()
        wait_until(lambda: self.relays.upgrade(path)[0] == 101, 10, "a place freed by a closed relay")


class AcrossSessions(StubRelays):
    """--max-connections 40: relays default to 20 in total, below it."""
    daemon_args = ("--max-connections", "40", "--launch-on-connect")

    def test_the_total_bound_across_sessions_and_launches(self):
        first, second = self.daemon.open(), self.daemon.open()
        self.relays.hold(self.ws_path(first), 12)
        self.relays.hold(self.ws_path(second), 8)
        for session in (first, second):
            body = self.assert_refused(self.ws_path(session), 503)
            self.assertIn("--max-relays", body)
        # Connect-to-launch is refused before a session opens.
        self.assert_refused("/devtools/browser", 503)
        self.assertEqual(len(self.daemon.request("GET", "/v1/sessions")[1]["sessions"]), 2)
        self.assert_still_serving()


class CountedAsConnections(StubRelays):
    """A relay keeps its place in --max-connections while it lives."""
    daemon_args = ("--max-connections", "10")

    def test_relays_and_connections_share_one_bound(self):
        session = self.daemon.open()
        self.relays.hold(self.ws_path(session), 5)  # --max-relays: half of 10
        idle = [socket.create_connection(("127.0.0.1", self.daemon.port), timeout=10) for _ in range(5)]
        try:
            status, reply = self.daemon.request("GET", "/v1/health", timeout=10)
            self.assertEqual(status, 503, reply)
            self.assertIn("--max-connections", reply["error"]["message"])
        finally:
            for sock in idle:
                sock.close()
        wait_until(lambda: self.daemon.request("GET", "/v1/health", timeout=10)[0] == 200, 10, "room again")
        self.assert_echoes(self.relays.held[0])


class SmallFdLimit(StubRelays):
    """The attack itself: relays on one session until corrald refuses one,
    under an fd limit small enough to reach in a test. corrald fits its
    connections and relays into the limit at start."""
    launch_prefix = ("prlimit", "--nofile=400:400", "--")

    def test_relays_never_take_the_fds_an_open_needs(self):
        session = self.daemon.open()
        path = self.ws_path(session)
        refused = None
        for _ in range(300):
            status, body, _ = self.relays.upgrade(path, timeout=5)
            if status != 101:
                refused = (status, body)
                break
        self.assertIsNotNone(refused, f"{len(self.relays.held)} relays, none refused")
        self.assertEqual(refused[0], 503, refused)
        self.assertIn("too_many_relays", refused[1])
        self.assertLess(open_fds(self.daemon.process.pid), 400 - 64)
        self.assert_still_serving()
        self.assertIn("lowered to", self.daemon.log())


class IdleRelayMemory(StubRelays):
    def test_an_idle_relay_costs_little_memory(self):
        session = self.daemon.open()
        path = self.ws_path(session)
        pid = self.daemon.process.pid
        # Warm up what every relay shares (threads' arenas, Asio's caches).
        self.relays.hold(path, 4)
        for sock in self.relays.held:
            self.assert_echoes(sock)
        before = rss_kib(pid)
        count = 56
        self.relays.hold(path, count)
        for sock in self.relays.held[4:]:
            self.assert_echoes(sock)  # a message passed both ways: its buffers are free again
        per_relay = (rss_kib(pid) - before) / count
        # Two fixed 64 KiB buffers made each ~140 KiB (281 MiB for 2,000).
        self.assertLess(per_relay, 32, f"{per_relay:.1f} KiB of RSS per idle relay")


class IdleTimeout(StubRelays):
    daemon_args = ("--relay-idle-timeout", "2s", "--max-relays-per-session", "2")

    def test_an_upgraded_connection_that_never_sends_is_closed(self):
        session = self.daemon.open()
        path = self.ws_path(session)
        _, _, silent = self.relays.upgrade(path)
        _, _, talking = self.relays.upgrade(path)
        self.assert_refused(path, 429)  # both places taken
        silent.settimeout(30)
        # The talking one sends every half second; the silent one never.
        closed = b"?"
        for _ in range(60):
            self.assert_echoes(talking)
            try:
                silent.settimeout(0.5)
                closed = silent.recv(16)
                break
            except socket.timeout:
                continue
        self.assertEqual(closed, b"", "the silent relay was closed")
        self.assert_echoes(talking)  # activity keeps a relay open past the timeout
        # Its place is free again.
        wait_until(lambda: self.relays.upgrade(path)[0] == 101, 10, "the idle relay's place")
        wait_until(lambda: "--relay-idle-timeout" in self.daemon.log(), 5, "the idle close in corrald's log")


class WebDriverSockets(unittest.TestCase):
    """se:cdp and se:bidi count in the same bounds; past them the error is
    W3C-shaped, as Selenium clients expect on WebDriver paths."""

    def setUp(self):
        self.daemon = Daemon("--max-relays-per-session", "2", browser=None)
        self.addCleanup(self.daemon.remove)
        self.relays = Relays(self.daemon.port)
        self.addCleanup(self.relays.close_all)

    def test_past_the_bound_a_w3c_error(self):
        status, created = self.daemon.request(
            "POST", "/session", {"capabilities": {"alwaysMatch": {"browserName": "chrome", "webSocketUrl": True}}})
        self.assertEqual(status, 200, created)
        value = created["value"]
        self.addCleanup(self.daemon.request, "DELETE", f"/session/{value['sessionId']}")
        cdp = url_path(value["capabilities"]["se:cdp"])
        self.relays.hold(cdp, 2)
        for path in (cdp, cdp[: -len("cdp")] + "bidi"):
            got, body, _ = self.relays.upgrade(path)
            self.assertEqual(got, 429, body)
            self.assertEqual(json.loads(body)["value"]["error"], "unknown error", body)
            self.assertIn("--max-relays-per-session", body)
        self.relays.close_all()
        self.assertEqual(self.daemon.request("DELETE", f"/session/{value['sessionId']}")[0], 200)
        self.daemon.assert_nothing_left()


if __name__ == "__main__":
    unittest.main()
