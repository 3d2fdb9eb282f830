"""corral_client's own tests, against the fake corrald in fake_corral.py:
where the URL and token come from (corralctl's rules), how errors map to
CorralError, the Session API, and Chrome (with the Selenium installed, if
any): quit and cleanup on the way out, also after an exception, and the
report kept.

    python3 clients/python/tests/test_corral_client.py      (meson: suite unit, python-client)
"""
import logging
import os
import socket
import stat
import sys
import tempfile
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))   # corral_client from this tree
sys.path.insert(0, HERE)

import corral_client  # noqa: E402
from corral_client import Client, CorralError, Session, TokenFileError, read_token_file  # noqa: E402
from fake_corral import FakeCorral, error  # noqa: E402

try:
    import selenium
    from selenium.webdriver import ChromeOptions
    SELENIUM = selenium.__version__
except ImportError:
    SELENIUM = None

TOKEN = "0123456789abcdef0123"
NO_ENV = {"CORRAL_URL": "", "CORRAL_TOKEN_FILE": ""}


class TempDir(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="corral-client-test.")
        self.addCleanup(self.dir.cleanup)

    def token_file(self, content=TOKEN + "\n", mode=0o600, name="api.token"):
        path = os.path.join(self.dir.name, name)
        with open(path, "w") as f:
            f.write(content)
        os.chmod(path, mode)
        return path


class UrlAndToken(TempDir):
    def test_default_url(self):
        with mock.patch.dict(os.environ, NO_ENV):
            client = Client()
        self.assertEqual(client.url, "http://127.0.0.1:8420")
        self.assertIsNone(client.token)
        self.assertEqual(client.headers(), {})

    def test_env_url_and_argument_first(self):
        with mock.patch.dict(os.environ, {**NO_ENV, "CORRAL_URL": "http://corral.test:9000/"}):
            self.assertEqual(Client().url, "http://corral.test:9000")
            self.assertEqual((Client().host, Client().port), ("corral.test", 9000))
            self.assertEqual(Client(url="http://other:1").url, "http://other:1")

    def test_unix_url(self):
        client = Client(url="unix:/run/corral/api.sock")
        self.assertTrue(client.is_unix)
        self.assertEqual(client.unix_path, "/run/corral/api.sock")

    def test_bad_urls(self):
        for url in ("ftp://x", "127.0.0.1:8420", "unix:", "http://user:pw@corral:1", "http://corral:1/?token=x"):
            with self.subTest(url=url), self.assertRaises(CorralError) as caught:
                Client(url=url)
            self.assertEqual(caught.exception.code, "bad_url")
            self.assertNotIn("pw", str(caught.exception))

    def test_token_file_from_env_argument_and_token(self):
        path, other = self.token_file(), self.token_file("fedcba9876543210fedcba\n", name="other")
        with mock.patch.dict(os.environ, {**NO_ENV, "CORRAL_TOKEN_FILE": path}):
            self.assertEqual(Client().token, TOKEN)
            self.assertEqual(Client(token_file=other).token, "fedcba9876543210fedcba")
            self.assertEqual(Client(token="given-token-of-16+").token, "given-token-of-16+")
            self.assertEqual(Client().headers(), {"Authorization": f"Bearer {TOKEN}"})
            self.assertNotIn(TOKEN, repr(Client()))

    def test_token_file_rules(self):
        """What corralctl (src/util/token_file.cpp) refuses, refused here too."""
        cases = {
            "open to others": self.token_file(mode=0o644, name="a"),
            "writable by others": self.token_file(mode=0o602, name="b"),
            "empty": self.token_file("\n", name="c"),
            "short": self.token_file("short-token\n", name="d"),
            "space": self.token_file("0123456789 abcdef0123\n", name="e"),
            "not ascii": self.token_file("0123456789abcdef0123é\n", name="f"),
            "too large": self.token_file("x" * 5000, name="g"),
            "missing": os.path.join(self.dir.name, "missing"),
            "a directory": self.dir.name,
        }
        link = os.path.join(self.dir.name, "link")
        os.symlink(self.token_file(name="target"), link)
        cases["a symlink"] = link
        fifo = os.path.join(self.dir.name, "fifo")
        os.mkfifo(fifo, 0o600)
        cases["a fifo"] = fifo
        for what, path in cases.items():
            with self.subTest(what), self.assertRaises(TokenFileError) as caught:
                read_token_file(path)
            self.assertEqual(caught.exception.code, "token_file")
            self.assertIsNone(caught.exception.status)
            self.assertIn(path if what != "a directory" else "token file", str(caught.exception))

    def test_token_file_accepted(self):
        self.assertEqual(read_token_file(self.token_file(TOKEN + " \n\n", mode=0o640)), TOKEN)  # group may read
        with mock.patch.dict(os.environ, {**NO_ENV, "CORRAL_TOKEN_FILE": self.token_file(mode=0o644, name="o")}):
            with self.assertRaises(TokenFileError):
                Client()                        # the env's file is checked as strictly
            Client(token="explicit-token-wins")  # but a token given outright needs no file


class Fake(unittest.TestCase):
    """A fake corrald per test."""
    token = None
    fake_options = {}

    def setUp(self):
        self.fake = FakeCorral(token=self.token, **self.fake_options)
        self.addCleanup(self.fake.stop)
        self.client = Client(url=self.fake.url, token=self.token)


class Errors(Fake):
    def test_corral_error_fields(self):
        self.fake.overrides[("POST", r"/v1/sessions.*")] = (429, error("at_capacity", "no room for 2 s"))
        with self.assertRaises(CorralError) as caught:
            Session.open(client=self.client, wait=2)
        failure = caught.exception
        self.assertEqual((failure.status, failure.code, failure.message), (429, "at_capacity", "no room for 2 s"))
        self.assertEqual(failure.body, error("at_capacity", "no room for 2 s"))
        self.assertEqual(self.fake.calls("POST")[0][1], "/v1/sessions?wait=2s")

    def test_not_json_error(self):
        self.fake.overrides[("GET", r"/v1/health")] = (502, b"<html>bad gateway</html>")
        with self.assertRaises(CorralError) as caught:
            self.client.health()
        self.assertEqual((caught.exception.status, caught.exception.code), (502, "http_502"))

    def test_unreachable(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]  # closed again at once: nothing listens there
        with self.assertRaises(CorralError) as caught:
            Session.open(url=f"http://127.0.0.1:{port}")
        self.assertEqual((caught.exception.status, caught.exception.code), (None, "unreachable"))
        self.assertIn(f"127.0.0.1:{port}", caught.exception.message)

    def test_missing_token(self):
        self.fake.token = TOKEN
        with self.assertRaises(CorralError) as caught:
            Session.open(client=self.client)
        self.assertEqual((caught.exception.status, caught.exception.code), (401, "unauthorized"))

    def test_cleanup_failed_keeps_report(self):
        session = Session.open(client=self.client)
        report = {"id": session.id, "verified_empty": False, "stuck_pids": [42], "problems": ["pid 42 stuck"]}
        body = {**error("cleanup_failed", "session was not cleaned completely: pid 42 stuck"), "report": report}
        self.fake.overrides[("DELETE", r"/v1/sessions/.*")] = (500, body)
        with self.assertRaises(CorralError) as caught:
            session.close()
        self.assertEqual((caught.exception.status, caught.exception.code), (500, "cleanup_failed"))
        self.assertEqual(caught.exception.report, report)
        self.assertEqual(session.report, report)


class WithToken(Fake):
    token = TOKEN

    def test_bearer_on_every_request(self):
        with Session.open(client=self.client) as session:
            session.keepalive()
        for method, path, headers, _ in self.fake.requests:
            self.assertEqual(headers.get("Authorization"), f"Bearer {TOKEN}", f"{method} {path}")
            self.assertNotIn(TOKEN, path)


class Sessions(Fake):
    def test_open_fields_devtools_keepalive_close(self):
        session = Session.open(client=self.client, memory_max="1G", labels={"bot": "b1"}, ttl="10m")
        _, path, headers, body = self.fake.calls("POST", "/v1/sessions")[0]
        self.assertEqual(body, {"memory_max": "1G", "labels": {"bot": "b1"}, "ttl": "10m"})
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(session.kind, "chrome")
        self.assertTrue(session.devtools.ws.startswith(f"ws://corral.test/cdp/{session.id}/"))
        self.assertTrue(session.devtools.http.startswith("http://corral.test/cdp/"))
        self.assertTrue(session.devtools.local.http.startswith("http://127.0.0.1:"))
        self.assertIsNone(session.webdriver)
        self.assertEqual(session.keepalive()["id"], session.id)
        self.assertEqual(session.refresh()["state"], "running")
        report = session.close(grace=0)
        self.assertEqual(self.fake.calls("DELETE")[0][1], f"/v1/sessions/{session.id}?grace=0s")
        self.assertEqual(report["pending"], [], "close waits for the final report at GET")
        self.assertTrue(report["verified_empty"])
        self.assertIs(session.report, report)
        self.assertEqual(self.fake.open_sessions(), [])

    def test_chromedriver_kind(self):
        with Session.open(client=self.client, kind="chromedriver") as session:
            self.assertIsNone(session.devtools)
            self.assertRegex(session.webdriver, rf"^http://corral\.test/webdriver/{session.id}/[0-9a-f]{{32}}$")

    def test_context_manager_closes_on_exception(self):
        with self.assertRaises(ZeroDivisionError):
            with Session.open(client=self.client) as session:
                1 / 0
        self.assertTrue(session.closed)
        self.assertTrue(session.report["verified_empty"])
        self.assertEqual(self.fake.open_sessions(), [])

    def test_failed_close_does_not_hide_the_body_exception(self):
        with self.assertLogs("corral_client", logging.ERROR), self.assertRaises(KeyError):
            with Session.open(client=self.client) as session:
                self.fake.overrides[("DELETE", r"/v1/sessions/.*")] = (503, error("unavailable", "busy"))
                raise KeyError("the bot's own failure")
        self.assertFalse(session.closed)

    def test_closed_already_gives_its_report(self):
        session = Session.open(client=self.client)
        self.client.call("DELETE", f"/v1/sessions/{session.id}")  # e.g. corral's ttl, or another client
        report = session.close()
        self.assertEqual(report["id"], session.id)
        self.assertEqual(report["pending"], [])

    def test_close_without_waiting_then_report(self):
        self.fake.overrides[("DELETE", r"/v1/sessions/.*\?wait=0")] = (202, {"state": "closing"})
        session = Session.open(client=self.client)
        self.assertIsNone(session.close(wait=False))
        self.assertIsNone(session.report)
        self.client.call("DELETE", f"/v1/sessions/{session.id}")
        self.assertEqual(session.wait_report(timeout=5)["pending"], [])

    def test_attach(self):
        opened = Session.open(client=self.client)
        attached = Session.attach(opened.id, client=self.client)
        self.assertEqual(attached.id, opened.id)
        attached.close()
        self.assertEqual(self.fake.open_sessions(), [])


class UnixSocket(TempDir):
    def test_session_over_unix_socket(self):
        fake = FakeCorral(unix_path=os.path.join(self.dir.name, "api.sock"), token=TOKEN)
        self.addCleanup(fake.stop)
        with mock.patch.dict(os.environ, {"CORRAL_URL": fake.url, "CORRAL_TOKEN_FILE": self.token_file()}):
            with Session.open() as session:
                session.keepalive()
        self.assertTrue(session.report["verified_empty"])
        for _, _, headers, _ in fake.requests:
            self.assertEqual(headers["Host"], "localhost")
            self.assertEqual(headers["Authorization"], f"Bearer {TOKEN}")


@unittest.skipIf(SELENIUM is None, "Selenium is not installed for this interpreter "
                 f"({sys.executable}); Chrome needs it (Debian: python3-selenium)")
class ChromeDriver(Fake):
    token = TOKEN

    def setUp(self):
        super().setUp()
        logging.getLogger("selenium").setLevel(logging.WARNING)
        logging.getLogger("urllib3").setLevel(logging.WARNING)

    def chrome(self, **fields):
        return corral_client.Chrome(client=self.client, **fields)

    def test_with_block(self):
        options = ChromeOptions()
        options.add_argument("--window-size=800,600")
        chrome = self.chrome(options=options, memory_max="1G", ttl="10m", labels={"bot": "b1"})
        with chrome as driver:
            driver.get("http://example.test/")
            self.assertEqual(driver.title, "Fake http://example.test/")
            self.assertEqual(driver.session_id, chrome.session_id)
            self.assertEqual(self.fake.open_sessions(), [chrome.session_id])
        self.assertEqual(self.fake.open_sessions(), [])
        self.assertEqual(chrome.report["id"], chrome.session_id)
        self.assertEqual(chrome.report["pending"], [], "quit waits for the final report")
        self.assertEqual(len(self.fake.calls("DELETE", f"/session/{chrome.session_id}")), 1)
        always = self.fake.calls("POST", "/session")[0][3]["capabilities"]["alwaysMatch"]
        self.assertEqual(always["corral:options"], {"memory_max": "1G", "ttl": "10m", "labels": {"bot": "b1"}})
        self.assertEqual(always["goog:chromeOptions"]["args"], ["--window-size=800,600", "--headless=new"])
        self.assertEqual(options.arguments, ["--window-size=800,600"], "the caller's options are not changed")
        for method, path, headers, _ in self.fake.requests:
            self.assertEqual(headers.get("Authorization"), f"Bearer {TOKEN}", f"{method} {path}")
            self.assertNotIn(TOKEN, path)

    def test_exception_in_block_still_quits_and_cleans(self):
        chrome = self.chrome()
        with self.assertRaises(RuntimeError):
            with chrome as driver:
                driver.get("http://example.test/")
                raise RuntimeError("the bot failed")
        self.assertEqual(self.fake.open_sessions(), [])
        self.assertTrue(chrome.report["verified_empty"])
        self.assertEqual(len(self.fake.calls("DELETE", "/session/")), 1)

    def test_failed_quit_closes_through_the_api(self):
        chrome = self.chrome()
        with self.assertLogs("corral_client", logging.WARNING):
            with chrome as driver:
                self.fake.quit_fails = True
                driver.get("http://example.test/")
        self.assertEqual(self.fake.open_sessions(), [])
        self.assertEqual(len(self.fake.calls("DELETE", f"/v1/sessions/{chrome.session_id}")), 1)
        self.assertEqual(chrome.report["pending"], [])

    def test_driver_quit_inside_the_block(self):
        chrome = self.chrome()
        with chrome as driver:
            driver.quit()
            self.assertEqual(chrome.report["pending"], [])
        self.assertEqual(len(self.fake.calls("DELETE")), 1, "one quit, not two")

    def test_without_with(self):
        chrome = self.chrome(headless=False)
        driver = chrome.start()
        self.assertEqual(chrome.info()["state"], "running")
        self.assertNotIn("goog:chromeOptions", self.fake.calls("POST", "/session")[0][3]["capabilities"]
                         ["alwaysMatch"].get("goog:chromeOptions", {}).get("args", []))
        driver.get("http://example.test/")
        report = chrome.quit()
        self.assertIs(report, chrome.report)
        self.assertIs(chrome.quit(), report, "a second quit changes nothing")

    def test_corral_errors_from_the_endpoint(self):
        self.fake.overrides[("POST", r"/session")] = (422, error("invalid_value", "memory_max: not a size"))
        with self.assertRaises(CorralError) as caught:
            self.chrome(memory_max="lots").start()
        self.assertEqual((caught.exception.status, caught.exception.code), (422, "invalid_value"))

    def test_bad_token(self):
        self.fake.token = "another-token-entirely"
        with self.assertRaises(CorralError) as caught:
            self.chrome().start()
        self.assertEqual((caught.exception.status, caught.exception.code), (401, "unauthorized"))

    def test_bad_token_w3c_shaped(self):
        """corrald's WebDriver routes answer in W3C's shape; a 401 is still unauthorized."""
        self.fake.overrides[("POST", r"/session")] = (401, {"value": {
            "error": "unknown error", "message": "missing or wrong token", "stacktrace": ""}})
        with self.assertRaises(CorralError) as caught:
            self.chrome().start()
        self.assertEqual((caught.exception.status, caught.exception.code), (401, "unauthorized"))

    def test_corrald_without_the_endpoint(self):
        self.fake.webdriver = False
        with self.assertRaises(CorralError) as caught:
            with self.chrome():
                self.fail("no driver without the endpoint")
        self.assertEqual((caught.exception.status, caught.exception.code), (404, "not_found"))
        self.assertIn("POST /session", caught.exception.message)

    def test_unix_url_refused_with_a_reason(self):
        with self.assertRaises(CorralError) as caught:
            corral_client.Chrome(url="unix:/run/corral/api.sock")
        self.assertEqual(caught.exception.code, "unsupported")
        self.assertIn("unix socket", caught.exception.message)

    def test_kind_is_refused(self):
        with self.assertRaises(TypeError):
            corral_client.Chrome(client=self.client, kind="chrome")


class Package(unittest.TestCase):
    def test_import_needs_no_selenium(self):
        """Session users need no Selenium: importing the package does not load it."""
        import subprocess
        code = ("import sys; sys.modules['selenium'] = None; import corral_client; "
                "corral_client.Session; corral_client.Client; print('ok')")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                                env={**os.environ, "PYTHONPATH": os.path.dirname(HERE)})
        self.assertEqual(result.stdout.strip(), "ok", result.stderr)


if __name__ == "__main__":
    print(f"corral_client tests with {sys.executable} {sys.version.split()[0]}, "
          f"Selenium {SELENIUM or 'not installed'}", flush=True)
    unittest.main(verbosity=2)
