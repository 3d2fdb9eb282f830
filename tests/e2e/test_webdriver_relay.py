"""A kind=chromedriver session that POST /v1/sessions opened is driven at its
`webdriver` URL, a base on corral's address that carries the session's
secret (issue 21): http://HOST:PORT/webdriver/<id>/<secret>. Debian's
python3-selenium on another host drives it (new session, a data: page, its
title, CDP, quit) with no token; what corral's own WebDriver endpoint
refuses is refused there too, in W3C's shape, and starts no browser; one
WebDriver session at a time; a quit leaves the corral session running; a
wrong secret is refused; and the URL names neither chromedriver's loopback
port nor its own secret base."""
import json
import os
import urllib.error
import urllib.request
import unittest

from corral_harness import Daemon, chromedriver_of, processes_in, wait_until
from other_host import OtherHost

TOKEN = "corral-test-token-" + os.urandom(12).hex()
HERE = os.path.dirname(os.path.abspath(__file__))
PY_CLIENT = ["/usr/bin/python3", os.path.join(HERE, "webdriver_client.py")]


def plain_http(method, url, body=None, token=None):
    """(status, text) of one request, without the token unless given."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, method=method, headers=headers,
                                     data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


class RelayedWebDriver(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.host = OtherHost().__enter__()
        try:
            cls.daemon = Daemon("--max-sessions", "3", browser=None, listen=f"{cls.host.host_address}:0", token=TOKEN)
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
                self.daemon.request("DELETE", f"/v1/sessions/{session['id']}?grace=0")
        wait_until(lambda: not self.live_sessions(), 30, "every session to close")
        self.daemon.assert_nothing_left()

    def live_sessions(self):
        return self.daemon.request("GET", "/v1/sessions")[1]["sessions"]

    def python_bot(self, url, page, *flags):
        """webdriver_client.py on the other host; its JSON line."""
        completed = self.host.run([*PY_CLIENT, url, page, *flags], timeout=120)
        lines = completed.stdout.strip().splitlines()
        self.assertTrue(lines, completed.stderr[-2000:])
        return json.loads(lines[-1])

    def relayed_base(self, session):
        """The session's `webdriver` URL, checked: corral's address and the session's secret, not chromedriver's."""
        url = session["webdriver"]
        self.assertRegex(url, rf"^http://{self.base}/webdriver/{session['id']}/[0-9a-f]{{32}}$")
        port, base = chromedriver_of(session)
        self.assertNotIn(f"127.0.0.1:{port}", url)
        self.assertNotIn(base.strip("/"), url)
        return url

    def test_selenium_drives_a_chromedriver_session_through_its_relayed_base(self):
        session = self.daemon.open({"kind": "chromedriver"})
        url = self.relayed_base(session)
        status, text = plain_http("GET", url + "/status")
        self.assertEqual((status, json.loads(text)["value"]["ready"]), (200, True), text[:300])
        # Selenium on the other host, with the URL as the session JSON has it, and no token.
        page = "data:text/html,<title>relayed</title>"
        result = self.python_bot(url, page)
        self.assertTrue(result["ok"], result)
        self.assertEqual((result["title"], result["session_id"]), ("relayed", session["id"]))
        self.assertEqual(result["cdp_evaluate"], 42)
        self.assertTrue(any("--no-sandbox" in w for w in result["capabilities"]["corral:warnings"]), result)
        self.assertNotIn("debuggerAddress", result["capabilities"]["goog:chromeOptions"])
        # The quit ended the WebDriver session, not corral's: its owner closes that.
        self.assertEqual(self.daemon.get(session["id"])[1]["state"], "running")
        again = self.python_bot(url, page, "--no-quit")
        self.assertTrue(again["ok"], again)
        # One WebDriver session at a time: a second while one is bound is not created.
        second = self.python_bot(url, "-")
        self.assertEqual(second.get("exception"), "SessionNotCreatedException", second)
        status, _ = plain_http("GET", f"http://{self.base}/session/{session['id']}/title")
        self.assertEqual(status, 401, "corral's own endpoint still wants the token")
        status, text = plain_http("GET", f"{url}/session/{session['id']}/title")
        self.assertEqual((status, json.loads(text)["value"]), (200, "relayed"))
        self.assertEqual(plain_http("DELETE", f"{url}/session/{session['id']}")[0], 200)
        self.assertTrue(self.daemon.close(session["id"])["verified_empty"])

    def test_relayed_new_session_refusals_reach_no_chromedriver(self):
        session = self.daemon.open({"kind": "chromedriver"})
        url = self.relayed_base(session)
        before = sorted(processes_in(session["cgroup"]))
        cases = [({"goog:chromeOptions": {"debuggerAddress": "127.0.0.1:9222"}}, 400, "invalid argument"),
                 ({"goog:chromeOptions": {"args": ["--renderer-cmd-prefix=/bin/sh"]}}, 400, "invalid argument"),
                 ({"goog:chromeOptions": {"binary": "/bin/sh"}}, 400, "invalid argument"),
                 ({"corral:options": {"memory_max": "1G"}}, 400, "invalid argument"),
                 ({"browserName": "firefox"}, 500, "session not created")]
        for caps, expected_status, error in cases:
            status, text = plain_http("POST", url + "/session", {"capabilities": {"alwaysMatch": caps}})
            self.assertEqual((status, json.loads(text)["value"]["error"]), (expected_status, error), (caps, text[:300]))
        # The same through Selenium: its typed exception, from W3C's shape.
        refused = self.python_bot(url, "-", "--args", '["--not-on-the-allowlist"]')
        self.assertEqual(refused.get("exception"), "InvalidArgumentException", refused)
        self.assertEqual(sorted(processes_in(session["cgroup"])), before, "a refused request started a browser")
        # Refusals bind nothing: the session is still there to drive.
        result = self.python_bot(url, "-")
        self.assertTrue(result["ok"], result)

    def test_relayed_base_wants_the_sessions_own_secret(self):
        session = self.daemon.open({"kind": "chromedriver"})
        other = self.daemon.open({"kind": "chromedriver"})
        url = self.relayed_base(session)
        before = sorted(processes_in(session["cgroup"]))
        wrong = [url[:-32] + "0" * 32,                                        # a guessed secret
                 url[:-32] + other["webdriver"][-32:],                         # another session's secret
                 url.replace(session["id"], other["id"]),                      # its secret on another session
                 url[:-1]]                                                     # not a secret at all
        new_session = {"capabilities": {"alwaysMatch": {}}}
        for base in wrong:
            for method, path, body in [("GET", "/status", None), ("POST", "/session", new_session),
                                       ("GET", f"/session/{session['id']}/title", None)]:
                status, text = plain_http(method, base + path, body)
                self.assertEqual((status, json.loads(text)["value"]["error"]), (404, "invalid session id"),
                                 (base, method, path, text[:300]))
        # The token is no substitute for the secret.
        status, text = plain_http("GET", wrong[0] + "/status", token=TOKEN)
        self.assertEqual((status, json.loads(text)["value"]["error"]), (404, "invalid session id"))
        self.assertEqual(sorted(processes_in(session["cgroup"])), before)


if __name__ == "__main__":
    unittest.main(verbosity=2)
