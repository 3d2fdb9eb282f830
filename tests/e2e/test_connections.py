"""Many connections at once: corrald's connections are asynchronous, so a
crowd of slow clients holds no thread and the API still answers at once;
past --max-connections a new connection gets a JSON 503 and is closed; and
afterwards the daemon holds no more fds than before. Also: upgrades other
than WebSocket are ignored, and a WebSocket upgrade on an API route is a
JSON error, not a hang; and a kept-alive connection serves 100 requests."""
import json
import os
import select
import socket
import statistics
import time
import unittest

from corral_harness import Daemon, DaemonTestCase, wait_until

CROWD = 300
MAX_CONNECTIONS, HELD = 50, 60


def open_fds(daemon):
    return len(os.listdir(f"/proc/{daemon.process.pid}/fd"))


def health_latency(daemon):
    """Seconds for GET /v1/health on a new connection, and its status."""
    started = time.monotonic()
    status, _ = daemon.request("GET", "/v1/health", timeout=30)
    return time.monotonic() - started, status


def read_answer(sock, timeout):
    """What the server sent before it closed, or within `timeout` if it did not close."""
    data, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
        if not readable:
            break
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            return data, True
        data += chunk
    return data, False


def json_body(answer):
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


class TrickleCrowd(DaemonTestCase):
    def test_the_api_answers_while_300_clients_trickle(self):
        health_latency(self.daemon)
        baseline = open_fds(self.daemon)
        quiet = [health_latency(self.daemon)[0] for _ in range(5)]
        crowd = [self.daemon.raw_socket(timeout=30) for _ in range(CROWD)]
        try:
            for sock in crowd:
                sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            busy, started, line = [], time.monotonic(), 0
            while time.monotonic() - started < 7:  # each request is cut at 10 s
                for sock in crowd:
                    sock.sendall(b"X-Trickle-%d: a\r\n" % line)
                line += 1
                if time.monotonic() - started > 2:
                    elapsed, status = health_latency(self.daemon)
                    self.assertEqual(status, 200)
                    busy.append(elapsed)
                time.sleep(max(0.0, line - (time.monotonic() - started)))
            print(f"\nGET /v1/health: median {statistics.median(quiet) * 1000:.1f} ms alone, with {CROWD} "
                  f"trickling connections median {statistics.median(busy) * 1000:.1f} ms, "
                  f"worst {max(busy) * 1000:.1f} ms ({len(busy)} requests)", flush=True)
            self.assertLess(max(busy), 2.0)
            cut = [read_answer(sock, 8) for sock in crowd]
            self.assertTrue(all(closed for _, closed in cut), "the server cut every trickling request")
            self.assertEqual({json_body(answer)[0] for answer, _ in cut}, {408})
        finally:
            for sock in crowd:
                sock.close()
        wait_until(lambda: open_fds(self.daemon) <= baseline, 15, f"the daemon's fds to return to {baseline}")


class MaxConnections(DaemonTestCase):
    daemon_args = ("--max-connections", str(MAX_CONNECTIONS))

    def test_connections_past_the_limit_get_503_and_are_closed(self):
        health_latency(self.daemon)
        baseline = open_fds(self.daemon)
        held = []
        try:
            for _ in range(HELD):
                held.append(self.daemon.raw_socket(timeout=30))
                time.sleep(0.005)  # accepted in order
            answers = [read_answer(sock, 1.5) for sock in held]
            refused = [i for i, (data, _) in enumerate(answers) if data]
            self.assertEqual(refused, list(range(MAX_CONNECTIONS, HELD)))
            for data, closed in answers[MAX_CONNECTIONS:]:
                status, body = json_body(data)
                self.assertEqual((status, body["error"]["code"]), (503, "unavailable"))
                self.assertIn("--max-connections", body["error"]["message"])
                self.assertTrue(closed, "a refused connection is closed")
        finally:
            for sock in held:
                sock.close()
        wait_until(lambda: health_latency(self.daemon)[1] == 200, 10, "the API to answer again")
        wait_until(lambda: open_fds(self.daemon) <= baseline, 15, f"the daemon's fds to return to {baseline}")


class KeepAlive(DaemonTestCase):
    """Keep-alive is bounded by time, not by a count: Grid's relay node sends a
    host's commands over the connections it keeps and reconnected every 20
    commands when corrald closed after 20 requests (issue 20)."""

    def test_100_requests_on_one_connection_are_all_answered_without_a_reconnect(self):
        connection = self.daemon.connection(timeout=30)
        headers = {"Authorization": f"Bearer {self.daemon.token}"} if self.daemon.token else {}
        try:
            sockets = set()  # the socket objects themselves: a reconnect makes a new one
            for number in range(1, 101):
                connection.request("GET", "/v1/health", headers=headers)
                sockets.add(connection.sock)
                response = connection.getresponse()
                body = json.loads(response.read())
                self.assertEqual((response.status, body["status"]), (200, "ok"), f"request {number}")
                self.assertEqual(response.getheader("Connection"), "keep-alive", f"request {number}")
                self.assertEqual(response.getheader("Keep-Alive"), "timeout=30", f"request {number}")
            self.assertEqual(len(sockets), 1, "one connection for all 100 requests")
        finally:
            connection.close()


class Upgrades(DaemonTestCase):
    def exchange(self, raw):
        with self.daemon.raw_socket(timeout=10) as sock:
            sock.sendall(raw)
            data, _ = read_answer(sock, 5)
        return json_body(data)

    def test_an_h2c_upgrade_is_answered_as_http_1_1(self):
        status, body = self.exchange(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, "
                                     b"HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
        self.assertEqual((status, body["status"]), (200, "ok"))

    def test_a_websocket_upgrade_on_an_api_route_is_a_json_error(self):
        started = time.monotonic()
        status, body = self.exchange(b"GET /v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
                                     b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        self.assertEqual((status, body["error"]["code"]), (400, "bad_request"))
        self.assertLess(time.monotonic() - started, 2)
        status, body = self.exchange(b"GET /devtools/browser/x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                     b"Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        self.assertEqual((status, body["error"]["code"]), (404, "not_found"))


if __name__ == "__main__":
    unittest.main()
