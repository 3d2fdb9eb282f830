"""clients/python (corral_client) against a real corrald and a real Chromium,
with a token: Session opened and closed with its report and nothing left
on the host, also when the bot's code raises; and Chrome, the drop-in for
the seed's ChromeWithProperCleanup, through corrald's WebDriver endpoint
(POST /session): get, title, quit, and the exception path.

The Chrome tests need that endpoint. A corrald without it answers
POST /session with 404 "no such endpoint"; they are skipped then, and say so.
"""
import http.client
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "clients", "python"))

import corral_client  # noqa: E402
from corral_client import CorralError, Session  # noqa: E402
from corral_harness import DaemonTestCase, in_network_of, processes_in, wait_until  # noqa: E402

try:
    from selenium import webdriver
    SELENIUM = True
except ImportError:
    SELENIUM = False

TOKEN = "python-client-e2e-token-0123456789"
# What a WebDriver bot asks of Chrome (as tests/e2e/test_chromium.py); no --no-sandbox.
CHROME_FLAGS = ["--headless=new", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-dev-shm-usage"]
PAGE = "data:text/html,<title>corral python client</title><p>hello"


def http_json(url, timeout=30):
    """GET a JSON document from a DevTools http endpoint (no token: its own secret path)."""
    host_port, _, path = url.split("//", 1)[1].partition("/")
    host, port = host_port.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    connection.request("GET", "/" + path)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, json.loads(body or b"null")


def webdriver_endpoint_missing(daemon):
    """True if corrald has no WebDriver endpoint: POST /session answers 404
    "no such endpoint". The probe's body (a JSON array) is no valid new
    session request, so an endpoint refuses it without opening anything."""
    status, reply = daemon.request("POST", "/session", [], timeout=60)
    if status == 200 and isinstance(reply, dict):  # an endpoint that opened one all the same: close it
        session_id = (reply.get("value") or {}).get("sessionId")
        if session_id:
            daemon.request("DELETE", f"/session/{session_id}", timeout=60)
    return status == 404 and isinstance(reply, dict) and reply.get("error", {}).get("message") == "no such endpoint"


class Checks:
    """What both test classes check of a session."""

    def assert_closed_clean(self, report, session_id, pids):
        self.assertEqual(report["id"], session_id)
        self.assertTrue(report["verified_empty"], report)
        self.assertEqual(report["stuck_pids"], [], report)
        self.assertEqual(report.get("pending", []), [], "the report kept is the final one")
        self.assertGreater(len(pids), 3, "Chromium ran its helpers in the session")
        self.daemon.assert_nothing_left(pids)

    def session_pids(self, session_id, minimum=4):
        cgroup = self.daemon.get(session_id)[1]["cgroup"]
        wait_until(lambda: len(processes_in(cgroup)) >= minimum, 20, f"{minimum} processes in {cgroup}")
        return processes_in(cgroup)


class PythonClient(Checks, DaemonTestCase):
    use_stub = False
    daemon_options = {"token": TOKEN}
    # memory_max goes through as asked; a host without the memory controller cannot hold it.
    daemon_args = ("--allow-unenforced-limits",)

    def connection(self):
        return {"url": self.daemon.url, "token_file": self.daemon.token_file}

    # --- Session: the raw API ---------------------------------------------------
    def test_session_open_close(self):
        session = Session.open(**self.connection(), memory_max="1G", ttl="10m", labels={"bot": "python-client"})
        self.assertEqual(session.info["labels"], {"bot": "python-client"})
        self.assertIsNotNone(session.devtools.ws)
        status, version = http_json(session.devtools.http + "/json/version")
        self.assertEqual(status, 200)
        self.assertIn("Chrome", version["Browser"])
        self.assertEqual(session.keepalive()["id"], session.id)
        pids = self.session_pids(session.id)
        report = session.close(grace=1)
        self.assertIs(session.report, report)
        self.assertTrue(session.closed)
        self.assert_closed_clean(report, session.id, pids)
        closed = session.refresh()
        self.assertEqual(closed["state"], "closed")
        self.assertEqual(closed["report"]["id"], session.id)

    def test_session_closed_when_the_bot_raises(self):
        pids = []
        with self.assertRaises(RuntimeError):
            with Session.open(**self.connection()) as session:
                pids = self.session_pids(session.id)
                raise RuntimeError("the bot failed")
        self.assert_closed_clean(session.report, session.id, pids)

    def test_wrong_token_refused(self):
        with self.assertRaises(CorralError) as caught:
            Session.open(url=self.daemon.url, token="not-the-token-of-this-daemon")
        self.assertEqual((caught.exception.status, caught.exception.code), (401, "unauthorized"))

    @unittest.skipUnless(SELENIUM, "Selenium is not installed for this interpreter")
    def test_chromedriver_session_with_plain_remote(self):
        """What a bot does with a chromedriver session and its own webdriver.Remote."""
        with Session.open(**self.connection(), kind="chromedriver") as session:
            options = webdriver.ChromeOptions()
            for flag in CHROME_FLAGS:
                options.add_argument(flag)
            # Its direct URL is on the session's loopback: in a network of the
            # session's own, reached from inside it only (as corrald connects);
            # corral's API, on the host's loopback, from outside.
            with in_network_of(session.info["pid"]):
                driver = webdriver.Remote(command_executor=session.webdriver, options=options)
            try:
                with in_network_of(session.info["pid"]):
                    driver.get(PAGE)
                    self.assertEqual(driver.title, "corral python client")
                pids = self.session_pids(session.id)
            finally:
                with in_network_of(session.info["pid"]):
                    driver.quit()
        self.assert_closed_clean(session.report, session.id, pids)


@unittest.skipUnless(SELENIUM, "Selenium is not installed for this interpreter (Debian: python3-selenium)")
class PythonClientChrome(Checks, DaemonTestCase):
    """corral_client.Chrome through the WebDriver endpoint."""
    use_stub = False
    daemon_options = {"token": TOKEN}
    # memory_max goes through as asked; a host without the memory controller cannot hold it.
    daemon_args = ("--allow-unenforced-limits",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if webdriver_endpoint_missing(cls.daemon):
            cls.daemon.remove()
            raise unittest.SkipTest("corrald has no WebDriver endpoint yet: POST /session answers 404 "
                                    "'no such endpoint' (the endpoint comes with branch webdriver)")

    def options(self):
        options = webdriver.ChromeOptions()
        for flag in CHROME_FLAGS:
            options.add_argument(flag)
        return options

    def chrome(self, **fields):
        return corral_client.Chrome(options=self.options(), url=self.daemon.url,
                                    token_file=self.daemon.token_file, **fields)

    def test_get_title_quit(self):
        chrome = self.chrome(memory_max="1G", ttl="10m", labels={"bot": "python-client"})
        with chrome as driver:
            driver.get(PAGE)
            self.assertEqual(driver.title, "corral python client")
            status, session = self.daemon.get(chrome.session_id)
            self.assertEqual(status, 200, session)
            self.assertEqual(session["state"], "running")
            self.assertEqual(session["labels"], {"bot": "python-client"})
            self.assertIsNotNone(session["webdriver"])
            pids = self.session_pids(chrome.session_id)
        self.assertEqual(self.daemon.get(chrome.session_id)[1]["state"], "closed")
        self.assert_closed_clean(chrome.report, chrome.session_id, pids)

    def test_exception_in_the_bot_still_cleans(self):
        chrome = self.chrome()
        pids = []
        with self.assertRaises(RuntimeError):
            with chrome as driver:
                driver.get(PAGE)
                pids = self.session_pids(chrome.session_id)
                raise RuntimeError("the bot failed mid-page")
        self.assert_closed_clean(chrome.report, chrome.session_id, pids)


if __name__ == "__main__":
    unittest.main(verbosity=2)
