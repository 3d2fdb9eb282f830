"""Bad input gets a clear JSON error and loses nothing: after every kind of
malformed or hostile request, no process, cgroup, unit or directory is left.

Three tables: requests http.client can send (CASES), bytes it will not
send, written to a raw socket (RAW_CASES), and requests without the right
token to a daemon that wants one (AUTH_CASES). Slow clients, whose cut-off
is measured, have tests of their own."""
import base64
import json
import os
import re
import select
import socket
import threading
import time
import unittest

from corral_harness import DaemonTestCase

GOOD_UNKNOWN_ID = "0123456789ab"

# (name, method, path, body, headers, expected status, expected error code)
CASES = [
    ("malformed JSON", "POST", "/v1/sessions", "{", {}, 400, "bad_request"),
    ("JSON that is not an object", "POST", "/v1/sessions", "[1,2]", {}, 400, "bad_request"),
    ("unknown field", "POST", "/v1/sessions", {"memroy_max": "1G"}, {}, 400, "bad_request"),
    ("kind of the wrong type", "POST", "/v1/sessions", {"kind": 7}, {}, 400, "bad_request"),
    ("unknown kind", "POST", "/v1/sessions", {"kind": "firefox"}, {}, 422, "invalid_value"),
    ("negative size", "POST", "/v1/sessions", {"memory_max": -1}, {}, 422, "invalid_value"),
    ("negative size string", "POST", "/v1/sessions", {"memory_max": "-5M"}, {}, 422, "invalid_value"),
    ("garbage size", "POST", "/v1/sessions", {"memory_max": "lots"}, {}, 422, "invalid_value"),
    ("size overflow", "POST", "/v1/sessions", {"memory_max": "99999999999999T"}, {}, 422, "invalid_value"),
    ("size too small", "POST", "/v1/sessions", {"memory_max": 1}, {}, 422, "invalid_value"),
    ("memory_high above memory_max", "POST", "/v1/sessions", {"memory_max": "1G", "memory_high": "2G"}, {}, 422,
     "invalid_value"),
    ("zero tasks", "POST", "/v1/sessions", {"tasks_max": 0}, {}, 422, "invalid_value"),
    ("garbage cpu quota", "POST", "/v1/sessions", {"cpu_quota": "fast"}, {}, 422, "invalid_value"),
    ("command-running flag", "POST", "/v1/sessions", {"args": ["--renderer-cmd-prefix=/bin/sh -c 'touch /x'"]}, {},
     422, "invalid_value"),
    ("gpu launcher flag", "POST", "/v1/sessions", {"args": ["--gpu-launcher=/usr/bin/id"]}, {}, 422, "invalid_value"),
    ("profile takeover", "POST", "/v1/sessions", {"args": ["--user-data-dir=/root"]}, {}, 422, "invalid_value"),
    ("debugging port takeover", "POST", "/v1/sessions", {"args": ["--remote-debugging-port=9222"]}, {}, 422,
     "invalid_value"),
    ("flag off the allowlist", "POST", "/v1/sessions", {"args": ["--enable-logging=stderr"]}, {}, 422,
     "invalid_value"),
    ("a URL as argument", "POST", "/v1/sessions", {"args": ["file:///etc/shadow"]}, {}, 422, "invalid_value"),
    ("args not an array", "POST", "/v1/sessions", {"args": "--mute-audio"}, {}, 400, "bad_request"),
    ("label of the wrong type", "POST", "/v1/sessions", {"labels": {"a": 1}}, {}, 400, "bad_request"),
    # Labels reach the journal and Prometheus' text: no forged lines, no NUL.
    ("NUL in a label", "POST", "/v1/sessions", '{"labels": {"bot": "a\\u0000b"}}', {}, 422, "invalid_value"),
    ("newline in a label", "POST", "/v1/sessions", {"labels": {"bot": "a\nsession x closed"}}, {}, 422,
     "invalid_value"),
    ("escape in a label", "POST", "/v1/sessions", {"labels": {"bot": "\x1b[2J"}}, {}, 422, "invalid_value"),
    ("C1 control in a label", "POST", "/v1/sessions", {"labels": {"bot": "a\u0085b"}}, {}, 422, "invalid_value"),
    ("body over 64 KiB", "POST", "/v1/sessions", json.dumps({"labels": {"a": "x" * 70000}}), {}, 413, None),
    ("unknown id", "GET", f"/v1/sessions/{GOOD_UNKNOWN_ID}", None, {}, 404, "not_found"),
    ("close of an unknown id", "DELETE", f"/v1/sessions/{GOOD_UNKNOWN_ID}", None, {}, 404, "not_found"),
    ("id that is a path", "DELETE", "/v1/sessions/..%2F..%2Fetc", None, {}, 404, "not_found"),
    ("id with odd bytes", "GET", "/v1/sessions/%00%ff", None, {}, 404, "not_found"),
    ("unknown endpoint", "GET", "/v2/whatever", None, {}, 404, "not_found"),
    ("wrong method", "PUT", "/v1/sessions", "{}", {}, 405, "method_not_allowed"),
    ("delete of the collection", "DELETE", "/v1/sessions", None, {}, 405, "method_not_allowed"),
]


# A Host corrald accepts (request_guard.hpp): an IP literal.
HOST = b"Host: 127.0.0.1\r\n"
JSON = b"Content-Type: application/json\r\n"


def post(headers, body=b""):
    return b"POST /v1/sessions HTTP/1.1\r\n" + HOST + JSON + headers + b"\r\n" + body


def chunked(body):
    return post(b"Transfer-Encoding: chunked\r\n", body)


# (name, bytes, expected status). Each is sent whole, and then the client
# half-closes (it has nothing more to say) and reads until the server closes.
RAW_CASES = [
    ("bytes that are not HTTP", b"\x00\x01\x02garbage\r\n\r\n", 400),
    ("request line without a version", b"GET /v1/health\r\n\r\n", 400),
    ("unknown HTTP version", b"GET /v1/health HTTP/9.9\r\n" + HOST + b"\r\n", 400),
    ("bare LF line ends", b"GET /v1/health HTTP/1.1\nHost: 127.0.0.1\n\n", 400),
    ("unknown method", b"BREW /v1/health HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    # Browsers always send Host; the guard cannot check where a request without one was aimed.
    ("no Host, HTTP/1.1", b"GET /v1/health HTTP/1.1\r\n\r\n", 403),
    ("no Host, HTTP/1.0", b"GET /v1/sessions HTTP/1.0\r\n\r\n", 403),
    ("no Host, an open", b"POST /v1/sessions HTTP/1.1\r\n" + JSON + b"Content-Length: 2\r\n\r\n{}", 403),
    ("Host with port 0", b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1:0\r\n\r\n", 403),
    ("Host with port 65536", b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1:65536\r\n\r\n", 403),
    ("Host with port 99999", b"GET /v1/health HTTP/1.1\r\nHost: [::1]:99999\r\n\r\n", 403),
    ("request line over 8 KiB", b"GET /" + b"a" * 10240 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 414),
    ("header line of 10 KiB", b"GET /v1/health HTTP/1.1\r\n" + HOST + b"X-Big: " + b"a" * 10240 + b"\r\n\r\n", 431),
    ("600 headers, 35 KiB in all", b"GET /v1/health HTTP/1.1\r\n" + HOST +
     b"X-Filler: abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklm\r\n" * 600 + b"\r\n", 431),
    ("200 small headers, within the limits", b"GET /v1/health HTTP/1.1\r\n" + HOST + b"X: y\r\n" * 200 + b"\r\n", 200),
    ("NUL byte in a header value", b"GET /v1/health HTTP/1.1\r\n" + HOST + b"X-Bad: a\x00b\r\n\r\n", 400),
    ("control bytes in a header value", b"GET /v1/health HTTP/1.1\r\n" + HOST + b"X-Bad: a\x01\x1b[2Jb\r\n\r\n", 400),
    ("space in a header name", b"GET /v1/health HTTP/1.1\r\n" + HOST + b"X Bad: a\r\n\r\n", 400),
    ("non-ASCII header name", b"GET /v1/health HTTP/1.1\r\n" + HOST + b"X-\xc3\xa9: a\r\n\r\n", 400),
    ("Content-Length that is not a number", post(b"Content-Length: abc\r\n", b"{}"), 400),
    ("negative Content-Length", post(b"Content-Length: -2\r\n", b"{}"), 400),
    ("two different Content-Lengths", post(b"Content-Length: 2\r\nContent-Length: 3\r\n", b"{}"), 400),
    ("Content-Length and chunked at once", post(b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n", b"{}"), 400),
    ("Transfer-Encoding gzip", post(b"Transfer-Encoding: gzip\r\n", b"{}"), 400),
    ("Content-Length larger than the body, then close", post(b"Content-Length: 100\r\n", b"{}"), 400),
    ("chunk size that is not hex", chunked(b"zz\r\n{}\r\n0\r\n\r\n"), 400),
    ("chunk size of 2^64-1", chunked(b"ffffffffffffffff\r\n{}\r\n0\r\n\r\n"), 400),
    ("negative chunk size", chunked(b"-2\r\n{}\r\n0\r\n\r\n"), 400),
    ("chunked body without its last chunk, then close", chunked(b"2\r\n{}\r\n"), 400),
    ("chunked body of 68 KiB", chunked((b"1000\r\n" + b" " * 4096 + b"\r\n") * 17 + b"0\r\n\r\n"), 413),
    ("chunked payload of 66 KiB in one chunk", chunked(b"10800\r\n" + b" " * 0x10800 + b"\r\n0\r\n\r\n"), 413),
    ("Content-Length of 10 GB, then close", post(b"Content-Length: 10000000000\r\n", b"{}"), 413),
]


def read_until_closed(sock):
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def parse_response(data):
    """(status, headers with lower-case names, JSON body or raw text) of the first response in data."""
    if not data:
        return None, {}, data
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict((name.strip().lower(), value.strip()) for name, _, value in (line.partition(":") for line in lines[1:]))
    length = int(headers.get("content-length", len(body)))
    try:
        return int(lines[0].split()[1]), headers, json.loads(body[:length])
    except ValueError:
        return int(lines[0].split()[1]), headers, body


def send_raw(api, raw, half_close=True):
    """(status, headers, body, seconds until the server closed) for raw bytes."""
    with api.raw_socket(timeout=15) as sock:
        started = time.monotonic()
        sock.sendall(raw)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        data = read_until_closed(sock)
        return (*parse_response(data), time.monotonic() - started)


def trickle(api, first, rest, interval=0.5, limit=30):
    """Send `first`, then `rest` a byte every `interval`, never closing;
    return (who closed: "server" or "nobody", seconds, what came back)."""
    with api.raw_socket(timeout=limit) as sock:
        started = time.monotonic()
        sock.sendall(first)
        answer = b""
        sent = 0
        while time.monotonic() - started < limit:
            if sent < len(rest):
                try:
                    sock.send(rest[sent:sent + 1])
                    sent += 1
                except (BrokenPipeError, ConnectionResetError):
                    return "server", time.monotonic() - started, answer
            readable, _, _ = select.select([sock], [], [], interval)
            if readable:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    return "server", time.monotonic() - started, answer
                if not chunk:
                    return "server", time.monotonic() - started, answer
                answer += chunk
        return "nobody", time.monotonic() - started, answer


TOKEN = "corral-test-token-" + os.urandom(12).hex()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


# (name, method, path, body, headers): each must get 401 unauthorized.
AUTH_CASES = [
    ("no Authorization header", "GET", "/v1/sessions", None, {}),
    ("wrong token of the same length", "GET", "/v1/sessions", None, bearer("x" * len(TOKEN))),
    ("the token less its last byte", "GET", "/v1/sessions", None, bearer(TOKEN[:-1])),
    ("the token and one byte more", "GET", "/v1/sessions", None, bearer(TOKEN + "0")),
    ("Basic scheme with the token as password", "GET", "/v1/sessions", None,
     {"Authorization": "Basic " + base64.b64encode(f"corral:{TOKEN}".encode()).decode()}),
    ("the token as the Basic credentials", "GET", "/v1/sessions", None, {"Authorization": f"Basic {TOKEN}"}),
    ("Bearer without a token", "GET", "/v1/sessions", None, {"Authorization": "Bearer"}),
    ("token in the query string", "GET", f"/v1/sessions?access_token={TOKEN}", None, {}),
    ("open without a token", "POST", "/v1/sessions", {}, {}),
    ("close without a token", "DELETE", "/v1/sessions/0123456789ab", None, {}),
    ("metrics without a token", "GET", "/metrics", None, {}),
    ("unknown endpoint without a token", "GET", "/v2/whatever", None, {}),
    ("health by POST without a token", "POST", "/v1/health", "{}", {}),
]


class BadRequests(DaemonTestCase):
    def test_each_bad_request_gets_its_json_error(self):
        for name, method, path, body, headers, status, code in CASES:
            with self.subTest(name):
                got, reply = self.daemon.request(method, path, body, headers)
                self.assertEqual(got, status, f"{name}: {reply}")
                self.assertIsInstance(reply, dict, f"{name}: not JSON: {reply!r}")
                self.assertIn("message", reply["error"])
                self.assertTrue(reply["error"]["message"])
                if code:
                    self.assertEqual(reply["error"]["code"], code, name)
        self.daemon.assert_nothing_left()
        self.assertEqual(self.daemon.request("GET", "/v1/sessions")[1]["sessions"], [])

    def test_bad_grace_and_double_close(self):
        session = self.daemon.open()
        status, reply = self.daemon.request("DELETE", f"/v1/sessions/{session['id']}?grace=soon")
        self.assertEqual((status, reply["error"]["code"]), (422, "invalid_value"))
        status, reply = self.daemon.request("DELETE", f"/v1/sessions/{session['id']}?grace=3600")
        self.assertEqual(status, 422)
        self.daemon.close(session["id"], grace=0)
        self.assertEqual(self.daemon.close(session["id"], expect=409)["error"]["code"], "already_closed")

    def test_explicit_limit_the_host_cannot_enforce(self):
        _, health = self.daemon.request("GET", "/v1/health")
        if health["controllers"]["memory"]:
            self.skipTest("this host enforces memory limits; the refusal is for hosts that cannot")
        status, reply = self.daemon.request("POST", "/v1/sessions", {"memory_max": "1G"})
        self.assertEqual(status, 422)
        self.assertEqual(reply["error"]["code"], "limit_not_enforceable")
        self.assertIn("--allow-unenforced-limits", reply["error"]["message"])

    def test_each_raw_request_gets_its_json_error_and_the_connection_ends(self):
        for name, raw, status in RAW_CASES:
            with self.subTest(name):
                got, headers, reply, elapsed = send_raw(self.daemon, raw)
                self.assertEqual(got, status, f"{name}: {headers} {reply!r}")
                self.assertIsInstance(reply, dict, f"{name}: not JSON: {reply!r}")
                if status >= 400:
                    self.assertTrue(reply["error"]["message"], name)
                self.assertLess(elapsed, 5, f"{name}: the server took {elapsed:.1f} s to answer and close")
        self.assertEqual(self.daemon.request("GET", "/v1/health")[0], 200, "the daemon still answers")
        self.assertEqual(self.daemon.request("GET", "/v1/sessions")[1]["sessions"], [])
        self.daemon.assert_nothing_left()

    def test_pipelined_requests_are_all_answered(self):
        raw = b"".join(b"GET %s HTTP/1.1\r\n%s\r\n" % (path, HOST) for path in (b"/v1/health", b"/v1/sessions", b"/v2"))
        with self.daemon.raw_socket(timeout=10) as sock:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
            answers = read_until_closed(sock)
        self.assertEqual(re.findall(rb"HTTP/1\.1 (\d{3}) ", answers), [b"200", b"200", b"404"])

    def test_a_huge_body_is_cut_off(self):
        """A client streaming a 1 GiB body: the server stops reading at its
        limit, answers 413 and closes, while the client is still sending."""
        with self.daemon.raw_socket(timeout=30) as sock:
            sock.sendall(b"POST /v1/sessions HTTP/1.1\r\n" + HOST + JSON + b"Content-Length: %d\r\n\r\n" % (1 << 30))
            sent = {"bytes": 0, "error": None}

            def stream():
                chunk = b" " * 65536
                try:
                    while sent["bytes"] < 1 << 30:
                        sent["bytes"] += sock.send(chunk)
                except OSError as e:
                    sent["error"] = e

            sender = threading.Thread(target=stream)
            started = time.monotonic()
            sender.start()
            status, _, reply = parse_response(read_until_closed(sock))
            sender.join(30)
            elapsed = time.monotonic() - started
        self.assertEqual(status, 413, reply)
        self.assertEqual(reply["error"]["code"], "too_large")
        self.assertIsNotNone(sent["error"], "the server never closed the connection")
        print(f"1 GiB body: 413 and closed after {elapsed:.2f} s, {sent['bytes'] >> 10} KiB sent", flush=True)
        self.assertLess(elapsed, 5)
        self.daemon.assert_nothing_left()


class SlowClients(DaemonTestCase):
    """Clients that hold a connection without finishing a request are cut off
    by the server in bounded time (corrald: 5 s without a byte, 10 s for a
    whole request). The four run at once; each figure is printed."""

    def test_slow_clients_are_cut_off_by_the_server(self):
        head = b"GET /v1/health HTTP/1.1\r\n" + HOST + b"X-Slow: " + b"a" * 100 + b"\r\n\r\n"
        post = b"POST /v1/sessions HTTP/1.1\r\n" + HOST + JSON + b"Content-Length: 200\r\n\r\n"
        clients = {
            # name: (bytes sent at once, bytes then trickled one every 0.5 s, expected status, seconds allowed)
            "sends nothing": (b"", b"", None, (4, 8)),
            "stops in the request line": (b"GET /v1/hea", b"", 408, (4, 8)),
            "trickles the headers": (b"", head, 408, (9, 13)),
            "trickles the body": (post, b" " * 200, 408, (9, 13)),
        }
        results = {}
        threads = [threading.Thread(target=lambda n=name, c=case: results.__setitem__(n, trickle(self.daemon, *c[:2])))
                   for name, case in clients.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for name, (_, _, status, (low, high)) in clients.items():
            with self.subTest(name):
                closed_by, elapsed, answer = results[name]
                print(f"slow client that {name}: {closed_by} after {elapsed:.2f} s", flush=True)
                self.assertEqual(closed_by, "server", f"{name}: {answer!r}")
                self.assertTrue(low <= elapsed <= high, f"{name}: cut off after {elapsed:.2f} s, not {low}-{high} s")
                got, _, reply = parse_response(answer)
                self.assertEqual(got, status, f"{name}: {answer!r}")
                if status:
                    self.assertEqual(reply["error"]["code"], "request_timeout")
        self.assertEqual(self.daemon.request("GET", "/v1/health")[0], 200, "the daemon still answers")
        self.daemon.assert_nothing_left()


class BadRequestsWithToken(DaemonTestCase):
    daemon_options = {"token": TOKEN}

    def test_each_request_without_the_token_gets_401(self):
        for name, method, path, body, headers in AUTH_CASES:
            with self.subTest(name):
                status, response_headers, reply = self.daemon.exchange(method, path, body, headers)
                self.assertEqual(status, 401, f"{name}: {reply}")
                self.assertEqual(reply["error"]["code"], "unauthorized", name)
                self.assertTrue(reply["error"]["message"], name)
                self.assertTrue(response_headers.get("WWW-Authenticate", "").startswith("Bearer"), name)
        self.assertEqual(self.daemon.request("GET", "/v1/sessions")[1]["sessions"], [])
        self.daemon.assert_nothing_left()

    def test_health_needs_no_token(self):
        status, reply = self.daemon.request("GET", "/v1/health", auth=False)
        self.assertEqual((status, reply["status"]), (200, "ok"))

    def test_the_token_opens_and_closes(self):
        status, session = self.daemon.request("POST", "/v1/sessions", {}, headers=bearer(TOKEN))
        self.assertEqual(status, 201, session)
        status, _ = self.daemon.request("GET", "/v1/sessions", headers={"Authorization": f"bearer {TOKEN}"})
        self.assertEqual(status, 200, "the scheme is case-insensitive")
        self.assertEqual(self.daemon.close(session["id"], grace=0)["verified_empty"], True)

    def test_a_refused_body_is_never_read(self):
        """401 before the body: the server says Connection: close and closes,
        so the body cannot pass for a next request on the connection."""
        body = b'{"kind":"chrome"}'
        raw = b"POST /v1/sessions HTTP/1.1\r\n" + HOST + JSON + b"Content-Length: %d\r\n\r\n" % len(body) + body
        status, headers, reply, _ = send_raw(self.daemon, raw, half_close=False)
        self.assertEqual(status, 401, reply)
        self.assertEqual(headers.get("connection"), "close")
        self.assertEqual(self.daemon.request("GET", "/v1/sessions")[1]["sessions"], [])


class UnenforcedLimitsAllowed(DaemonTestCase):
    daemon_args = ("--allow-unenforced-limits",)

    def test_limits_are_recorded_and_marked_unenforced(self):
        _, health = self.daemon.request("GET", "/v1/health")
        session = self.daemon.open({"memory_max": "1536M", "cpu_quota": "150%", "tasks_max": 256})
        self.assertEqual(session["limits"]["memory_max"], 1536 << 20)
        self.assertEqual(session["limits"]["cpu_quota"], "150%")
        self.assertEqual(session["limits"]["tasks_max"], 256)
        self.assertEqual(session["enforced"]["memory"], health["controllers"]["memory"])
        self.daemon.close(session["id"], grace=0)


if __name__ == "__main__":
    unittest.main()
