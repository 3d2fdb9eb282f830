"""The console at /ui/ (issue 24): static files without a token but with a
strict Content-Security-Policy, nothing else on disk reachable through
it, the request guard admitting the page's own origin and no other, the
API's closed list and Take over mark, and the console itself in a real
headless Chromium (tests/clients/console_client.mjs, Playwright): login,
the live list, a session's screencast while a Puppeteer bot navigates,
Take over typing into the bot's page, and a page on another origin that
can neither read nor drive it."""
import os
import shutil
import sys
import threading
import time
import tempfile
import unittest

from client_kit import node, private_tmp, parse_result, CLIENTS, _run_here
from corral_harness import DaemonTestCase, Daemon, as_uid

TOKEN = "corral-console-token-" + os.urandom(12).hex()
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UI = os.path.join(REPO, "ui")
SCRIPT = os.path.join(CLIENTS, "console_client.mjs")


def run_console(scenario, daemon, timeout=120):
    """One scenario of console_client.mjs against `daemon`; its JSON result."""
    argv = [node(), SCRIPT, scenario, f"http://127.0.0.1:{daemon.port}", daemon.token or "", "--timeout",
            str(timeout)]
    with private_tmp() as env:
        completed = _run_here(argv, timeout=timeout + 15, env=env)
    result = parse_result(completed.stdout, completed.returncode, completed.stderr)
    assert result["ok"], f"{scenario}: {result}\n{daemon.log()[-3000:]}"
    return result


class CpuSampler(threading.Thread):
    """corrald's CPU time and that of the sessions' cgroup (the parent of
    every session's), every 0.2 s, with the wall-clock time in epoch ms."""

    def __init__(self, pid, sessions_cgroup):
        super().__init__(daemon=True)
        self.pid, self.cgroup = pid, sessions_cgroup
        self.samples, self.done = [], threading.Event()

    def corrald_usec(self):
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1_000_000 // os.sysconf("SC_CLK_TCK")

    def sessions_usec(self):
        with open(os.path.join(self.cgroup, "cpu.stat")) as f:
            return int(f.readline().split()[1])  # usage_usec

    def run(self):
        while not self.done.wait(0.2):
            self.samples.append((time.time() * 1000, self.corrald_usec(), self.sessions_usec()))

    def percent(self, start_ms, end_ms):
        """(corrald, sessions) CPU % of one core between two times."""
        inside = [s for s in self.samples if start_ms <= s[0] <= end_ms]
        first, last = inside[0], inside[-1]
        wall = (last[0] - first[0]) * 1000
        return tuple(round(100 * (last[i] - first[i]) / wall, 1) for i in (1, 2))


class StaticFiles(DaemonTestCase):
    daemon_options = {"token": TOKEN}

    def get(self, path, headers=None):
        return self.daemon.exchange("GET", path, headers=headers or {}, timeout=30)

    def test_the_page_needs_no_token_and_keeps_to_itself(self):
        status, headers, body = self.get("/ui/")
        self.assertEqual(status, 200, body)
        self.assertIn('<script type="module" src="app.js"></script>', body)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        csp = headers["Content-Security-Policy"]
        for directive in ("default-src 'none'", "script-src 'self'", "connect-src 'self'",
                          "frame-ancestors 'none'"):
            self.assertIn(directive, csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertEqual(headers["X-Content-Type-Options"], "nosniff")
        status, headers, body = self.get("/ui/app.js")
        self.assertEqual((status, headers["Content-Type"]), (200, "text/javascript; charset=utf-8"))
        status, headers, _ = self.get("/ui")
        self.assertEqual((status, headers["Location"]), (308, "ui/"))
        # The API behind it still wants the token.
        self.assertEqual(self.daemon.request("GET", "/v1/sessions", auth=False)[0], 401)

    def test_no_path_leaves_the_console_directory(self):
        for path in ("/ui/../v1/sessions", "/ui/%2e%2e/%2e%2e/etc/passwd", "/ui/..%2fmeson.build",
                     "/ui/%2E%2E%2Fui%2Findex.html", "/ui//etc/passwd", "/ui/.hidden.js", "/ui/nothing.js",
                     "/ui/index.html%00.js", "/ui/INDEX.HTML"):
            with self.subTest(path):
                status, _, body = self.get(path)
                self.assertEqual((status, body["error"]["code"]), (404, "not_found"), body)

    def test_a_session_uid_is_refused_as_on_the_api(self):
        code = ("import urllib.request,urllib.error,sys\n"
                "try: print(urllib.request.urlopen(sys.argv[1]).status)\n"
                "except urllib.error.HTTPError as e: print(e.code)")
        session = self.daemon.open()
        self.assertIsNotNone(session["uid"])
        url = f"http://127.0.0.1:{self.daemon.port}/ui/"
        self.assertEqual(as_uid(session["uid"], "python3", "-c", code, url).stdout.strip(), "403")
        self.assertEqual(as_uid(65534, "python3", "-c", code, url).stdout.strip(), "200")  # nobody: no session

    def test_a_foreign_host_is_refused(self):
        status, _, body = self.get("/ui/", {"Host": "evil.example"})
        self.assertEqual((status, body["error"]["code"]), (403, "host_not_allowed"))

    def test_the_pages_own_origin_is_admitted_and_no_other(self):
        port = self.daemon.port
        for host, origin, expected in ((f"127.0.0.1:{port}", f"http://127.0.0.1:{port}", 200),
                                       (f"localhost:{port}", f"http://localhost:{port}", 200),
                                       (f"127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}", 403),
                                       (f"127.0.0.1:{port}", f"https://127.0.0.1:{port}", 403),
                                       (f"127.0.0.1:{port}", f"http://localhost:{port}", 403),
                                       (f"evil.example:{port}", f"http://evil.example:{port}", 403)):
            with self.subTest(origin=origin, host=host):
                status, body = self.daemon.request("GET", "/v1/sessions", headers={"Host": host, "Origin": origin})
                self.assertEqual(status, expected, body)


class ConsoleApi(DaemonTestCase):
    """What the console asks of the API beyond what was there."""

    def test_closed_sessions_are_listed_with_their_reports(self):
        session = self.daemon.open({"labels": {"who": "closed-list"}})
        self.daemon.close(session["id"], grace=0)
        status, body = self.daemon.request("GET", "/v1/sessions?state=closed")
        self.assertEqual(status, 200)
        closed = [s for s in body["sessions"] if s["id"] == session["id"]]
        self.assertEqual(len(closed), 1)
        self.assertTrue(closed[0]["report"]["verified_empty"])
        self.assertEqual(closed[0]["labels"], {"who": "closed-list"})
        self.assertEqual(self.daemon.request("GET", "/v1/sessions?state=open")[0], 422)

    def test_take_over_marks_the_session(self):
        session = self.daemon.open()
        self.assertIs(session["controlled_by_console"], False)
        status, body = self.daemon.request("POST", f"/v1/sessions/{session['id']}/control")
        self.assertEqual((status, body["controlled_by_console"]), (200, True))
        self.assertIs(self.daemon.get(session["id"])[1]["controlled_by_console"], True)
        listed = self.daemon.request("GET", "/v1/sessions")[1]["sessions"]
        self.assertIs(listed[0]["controlled_by_console"], True)
        status, body = self.daemon.request("DELETE", f"/v1/sessions/{session['id']}/control")
        self.assertEqual((status, body["controlled_by_console"]), (200, False))
        self.assertEqual(self.daemon.request("POST", "/v1/sessions/0123456789ab/control")[0], 404)
        self.daemon.close(session["id"], grace=0)
        self.assertEqual(self.daemon.request("POST", f"/v1/sessions/{session['id']}/control")[0], 409)


class OtherUiDir(unittest.TestCase):
    """--ui-dir: only the directory's own regular files with plain names."""

    def test_links_and_subdirectories_are_not_served(self):
        ui = tempfile.mkdtemp(prefix="corral-test-ui.")
        try:
            shutil.copy(os.path.join(UI, "index.html"), ui)
            os.symlink("/etc/passwd", os.path.join(ui, "passwd.js"))
            os.symlink(os.path.join(UI, "app.js"), os.path.join(ui, "app.js"))
            os.mkdir(os.path.join(ui, "sub"))
            with open(os.path.join(ui, "sub", "x.js"), "w") as f:
                f.write("x")
            daemon = Daemon("--ui-dir", ui, browser=os.environ["CORRAL_STUB"])
            try:
                self.assertEqual(daemon.exchange("GET", "/ui/")[0], 200)
                for path in ("/ui/passwd.js", "/ui/app.js", "/ui/sub/x.js", "/ui/sub"):
                    with self.subTest(path):
                        self.assertEqual(daemon.exchange("GET", path)[0], 404)
            finally:
                daemon.remove()
        finally:
            shutil.rmtree(ui)

    def test_a_missing_directory_is_said_at_ui(self):
        daemon = Daemon("--ui-dir", "/nonexistent/corral-ui", browser=os.environ["CORRAL_STUB"])
        try:
            status, _, body = daemon.exchange("GET", "/ui/")
            self.assertEqual(status, 404)
            self.assertIn("/nonexistent/corral-ui", body["error"]["message"])
            self.assertEqual(daemon.request("GET", "/v1/health")[0], 200)
        finally:
            daemon.remove()


class InTheBrowserWithStubs(DaemonTestCase):
    daemon_options = {"token": TOKEN}

    def test_login_live_list_and_close(self):
        result = run_console("login-and-list", self.daemon)
        self.assertTrue(result["without_token"]["fleet_hidden"])
        self.assertEqual(result["without_token"]["rows"], 0)
        self.assertTrue(result["wrong_token"]["login_shown"] and result["wrong_token"]["fleet_hidden"])
        self.assertIn("wrong token", result["wrong_token"]["error"])
        self.assertLess(result["appeared_ms"], 5000)
        self.assertEqual(result["filtered"], result["ids"][0])
        self.assertTrue(result["api_report"]["verified_empty"])
        self.assertIn("true", result["closed_row"])  # verified empty, in the closed list
        self.assertEqual(result["console_report"]["id"], result["ids"][1])
        self.assertTrue(result["console_report"]["verified_empty"])
        self.assertTrue(result["not_reloaded"])
        self.assertNotIn(TOKEN, result["url"])
        self.assertEqual(result["cookies"], [])
        self.assertTrue(result["stored"])


class WithoutAToken(DaemonTestCase):
    """A tokenless corrald serves this test's browser (root) without one,
    and so does the console: no login."""

    def test_no_login_for_a_caller_the_api_serves(self):
        result = run_console("tokenless", self.daemon)
        self.assertTrue(result["login_hidden"])
        self.assertTrue(result["status"].startswith("updated"), result)


class FiftySessions(DaemonTestCase):
    # One shared session user: a test block's pool has 16 uids.
    daemon_args = ("--session-user", "root", "--max-sessions", "60")
    daemon_options = {"token": TOKEN}

    def test_fifty_sessions_update_within_a_second(self):
        result = run_console("fifty", self.daemon, timeout=180)
        self.assertTrue(result["status"].startswith("updated"), result)
        self.assertLess(max(result["poll_ms"]), 1000, result)
        self.assertLess(result["close_shown_ms"], 2500, result)
        print(f"\n50 sessions: polls took {result['poll_ms']} ms; a close showed after "
              f"{result['close_shown_ms']} ms", file=sys.stderr)


class InTheBrowserWithChromium(DaemonTestCase):
    daemon_options = {"token": TOKEN}
    use_stub = False

    def test_a_sessions_screencast_follows_the_bot_and_stops(self):
        result = run_console("live-view", self.daemon)
        self.assertGreater(result["frames_while_watching"], 1)
        self.assertLessEqual(result["frames_per_second"], 12, result)
        self.assertEqual(result["frames_after_close"], 0, result)
        self.assertEqual(result["sockets_closed"], result["sockets"], result)
        self.assertTrue(result["bot_still_works"])
        self.assertTrue(any(url.startswith("data:text/html") for url in result["tabs"]), result["tabs"])

    def test_a_selenium_sessions_screencast_too(self):
        result = run_console("live-view-webdriver", self.daemon)
        self.assertEqual(result["kind"], "chromedriver")
        self.assertGreater(result["frames_while_watching"], 1)
        self.assertEqual(result["frames_after_close"], 0, result)
        self.assertEqual(result["sockets_closed"], result["sockets"], result)
        self.assertTrue(result["bot_still_works"])

    def test_what_watching_costs(self):
        """The issue's Measured: CPU of corrald and of the sessions' cgroup
        while a bot's page animates, unwatched, watched, and after the view
        closed; the stream's rate. Printed, and bounded loosely."""
        cgroup = self.daemon.request("GET", "/v1/usage")[1]["all_sessions"]["cgroup"]
        sampler = CpuSampler(self.daemon.process.pid, cgroup)
        sampler.start()
        try:
            result = run_console("measure", self.daemon)
        finally:
            sampler.done.set()
            sampler.join()
        p = result["phases"]
        unwatched = sampler.percent(p["unwatched"] + 1000, p["watched"])
        watched = sampler.percent(p["watched"] + 1000, p["closed"])
        idle_in_2s = sampler.percent(p["closed"] + 2000, p["end"])
        print(f"\nscreencast: {result['frames_per_second']:.1f} frames/s, "
              f"{result['bytes_per_second'] / 1024:.0f} KiB/s; CPU % (corrald, session): unwatched {unwatched}, "
              f"watched {watched}, from 2 s after the view closed {idle_in_2s}", file=sys.stderr)
        self.assertEqual(result["frames_after_close"], 0)
        self.assertLess(result["frames_per_second"], 10)
        self.assertLess(idle_in_2s[0], 5, "corrald is back to idle within 2 s of the view closing")

    def test_take_over_types_into_the_bots_page(self):
        result = run_console("take-over", self.daemon)
        self.assertEqual((result["before"], result["during"]), (False, True))
        self.assertTrue(result["mark_shown"])
        self.assertEqual(result["typed"], "hello corral")

    def test_another_origin_can_neither_read_nor_drive_it(self):
        result = run_console("foreign-origin", self.daemon)
        self.assertIsNone(result["token_visible"])
        self.assertEqual(result["read"], "blocked")
        self.assertEqual(result["websocket"], "refused")
        self.assertEqual(result["frame_document"], "blocked")
        # frame-ancestors 'none': the framed console is Chrome's error page, never the console.
        self.assertIn("chrome-error://chromewebdata/", result["frame_urls"])
        self.assertFalse([url for url in result["frame_urls"] if "/ui/" in url], result["frame_urls"])
        self.assertEqual(result["sessions_after"], [result["session"]])  # none opened, none closed


if __name__ == "__main__":
    unittest.main()
