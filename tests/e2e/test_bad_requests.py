"""Bad input gets a clear JSON error and loses nothing: after every kind of
malformed or hostile request, no process, cgroup, unit or directory is left."""
import json
import os
import socket
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
    ("body over 64 KiB", "POST", "/v1/sessions", json.dumps({"labels": {"a": "x" * 70000}}), {}, 413, None),
    ("unknown id", "GET", f"/v1/sessions/{GOOD_UNKNOWN_ID}", None, {}, 404, "not_found"),
    ("close of an unknown id", "DELETE", f"/v1/sessions/{GOOD_UNKNOWN_ID}", None, {}, 404, "not_found"),
    ("id that is a path", "DELETE", "/v1/sessions/..%2F..%2Fetc", None, {}, 404, "not_found"),
    ("id with odd bytes", "GET", "/v1/sessions/%00%ff", None, {}, 404, "not_found"),
    ("unknown endpoint", "GET", "/v2/whatever", None, {}, 404, "not_found"),
    ("wrong method", "PUT", "/v1/sessions", "{}", {}, 405, "method_not_allowed"),
    ("delete of the collection", "DELETE", "/v1/sessions", None, {}, 405, "method_not_allowed"),
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

    def test_garbage_on_the_socket(self):
        for raw in (b"\x00\x01\x02garbage\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X: y\r\n" * 200 + b"\r\n",
                    b"POST /v1/sessions HTTP/1.1\r\nContent-Length: 10\r\n\r\n{"):
            with socket.create_connection(("127.0.0.1", self.daemon.port), timeout=10) as s:
                s.sendall(raw)
                s.shutdown(socket.SHUT_WR)
                s.recv(65536)
        status, _ = self.daemon.request("GET", "/v1/health")
        self.assertEqual(status, 200, "the daemon still answers")
        self.daemon.assert_nothing_left()


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
