"""Real Chromium, both kinds, through the HTTP API: every process the browser
makes (crashpad handlers included) is in the session's cgroup, runs as the
session user with Chrome's own sandbox on, and after close none of them, nor
any file of the session, is left."""
import glob
import http.client
import json
import os
import signal
import sys
import time
import unittest

from corral_harness import (SESSION_NETWORK, session_user_of, Daemon, DaemonTestCase, assert_chrome_sandboxed, chrome_sandbox_state,
                             credentials, expected_credentials, pid_alive, processes_in, wait_until)

# What a WebDriver client asks for. No --no-sandbox: Chrome runs as the
# session user, and its sandbox works.
CHROME_FLAGS = ["--headless=new", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-default-apps", "--disable-dev-shm-usage"]


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def processes_mentioning(text):
    """Live processes whose command line contains text (e.g. the session dir)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if text.encode() in f.read() and pid_alive(int(entry)):
                        found.append(int(entry))
            except OSError:
                pass
    return found


def http_json(url, method="GET", body=None, timeout=60):
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    path = "/" + url.split("//", 1)[1].split("/", 1)[1] if url.count("/") > 2 else "/"
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    connection.request(method, path, body=json.dumps(body) if body is not None else None,
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    reply = json.loads(response.read() or b"null")
    connection.close()
    return response.status, reply


def start_webdriver_session(webdriver):
    capabilities = {"capabilities": {"alwaysMatch": {"browserName": "chrome",
                                                     "goog:chromeOptions": {"args": CHROME_FLAGS}}}}
    status, created = http_json(webdriver + "/session", "POST", capabilities, timeout=120)
    assert status == 200, created
    return created["value"]["sessionId"]


def navigate_and_read_title(webdriver, wd_session, title):
    status, reply = http_json(f"{webdriver}/session/{wd_session}/url", "POST",
                              {"url": f"data:text/html,<title>{title}</title>"})
    assert status == 200, reply
    return http_json(f"{webdriver}/session/{wd_session}/title")[1]["value"]


def chromium_temp_dirs():
    return set(glob.glob("/tmp/.org.chromium.Chromium.*") + glob.glob("/tmp/org.chromium.Chromium.*"))


class RealChromium(DaemonTestCase):
    use_stub = False

    def setUp(self):
        self.temp_before = chromium_temp_dirs()

    def tearDown(self):
        super().tearDown()
        self.assertEqual(chromium_temp_dirs() - self.temp_before, set(), "Chromium temp dirs outside the session")

    def assert_all_in_cgroup(self, session, minimum):
        session_dir = os.path.join(self.daemon.state_dir, "sessions", session["id"])
        # DevTools answers before Chrome has started all its helpers.
        wait_until(lambda: len(processes_in(session["cgroup"])) >= minimum, 20, f"{minimum} processes")
        in_cgroup = processes_in(session["cgroup"])
        outside = [p for p in processes_mentioning(session_dir) if p not in in_cgroup]
        self.assertEqual(outside, [], "processes of the session outside its cgroup")
        names = [comm(p) for p in in_cgroup]
        self.assertGreaterEqual(len(in_cgroup), minimum, names)
        self.assertIn("chrome_crashpad", " ".join(names), f"crashpad handler not in the cgroup: {names}")
        return in_cgroup

    def assert_session_user_and_sandbox(self, session):
        """Every process runs as the session user, without groups and with
        NoNewPrivs; Chrome's sandbox holds its renderers."""
        state = assert_chrome_sandboxed(lambda: processes_in(session["cgroup"]))
        checked = [pid for pid in processes_in(session["cgroup"]) if credentials(pid) is not None]
        for pid in checked:
            self.assertEqual(credentials(pid), expected_credentials(session_user_of(session)), f"{pid} ({comm(pid)})")
        print(f"\n{len(checked)} processes as {session_user_of(session).pw_name}; {len(state['renderers'])} renderers in "
              f"their own user namespace with seccomp-bpf", file=sys.stderr)

    def test_chrome_session_end_to_end(self):
        session = self.daemon.open({"kind": "chrome", "args": ["--window-size=800,600"]})
        self.assertTrue(session["devtools"]["ws"].startswith("ws://127.0.0.1:"))
        status, version = http_json(session["devtools"]["http"] + "/json/version")
        self.assertEqual(status, 200)
        self.assertIn("Chrome", version["Browser"])
        status, target = http_json(session["devtools"]["http"] + "/json/new?data:text/html,hello", method="PUT")
        self.assertEqual(status, 200)
        pids = self.assert_all_in_cgroup(session, 6)
        self.assert_session_user_and_sandbox(session)

        report = self.daemon.close(session["id"])
        print(f"\nchrome close (grace 1s): {report['duration_ms']} ms, graceful={report['graceful']}, "
              f"killed {report['processes_killed']} of {len(pids)}", file=sys.stderr)
        self.assertTrue(report["verified_empty"])
        self.assertEqual([p for p in pids if pid_alive(p)], [])

    def test_chrome_forced_close(self):
        session = self.daemon.open({"kind": "chrome"})
        pids = self.assert_all_in_cgroup(session, 6)
        report = self.daemon.close(session["id"], grace=0)
        print(f"\nchrome close (grace 0): {report['duration_ms']} ms, killed {report['processes_killed']}",
              file=sys.stderr)
        self.assertFalse(report["graceful"])
        self.assertGreaterEqual(report["processes_killed"], 6)
        self.assertTrue(report["verified_empty"])
        self.assertEqual([p for p in pids if pid_alive(p)], [])

    def test_chrome_that_crashes_is_reported_and_cleaned(self):
        session = self.daemon.open({"kind": "chrome"})
        pids = self.assert_all_in_cgroup(session, 6)
        os.kill(session["pid"], signal.SIGSEGV)
        closed = self.daemon.wait_closed(session["id"], 15, "the crashed browser's cleanup")
        self.assertEqual(closed["report"]["reason"], "browser-exited")
        self.assertIsNotNone(closed["exit"]["signal"])
        self.assertTrue(closed["report"]["verified_empty"])
        self.assertEqual([p for p in pids if pid_alive(p)], [])

    def test_chromedriver_session_and_a_bot_that_never_quits(self):
        session = self.daemon.open({"kind": "chromedriver"})
        webdriver = session["webdriver"]
        # Driven through corral's address, relayed to the session's chromedriver.
        self.assertEqual(webdriver, f"{self.daemon.url}/webdriver/{session['id']}/{webdriver[-32:]}")
        status, ready = http_json(webdriver + "/status")
        self.assertTrue(ready["value"]["ready"])
        wd_session = start_webdriver_session(webdriver)
        self.assertEqual(navigate_and_read_title(webdriver, wd_session, "corral"), "corral")
        pids = self.assert_all_in_cgroup(session, 8)
        self.assertIn("chromedriver", [comm(p) for p in pids])
        self.assert_session_user_and_sandbox(session)

        # The bot dies here without quit(): only the DELETE of the session remains.
        report = self.daemon.close(session["id"])
        print(f"\nchromedriver close: {report['duration_ms']} ms, killed {report['processes_killed']}",
              file=sys.stderr)
        self.assertTrue(report["verified_empty"])
        self.assertEqual([p for p in pids if pid_alive(p)], [])


class RealChromiumAsRoot(DaemonTestCase):
    """--session-user root: Chrome runs as root with --no-sandbox, and the
    sandbox check above sees it off (renderers in the host's user namespace,
    no seccomp), so that check does tell the two apart."""
    use_stub = False
    daemon_args = ("--session-user", "root")

    def test_root_chrome_runs_without_sandbox(self):
        session = self.daemon.open({"kind": "chrome"})
        status, _ = http_json(session["devtools"]["http"] + "/json/new?data:text/html,hello", method="PUT")
        self.assertEqual(status, 200)
        wait_until(lambda: chrome_sandbox_state(processes_in(session["cgroup"]))["renderers"], 20, "a renderer")
        state = chrome_sandbox_state(processes_in(session["cgroup"]))
        self.assertIn(session["pid"], state["no_sandbox"])
        self.assertTrue(all(not own and seccomp == 0 for own, seccomp in state["renderers"].values()), state)
        self.assertEqual(credentials(session["pid"])[0], ["0"] * 4)
        self.assertTrue(self.daemon.close(session["id"], grace=0)["verified_empty"])


class ChromiumAfterADaemonCrash(unittest.TestCase):
    """The issue's crash-recovery proof: three live Chromium sessions, kill -9
    of corrald, a restart; all three are adopted, still answer, close cleanly,
    and nothing of them is left."""

    def test_three_live_sessions_are_adopted_and_closed(self):
        first = Daemon()
        second = None
        try:
            sessions = [first.open({"kind": kind}) for kind in ("chrome", "chrome", "chromedriver")]
            dirs = [os.path.join(first.state_dir, "sessions", s["id"]) for s in sessions]
            webdriver = sessions[2]["webdriver"]
            wd_session = start_webdriver_session(webdriver)  # relayed by corral
            wait_until(lambda: all(len(processes_in(s["cgroup"])) >= 4 for s in sessions), 20, "helpers to start")
            pids = [p for s in sessions for p in processes_in(s["cgroup"])]
            first.stop(signal.SIGKILL)

            second = Daemon(reuse=first)
            self.assertIn("3 sessions adopted, 0 reaped", second.log())
            listed = {s["id"]: s for s in second.request("GET", "/v1/sessions")[1]["sessions"]}
            self.assertEqual(sorted(listed), sorted(s["id"] for s in sessions))
            for before in sessions:
                after = listed[before["id"]]
                # The same browser; its URLs through corral name the new
                # daemon's port, and the same secret.
                self.assertEqual(after["pid"], before["pid"])
                if before["kind"] == "chromedriver":
                    self.assertEqual(after["webdriver"].split("/webdriver/")[1], before["webdriver"].split("/webdriver/")[1])
                if before["kind"] == "chrome":
                    self.assertEqual(after["devtools"]["local"], before["devtools"]["local"])
                    self.assertEqual(after["devtools"]["http"].split("/cdp/")[1], before["devtools"]["http"].split("/cdp/")[1])
                    # The adopted browsers still serve their clients, directly (where
                    # they share the host's network) and through the new daemon.
                    if SESSION_NETWORK == "shared":
                        self.assertEqual(http_json(before["devtools"]["local"]["http"] + "/json/version")[0], 200)
                    self.assertEqual(http_json(after["devtools"]["http"] + "/json/version")[0], 200)
            # The bot's WebDriver session survived the daemon's crash too,
            # relayed by the new daemon.
            webdriver = listed[sessions[2]["id"]]["webdriver"]
            self.assertEqual(navigate_and_read_title(webdriver, wd_session, "adopted"), "adopted")
            for session in sessions:
                report = second.close(session["id"])
                self.assertTrue(report["verified_empty"] and report["scope_removed"] and report["dirs_removed"],
                                report)
            self.assertEqual([p for p in pids if pid_alive(p)], [])
            self.assertEqual([p for d in dirs for p in processes_mentioning(d)], [])
            second.assert_nothing_left(pids)
        finally:
            if second:
                second.stop()
            first.remove()


if __name__ == "__main__":
    unittest.main()
