"""Selenium bots reach corral as a WebDriver endpoint, from another host,
with no corral-specific code: Python's webdriver.Remote (Debian's
python3-selenium) and selenium-webdriver (JS), at / and /wd/hub, with the
token as Basic auth's password. Commands, CDP through se:cdp and
goog/cdp/execute, quit with the verified cleanup; a bot killed without
quit is reaped by its idle timeout; a page load longer than the idle
timeout is not cut off; refusals are Selenium's typed exceptions; nothing
of any session is left. A session's own chromedriver listens on loopback
only and answers only under a secret base of its own (issue 19): another
host cannot connect, its port alone starts nothing, and the base is never
in corrald's log (nor is the relayed base a kind=chromedriver session's
`webdriver` URL carries: test_webdriver_relay.py)."""
import http.server
import json
import os
import signal
import socket
import time
import unittest
import urllib.parse
import urllib.request

from corral_harness import Daemon, chromedriver_of, in_network_of, processes_in, wait_until
from other_host import OtherHost
from public_host import PublicHost, http_server_on, listening_socket_in

TOKEN = "corral-test-token-" + os.urandom(12).hex()
HERE = os.path.dirname(os.path.abspath(__file__))
PY_CLIENT = ["/usr/bin/python3", os.path.join(HERE, "webdriver_client.py")]
JS_CLIENT = ["node", os.path.join(HERE, "..", "clients", "webdriver_client.mjs")]
SLOW_SECONDS = 8
# Run on the other host: connect to ADDRESS PORT, print "connected" or the error's class.
CONNECT_PROBE = """import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10).close()
    print("connected")
except OSError as e:
    print(type(e).__name__)
"""


def listening_addresses(port):
    """The local addresses of TCP listeners on `port` in this network
    namespace, from /proc/net/tcp and tcp6 (each 32-bit word printed in
    host, little-endian, order)."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                address, hex_port = fields[1].split(":")
                if fields[3] != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                    continue
                raw = bytes.fromhex(address)
                found.add(socket.inet_ntop(family, b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))))
    return found


def recv_exactly(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {count} bytes")
        data += chunk
    return data


def bidi_session_status(host, port, path, origin=None):
    """One BiDi command over a WebSocket, by hand (this Python has no
    WebSocket library): (the upgrade's status line, the answer to
    session.status or None). origin: as a page's WebSocket sends it."""
    with socket.create_connection((host, port), timeout=30) as sock:
        upgrade = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                   + (f"Origin: {origin}\r\n" if origin else "")
                   + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        sock.sendall(upgrade.encode())
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += recv_exactly(sock, 1)
        status_line = head.split(b"\r\n")[0].decode()
        if " 101 " not in status_line:
            return status_line, None
        command = json.dumps({"id": 1, "method": "session.status", "params": {}}).encode()
        mask = os.urandom(4)  # a client's frames are masked; this one is short (< 126 bytes)
        sock.sendall(bytes([0x81, 0x80 | len(command)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(command)))
        first = recv_exactly(sock, 2)
        length = first[1] & 0x7F
        if length >= 126:
            length = int.from_bytes(recv_exactly(sock, 2 if length == 126 else 8), "big")
        return status_line, json.loads(recv_exactly(sock, length))


def plain_http(method, url, body=None):
    """(status, text) of one request straight to a session's chromedriver."""
    request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"} if body is not None else {})
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


class Pages(http.server.BaseHTTPRequestHandler):
    """/ a page with a title; /slow answers after SLOW_SECONDS."""
    def do_GET(self):
        if self.path.startswith("/slow"):
            time.sleep(SLOW_SECONDS)
        body = b"<html><head><title>corral page</title></head><body>hello</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class WebDriverThroughCorral(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # The pages bots load are on "the internet" (a public test host): a
        # session's way out refuses the host's own addresses.
        cls.public = PublicHost().__enter__()
        cls.pages = http_server_on(listening_socket_in(cls.public.name, cls.public.client_address), Pages)
        cls.page = f"http://{cls.public.client_address}:{cls.pages.server_port}/"
        cls.host = OtherHost().__enter__()
        try:
            cls.daemon = Daemon("--max-sessions", "2", "--new-session-wait", "2s", browser=None,
                                listen=f"{cls.host.host_address}:0", token=TOKEN)
        except BaseException:
            cls.host.__exit__(None, None, None)
            raise
        cls.base = f"{cls.host.host_address}:{cls.daemon.port}"
        cls.url = f"http://bot:{TOKEN}@{cls.base}"

    @classmethod
    def tearDownClass(cls):
        cls.daemon.remove()
        cls.host.__exit__(None, None, None)
        cls.pages.shutdown()
        cls.public.__exit__(None, None, None)

    def tearDown(self):
        for session in self.live_sessions():
            if session["state"] == "running":
                self.daemon.request("DELETE", f"/v1/sessions/{session['id']}?grace=0")
        wait_until(lambda: not self.live_sessions(), 30, "every session to close")
        self.daemon.assert_nothing_left()

    def live_sessions(self):
        return self.daemon.request("GET", "/v1/sessions")[1]["sessions"]

    def run_client(self, argv, timeout=120):
        completed = self.host.run(argv, timeout=timeout)
        lines = completed.stdout.strip().splitlines()
        self.assertTrue(lines, completed.stderr[-2000:])
        return json.loads(lines[-1])

    def python_bot(self, url, page=None, *flags):
        return self.run_client([*PY_CLIENT, url, page or self.page, *flags])

    def wd(self, method, path, body=None, auth=True):
        """One WebDriver request from the test's side (loopback is another
        address of the same corrald); (status, JSON)."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if auth:
            headers["Authorization"] = f"Bearer {TOKEN}"
        request = urllib.request.Request(f"http://{self.base}{path}", method=method, headers=headers,
                                         data=None if body is None else json.dumps(body).encode())
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def test_python_bot_at_root_and_wd_hub(self):
        for url in (self.url, self.url + "/wd/hub"):
            result = self.python_bot(url)
            self.assertTrue(result["ok"], result)
            self.assertEqual(result["title"], "corral page")
            self.assertGreater(result["screenshot_bytes"], 1000)
            self.assertEqual(result["cdp_evaluate"], 42)
            caps = result["capabilities"]
            self.assertRegex(result["session_id"], r"^[0-9a-f]{12}$")
            self.assertRegex(caps["se:cdp"], rf"^ws://{self.base}/session/{result['session_id']}/[0-9a-f]{{32}}/se/cdp$")
            self.assertEqual(caps["se:forwardCdp"], caps["se:cdp"], "where a Grid node opens CDP")
            self.assertNotIn(TOKEN, json.dumps(caps))
            self.assertNotIn("debuggerAddress", caps["goog:chromeOptions"])
            self.assertTrue(any("--no-sandbox" in w for w in caps["corral:warnings"]), caps)
            report = self.daemon.get(result["session_id"])[1]
            self.assertEqual(report["state"], "closed")
            self.assertTrue(report["report"]["verified_empty"], report)

    def test_js_bot_with_cdp_through_se_cdp(self):
        for url in (self.url, self.url + "/wd/hub"):
            result = self.run_client([*JS_CLIENT, url, self.page])
            self.assertTrue(result["ok"], result)
            self.assertEqual(result["title"], "corral page")
            self.assertEqual(result["cdp_evaluate"], 42)
            self.assertIn("/se/cdp", result["se_cdp"])

    def test_refusals_are_typed_and_open_nothing(self):
        cases = [
            (["--args", '["--renderer-cmd-prefix=/bin/sh"]'], "InvalidArgumentException"),
            (["--args", '["--not-on-the-allowlist"]'], "InvalidArgumentException"),
            (["--binary", "/bin/sh"], "InvalidArgumentException"),
            (["--caps", '{"corral:options": {"memory_max": "lots"}}'], "InvalidArgumentException"),
            (["--caps", '{"browserName": "firefox"}'], "SessionNotCreatedException"),
        ]
        for flags, exception in cases:
            result = self.python_bot(self.url, "-", *flags)
            self.assertEqual(result.get("exception"), exception, (flags, result))
        self.assertEqual(self.live_sessions(), [])
        self.assertEqual(self.daemon.request("GET", "/metrics")[0], 200)
        status, body = self.wd("GET", "/session/0123456789ab/title")
        self.assertEqual((status, body["value"]["error"]), (404, "invalid session id"))
        status, body = self.wd("POST", "/session", {"capabilities": {}}, auth=False)
        self.assertEqual(status, 401)
        self.assertIn("error", body["value"])

    def test_second_delete_is_null_and_unknown_is_404(self):
        result = self.python_bot(self.url, "-", "--no-quit")
        self.assertTrue(result["ok"], result)
        path = f"/session/{result['session_id']}"
        self.assertEqual(self.wd("DELETE", path), (200, {"value": None}))
        self.assertEqual(self.wd("DELETE", path), (200, {"value": None}))
        self.assertEqual(self.daemon.get(result["session_id"])[1]["state"], "closed")
        status, body = self.wd("DELETE", "/session/0123456789ab")
        self.assertEqual((status, body["value"]["error"]), (404, "invalid session id"))

    def test_status_ready_until_capacity(self):
        status, body = self.wd("GET", "/status", auth=False)
        self.assertEqual((status, body["value"]["ready"]), (200, True))
        ids = []
        for _ in range(2):
            result = self.python_bot(self.url, "-", "--no-quit")
            self.assertTrue(result["ok"], result)
            ids.append(result["session_id"])
        status, body = self.wd("GET", "/wd/hub/status", auth=False)
        self.assertEqual((status, body["value"]["ready"]), (200, False))
        full = self.python_bot(self.url, "-")
        self.assertEqual(full.get("exception"), "SessionNotCreatedException", full)
        for session_id in ids:
            self.assertEqual(self.wd("DELETE", f"/session/{session_id}")[0], 200)
        self.assertTrue(self.wd("GET", "/status", auth=False)[1]["value"]["ready"])

    def test_session_answers_its_client_after_a_corrald_restart(self):
        """kill -9 of corrald: the restarted one adopts the session and serves
        its WebDriver client (the state file kept chromedriver's session)."""
        result = self.python_bot(self.url, self.page, "--no-quit")
        self.assertTrue(result["ok"], result)
        path = f"/session/{result['session_id']}"
        self.daemon.stop(signal.SIGKILL)
        old = self.daemon
        type(self).daemon = Daemon("--max-sessions", "2", "--new-session-wait", "2s", browser=None,
                                   listen=f"{self.host.host_address}:{old.port}", token=TOKEN, reuse=old)
        self.assertEqual(self.wd("GET", path + "/title"), (200, {"value": "corral page"}))
        status, body = self.wd("POST", path + "/goog/cdp/execute",
                               {"cmd": "Runtime.evaluate", "params": {"expression": "6 * 7", "returnByValue": True}})
        self.assertEqual((status, body["value"]["result"]["value"]), (200, 42))
        self.assertEqual(self.wd("DELETE", path), (200, {"value": None}))
        report = self.daemon.get(result["session_id"])[1]["report"]
        self.assertEqual(report["reason"], "client")
        self.assertTrue(report["verified_empty"], report)

    def test_killed_bot_is_reaped_by_idle_timeout(self):
        caps = json.dumps({"corral:options": {"idle_timeout": "3s"}})
        result = self.python_bot(self.url, "-", "--no-quit", "--caps", caps)
        self.assertTrue(result["ok"], result)
        self.daemon.wait_closed(result["session_id"], 30, "the idle timeout to reap the abandoned session")
        self.assertEqual(self.daemon.get(result["session_id"])[1]["report"]["reason"], "idle")

    def test_long_page_load_outlives_idle_timeout(self):
        caps = json.dumps({"corral:options": {"idle_timeout": "3s"}})
        result = self.python_bot(self.url, self.page + "slow", "--caps", caps)
        self.assertTrue(result["ok"], result)
        self.assertEqual(result["title"], "corral page")
        self.assertEqual(self.daemon.get(result["session_id"])[1]["report"]["reason"], "client")

    # --- issue 19: a session's chromedriver on loopback only, behind a
    # secret base of its own that corral never hands out -----------------------
    def open_driver_session(self):
        """A chromedriver session through the API: (session, chromedriver's port, its base)."""
        session = self.daemon.open({"kind": "chromedriver"})
        port, base = chromedriver_of(session)
        return session, port, base

    def connect_from_other_host(self, port):
        """What a TCP connect from the other host to this host's veth address gives."""
        argv = ["/usr/bin/python3", "-c", CONNECT_PROBE, self.host.host_address, str(port)]
        return self.host.run(argv, timeout=30).stdout.strip()

    def test_chromedriver_listens_on_loopback_only(self):
        session, port, _ = self.open_driver_session()
        with in_network_of(session["pid"]):  # where it listens: the session's own network, or corrald's
            addresses = listening_addresses(port)
        self.assertTrue(addresses, f"nothing listens on chromedriver's port {port}")
        self.assertLessEqual(addresses, {"127.0.0.1", "::1"}, "a listener on a wildcard or outside address")
        self.assertEqual(self.connect_from_other_host(self.daemon.port), "connected",
                         "the other host reaches corrald at that address")
        self.assertEqual(self.connect_from_other_host(port), "ConnectionRefusedError",
                         "the other host reached chromedriver")

    def test_knowing_the_port_is_not_enough(self):
        session, port, base = self.open_driver_session()
        before = sorted(processes_in(session["cgroup"]))
        guessed = "/" + "0" * 32
        for method, path, body in [("GET", "/status", None),
                                   ("POST", "/session", {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
                                       "args": ["--headless=new", "--no-sandbox"]}}}}),
                                   ("GET", guessed + "/status", None)]:
            with in_network_of(session["pid"]):
                status, text = plain_http(method, f"http://127.0.0.1:{port}{path}", body)
            self.assertTrue(400 <= status < 500, (method, path, status, text[:300]))
            self.assertNotIn('"ready"', text)
            self.assertNotIn('"sessionId"', text)
        # chromedriver serves BiDi's /session WebSocket outside the base; a
        # page's (it sends its Origin) is refused by chromedriver's own check.
        with in_network_of(session["pid"]):
            status_line, _ = bidi_session_status("127.0.0.1", port, "/session", origin="http://page.example")
        self.assertIn(" 403 ", status_line)
        self.assertEqual(sorted(processes_in(session["cgroup"])), before, "a browser started without the base")
        with in_network_of(session["pid"]):
            status, text = plain_http("GET", f"http://127.0.0.1:{port}{base}/status")
        self.assertEqual(status, 200, text[:300])
        self.assertTrue(json.loads(text)["value"]["ready"])

    def test_bidi_through_corral_reaches_chromedriver(self):
        """chromedriver serves BiDi outside its base: /session/<its id>, which only corral knows."""
        result = self.python_bot(self.url, "-", "--no-quit", "--caps", json.dumps({"webSocketUrl": True}))
        self.assertTrue(result["ok"], result)
        bidi = urllib.parse.urlsplit(result["capabilities"]["webSocketUrl"])
        self.assertRegex(bidi.path, rf"^/session/{result['session_id']}/[0-9a-f]{{32}}/se/bidi$")
        status_line, answer = bidi_session_status(bidi.hostname, bidi.port, bidi.path)
        self.assertIn(" 101 ", status_line)
        self.assertEqual(answer["id"], 1, answer)
        self.assertIn("ready", answer["result"], answer)
        self.assertEqual(self.wd("DELETE", f"/session/{result['session_id']}"), (200, {"value": None}))

    def test_relayed_base_and_chromedrivers_base_are_never_logged(self):
        session, _, base = self.open_driver_session()
        self.assertRegex(base, r"^/[0-9a-f]{32}$", "the base: 128 random bits")
        result = self.python_bot(session["webdriver"], "data:text/html,<title>t</title>")
        self.assertTrue(result["ok"], result)
        # A bot through corral's WebDriver endpoint: every upstream path carries the base.
        proxied = self.python_bot(self.url, self.page, "--no-quit")
        self.assertTrue(proxied["ok"], proxied)
        proxied_session = self.daemon.get(proxied["session_id"])[1]
        _, proxied_base = chromedriver_of(proxied_session)
        self.assertEqual(self.wd("DELETE", f"/session/{proxied['session_id']}"), (200, {"value": None}))
        log = self.daemon.log()
        self.assertIn(session["id"], log, "the debug log covers these sessions")
        self.assertIn(proxied["session_id"], log)
        for secret in (base.strip("/"), proxied_base.strip("/"), session["webdriver"][-32:]):
            self.assertNotIn(secret, log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
