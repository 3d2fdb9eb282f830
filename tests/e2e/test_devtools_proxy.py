"""Puppeteer and Playwright bots reach their browsers through corral's one
address, from another host, with no corral-specific code: a session's
devtools.http and devtools.ws, and connect-to-launch. Real clients
(tests/clients) run in a network namespace of the test's own; corrald
listens on its side of a veth pair, with a token, and Chromium's own
DevTools port is unreachable from there. Afterwards nothing of any session
is left."""
import http.server
import os
import re
import signal
import socket
import threading
import time
import unittest
import urllib.parse

from client_kit import held_devtools_client, run_devtools_client
from corral_harness import SESSION_NETWORK, Daemon, FakeDevTools, stub_wrapper, wait_until
from other_host import OtherHost

TOKEN = "corral-test-token-" + os.urandom(12).hex()
SIXTEEN_MIB = 16 * 1024 * 1024


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class ThroughCorral(unittest.TestCase):
    """Shared set-up: another host, and a corrald listening towards it."""
    daemon_args = ("--launch-on-connect",)

    @classmethod
    def setUpClass(cls):
        cls.host = OtherHost().__enter__()
        try:
            cls.daemon = Daemon(*cls.daemon_args, browser=None, listen=f"{cls.host.host_address}:0", token=TOKEN)
        except BaseException:
            cls.host.__exit__(None, None, None)
            raise
        cls.base = f"{cls.host.host_address}:{cls.daemon.port}"

    @classmethod
    def tearDownClass(cls):
        cls.daemon.remove()
        cls.host.__exit__(None, None, None)

    def tearDown(self):
        for session in self.live_sessions():
            if session["state"] == "running":
                self.daemon.request("DELETE", f"/v1/sessions/{session['id']}?grace=0")  # 409 if it closed meanwhile
        wait_until(lambda: not self.live_sessions(), 30, "every session to close")
        self.daemon.assert_nothing_left()

    def client(self, mode, url, *flags, timeout=90):
        return run_devtools_client(mode, url, *flags, host=self.host, timeout=timeout)

    def assert_worked(self, result):
        self.assertTrue(result.get("ok"), result)
        self.assertEqual(result["evaluate"], 2)
        self.assertGreater(result["screenshot_bytes"], SIXTEEN_MIB)

    def live_sessions(self):
        return self.daemon.request("GET", "/v1/sessions")[1]["sessions"]

    def open_chrome(self):
        return self.daemon.open({"kind": "chrome"})


class SessionUrls(ThroughCorral):
    def test_urls_name_corral_and_carry_no_token(self):
        session = self.open_chrome()
        devtools = session["devtools"]
        secret_path = f"/cdp/{session['id']}/"
        self.assertTrue(devtools["http"].startswith(f"http://{self.base}{secret_path}"), devtools)
        self.assertTrue(devtools["ws"].startswith(f"ws://{self.base}{secret_path}"), devtools)
        self.assertRegex(devtools["ws"], r"/devtools/browser/[0-9a-f-]+$")
        for url in (devtools["http"], devtools["ws"]):
            self.assertNotIn(TOKEN, url)
        if SESSION_NETWORK == "own":
            # The browser's own port is on the session's loopback, which
            # nothing outside the session reaches: there is none to name.
            self.assertIsNone(devtools["local"], devtools)
            return
        self.assertTrue(devtools["local"]["http"].startswith("http://127.0.0.1:"), devtools)
        # The browser's own port is loopback on the corral host: not reachable from the other host.
        local = self.client("puppeteer-browser-url", devtools["local"]["http"], "--expect-error", timeout=20)
        self.assertTrue(local["ok"], local)

    def test_puppeteer_browser_ws_endpoint(self):
        session = self.open_chrome()
        self.assert_worked(self.client("puppeteer-ws", session["devtools"]["ws"], "--work"))
        self.assertEqual([s["id"] for s in self.live_sessions()], [session["id"]])

    def test_playwright_connect_over_cdp_http_and_ws(self):
        session = self.open_chrome()
        for url in (session["devtools"]["http"], session["devtools"]["ws"]):
            with self.subTest(url=url.split("/cdp/")[0]):
                self.assert_worked(self.client("playwright-cdp", url, "--work"))

    def test_a_wrong_secret_or_an_unknown_session_opens_nothing(self):
        session = self.open_chrome()
        wrong_secret = re.sub(r"/cdp/([0-9a-f]{12})/[0-9a-f]{32}", r"/cdp/\1/" + "0" * 32, session["devtools"]["ws"])
        unknown = re.sub(r"/cdp/[0-9a-f]{12}/", "/cdp/0123456789ab/", session["devtools"]["ws"])
        for name, url in (("wrong secret", wrong_secret), ("unknown session", unknown)):
            with self.subTest(name):
                result = self.client("puppeteer-ws", url, "--expect-error", timeout=30)
                self.assertTrue(result["ok"], result)
                self.assertIn("404", result["error"]["message"])
        result = self.client("playwright-cdp", wrong_secret.replace("ws://", "http://").split("/devtools/")[0],
                             "--expect-error", timeout=30)
        self.assertTrue(result["ok"], result)
        self.assertEqual([s["id"] for s in self.live_sessions()], [session["id"]])

    def test_the_token_and_secrets_never_reach_the_log(self):
        session = self.open_chrome()
        self.client("puppeteer-ws", session["devtools"]["ws"])
        self.client("puppeteer-ws", f"ws://{self.base}/devtools/browser?token={TOKEN}")
        log = self.daemon.log()
        secret = re.search(r"/cdp/[0-9a-f]{12}/([0-9a-f]{32})", session["devtools"]["ws"]).group(1)
        self.assertNotIn(TOKEN, log)
        self.assertNotIn(secret, log)


class Disconnects(ThroughCorral):
    """When the session ends, for any reason, the client knows within 2 s."""

    def held(self, session):
        return held_devtools_client("puppeteer-ws", session["devtools"]["ws"], hold_seconds=30, host=self.host)

    def test_the_browser_killed_under_a_connected_client(self):
        self.assert_client_sees_end("browser killed", lambda session: os.kill(session["pid"], signal.SIGKILL))

    def test_the_session_closed_under_a_connected_client(self):
        self.assert_client_sees_end("session closed", lambda session: self.daemon.close(session["id"], grace=0))

    def assert_client_sees_end(self, what, end):
        """A connected client learns within 2 s that `end` ended its session."""
        session = self.open_chrome()
        with self.held(session) as client:
            ended_at = time.time() * 1000
            end(session)
            result = client.result()
        self.assertTrue(result["ok"], result)
        latency = result["disconnected_at_ms"] - ended_at
        print(f"\n{what}: the client saw the disconnect after {latency:.0f} ms")
        self.assertLess(latency, 2000)

    def test_an_open_connection_keeps_an_idle_session(self):
        # Polled through the list: a GET of the session itself would renew its lease.
        # Idle 4 s: Node and Puppeteer take 1-3 s to connect on a loaded 2-core host.
        session = self.daemon.open({"kind": "chrome", "idle_timeout": "4s"})
        with self.held(session) as client:
            time.sleep(6)
            self.assertEqual([s["state"] for s in self.live_sessions()], ["running"])
            client.kill()
        wait_until(lambda: not self.live_sessions(), 15, "the idle close")
        self.assertEqual(self.daemon.get(session["id"])[1]["report"]["reason"], "idle")


class ConnectToLaunch(ThroughCorral):
    def launch_url(self, **query):
        return f"ws://{self.base}/devtools/browser?" + urllib.parse.urlencode({"token": TOKEN, **query}, doseq=True)

    def assert_closed_as_disconnected(self):
        wait_until(lambda: not self.live_sessions(), 15, "the launched session to close")
        self.assertIn("reason=disconnected", self.daemon.log())

    def test_puppeteer_launches_and_its_disconnect_closes(self):
        result = self.client("puppeteer-ws", self.launch_url(args=["--window-size=800,600"]), "--work")
        self.assert_worked(result)
        self.assert_closed_as_disconnected()

    def test_playwright_from_the_root_url(self):
        self.assert_worked(self.client("playwright-cdp", f"http://{self.base}/?token={TOKEN}", "--work"))
        self.assert_closed_as_disconnected()

    def test_a_bad_token_or_bad_fields_open_nothing(self):
        for name, url in (("no token", f"ws://{self.base}/devtools/browser"),
                          ("wrong token", f"ws://{self.base}/devtools/browser?token=wrong-token-0123456789"),
                          ("bad field", self.launch_url(memory_max="lots"))):
            with self.subTest(name):
                result = self.client("puppeteer-ws", url, "--expect-error", timeout=30)
                self.assertTrue(result["ok"], result)
        self.assertEqual(self.live_sessions(), [])

    def test_parallel_connect_and_disconnect_loops_leak_nothing(self):
        # One round first: the relay's event loop makes its epoll, eventfd and timerfd at first use.
        self.assertTrue(self.client("puppeteer-ws", self.launch_url()).get("ok"))
        wait_until(lambda: not self.live_sessions(), 30, "the first launched session to close")
        disconnects_before = self.daemon.log().count("reason=disconnected")
        fds_before = open_fds(self.daemon.process.pid)
        results, started = [], time.monotonic()

        def loop():
            results.append(self.client("puppeteer-ws", self.launch_url(), "--rounds", "3", timeout=180))

        threads = [threading.Thread(target=loop) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for result in results:
            self.assertTrue(result.get("ok"), result)
        wait_until(lambda: not self.live_sessions(), 30, "every launched session to close")
        print(f"\n3 clients x 3 connect/disconnect rounds in {time.monotonic() - started:.1f} s")
        wait_until(lambda: open_fds(self.daemon.process.pid) <= fds_before + 2, 10,
                   f"the daemon's fds back to {fds_before}")
        self.assertEqual(self.daemon.log().count("reason=disconnected") - disconnects_before, 9)


class WithoutLaunchOnConnect(ThroughCorral):
    daemon_args = ()

    def test_the_root_json_version_is_an_error_naming_browser_ws_endpoint(self):
        # Older Puppeteer dropped the path of browserURL and asked corral's
        # root: that must be an error, not a new browser.
        status, reply = self.daemon.request("GET", "/json/version")
        self.assertEqual(status, 404, reply)
        self.assertIn("browserWSEndpoint", reply["error"]["message"])
        result = self.client("puppeteer-ws", f"ws://{self.base}/devtools/browser?token={TOKEN}", "--expect-error",
                             timeout=30)
        self.assertTrue(result["ok"], result)
        self.assertEqual(self.live_sessions(), [])

    def test_browser_url_of_a_session_reaches_that_session(self):
        # Puppeteer 25 keeps the path of browserURL: a session's devtools.http
        # reaches that session, and nothing new opens.
        session = self.open_chrome()
        self.assert_worked(self.client("puppeteer-browser-url", session["devtools"]["http"], "--work"))
        self.assertEqual([s["id"] for s in self.live_sessions()], [session["id"]])


class UrlsHandedOut(unittest.TestCase):
    """Behind a TLS proxy the URLs name it (--public-url); with only a unix
    socket there is no address to hand out, and devtools.local remains (null
    for a session in a network of its own: nothing outside reaches it)."""

    def assert_local(self, devtools):
        if SESSION_NETWORK == "own":
            self.assertIsNone(devtools["local"], devtools)
        else:
            self.assertTrue(devtools["local"]["http"].startswith("http://127.0.0.1:"), devtools)

    def test_public_url_names_the_proxy(self):
        daemon = Daemon("--public-url", "https://corral.example/c/", browser=os.environ["CORRAL_STUB"])
        try:
            devtools = daemon.open()["devtools"]
            self.assertTrue(devtools["http"].startswith("https://corral.example/c/cdp/"), devtools)
            self.assertTrue(devtools["ws"].startswith("wss://corral.example/c/cdp/"), devtools)
            self.assert_local(devtools)
        finally:
            daemon.remove()

    def test_a_unix_socket_hands_out_no_url(self):
        daemon = Daemon(browser=os.environ["CORRAL_STUB"], unix_socket=True)
        try:
            devtools = daemon.open()["devtools"]
            self.assertEqual((devtools["http"], devtools["ws"]), (None, None))
            self.assert_local(devtools)
        finally:
            daemon.remove()


class BrowserUrlOnLoopback(unittest.TestCase):
    """Puppeteer's browserURL sends no credentials at all: it works against a
    loopback corrald without a token, with connect-to-launch."""

    def setUp(self):
        self.daemon = Daemon("--launch-on-connect", browser=None)
        self.addCleanup(self.daemon.remove)

    def test_puppeteer_browser_url(self):
        result = run_devtools_client("puppeteer-browser-url", f"http://127.0.0.1:{self.daemon.port}", "--work",
                                     timeout=90)
        self.assertTrue(result.get("ok"), result)
        self.assertGreater(result["screenshot_bytes"], SIXTEEN_MIB)
        wait_until(lambda: not self.daemon.request("GET", "/v1/sessions")[1]["sessions"], 15, "the close")
        self.daemon.assert_nothing_left()


class APortThatIsNotTheSessions(unittest.TestCase):
    """The browser names a port held by a process outside its session (one
    that took the port first, or a browser that lies): corral proxies
    nothing to it, over HTTP or WebSocket."""

    def setUp(self):
        self.stranger = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeDevTools)
        threading.Thread(target=self.stranger.serve_forever, daemon=True).start()
        self.addCleanup(self.stranger.server_close)
        self.addCleanup(self.stranger.shutdown)
        wrapper = stub_wrapper("--claim-devtools-port", str(self.stranger.server_port))
        self.addCleanup(os.unlink, wrapper)
        # In a network of its own, the session never answers on the port it
        # names: no need to wait a minute for that.
        self.daemon = Daemon("--start-timeout", "3s", browser=wrapper) if SESSION_NETWORK == "own" \
            else Daemon(browser=wrapper)
        self.addCleanup(self.daemon.remove)

    def test_nothing_reaches_the_stranger(self):
        if SESSION_NETWORK == "own":
            return self.assert_never_ready()
        session = self.daemon.open()
        asked_at_start = FakeDevTools.asked  # the launcher's own readiness probe
        status, reply = self.daemon.request("GET", url_path(session["devtools"]["http"]) + "/json/version")
        self.assertEqual(status, 502, reply)
        self.assertIn("outside the session", reply["error"]["message"])
        with socket.create_connection(("127.0.0.1", self.daemon.port), timeout=10) as client:
            client.sendall(f"GET {url_path(session['devtools']['ws'])} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".encode())
            answer = client.recv(4096).decode()
        self.assertTrue(answer.startswith("HTTP/1.1 502"), answer)
        self.assertIn("outside the session", answer)
        self.assertEqual(FakeDevTools.asked, asked_at_start)
        self.daemon.close(session["id"], grace=0)
        self.daemon.assert_nothing_left()

    def assert_never_ready(self):
        # The port the file names is asked on the session's own loopback,
        # where only the session's processes listen: the stranger on the
        # host's loopback is never asked, not even by the readiness probe,
        # and the start fails instead.
        asked_before = FakeDevTools.asked
        status, reply = self.daemon.request("POST", "/v1/sessions", {})
        self.assertNotEqual(status, 201, reply)
        self.assertIn("did not open DevTools in time", reply["error"]["message"])
        self.assertEqual(FakeDevTools.asked, asked_before)
        self.daemon.assert_nothing_left()


def url_path(url):
    return "/" + url.split("//", 1)[1].split("/", 1)[1]


if __name__ == "__main__":
    unittest.main()
