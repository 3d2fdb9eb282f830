"""Warm chromedriver (--warm chromedriver=N) with real Chromium and
chromedriver: a Selenium new session whose capabilities attaching honours is
served by a warm member (its chromedriver attached to the browser corral
had it start), navigates a page of "the internet" through the session's way
out, and its session's uid, limits, labels and ttl are the request's; the
pool refills. Capabilities with args are a counted miss that starts cold
and works; so is a hit whose attach chromedriver refuses (the member's
browser hung): the member ends, and the bot never knows. DELETE /session through corral ends the whole session: no
process of it survives and its cgroup goes. A kill -9 of corrald with
members reaps them at restart and hands none out. Timed: new session to
first command, warm against cold."""
import http.server
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

from corral_harness import (Daemon, credentials, expected_credentials, pid_alive, processes_in, session_user_of,
                            wait_until)
from corral_harness.warm import wait_warm_ready, warm_cgroups, warm_usage
from public_host import PublicHost, http_server_on, listening_socket_in

KIND = "chromedriver"  # the pool these tests fill
HERE = os.path.dirname(os.path.abspath(__file__))
PY_CLIENT = ["/usr/bin/python3", os.path.join(HERE, "webdriver_client.py")]


class Pages(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<html><head><title>warm page</title></head><body>hello</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def wd(daemon, method, path, body=None):
    """One WebDriver request to corrald: (status, JSON)."""
    request = urllib.request.Request(f"http://127.0.0.1:{daemon.port}{path}", method=method,
                                     headers={"Content-Type": "application/json"} if body is not None else {},
                                     data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def browser_main_process(pids):
    """The browser's own process among a warm chromedriver's: the one with a
    DevTools port and no --type (renderers, GPU, zygotes have one)."""
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if any(a.startswith(b"--remote-debugging-port") for a in argv) and not any(a.startswith(b"--type=") for a in argv):
            return pid
    raise AssertionError(f"no browser process among {pids}")


class WarmWebDriver(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # The session's way out refuses the host's own addresses: pages are on "the internet".
        cls.public = PublicHost().__enter__()
        cls.pages = http_server_on(listening_socket_in(cls.public.name, cls.public.client_address), Pages)
        cls.page = f"http://{cls.public.client_address}:{cls.pages.server_port}/"

    @classmethod
    def tearDownClass(cls):
        cls.pages.shutdown()
        cls.public.__exit__(None, None, None)

    def start(self, *args):
        self.daemon = Daemon("--warm", "chromedriver=2", *args)
        self.addCleanup(self.daemon.remove)
        return self.daemon

    def tearDown(self):
        daemon = getattr(self, "daemon", None)
        if daemon and daemon.process.poll() is None:
            for session in daemon.request("GET", "/v1/sessions")[1]["sessions"]:
                daemon.close(session["id"], grace=0)

    def bot(self, *flags, timeout=120):
        completed = subprocess.run([*PY_CLIENT, f"http://127.0.0.1:{self.daemon.port}", self.page, *flags],
                                   capture_output=True, text=True, timeout=timeout)
        lines = completed.stdout.strip().splitlines()
        self.assertTrue(lines, completed.stderr[-2000:])
        return json.loads(lines[-1])

    def test_a_hit_answers_with_the_request_and_delete_ends_every_process(self):
        daemon = self.start("--allow-unenforced-limits")
        controllers = daemon.request("GET", "/v1/usage")[1]["controllers"]
        wait_warm_ready(daemon, KIND, 2)
        members = warm_cgroups(daemon)
        self.assertEqual(len(members), 2, members)
        options = {"memory_max": 1536 << 20, "tasks_max": 700, "labels": {"bot": "warm-wd"}, "ttl": "10m"}
        # The Python client's own args (--headless=new, --no-sandbox) are set or dropped by corral: still a hit.
        result = self.bot("--no-quit", "--caps", json.dumps({"corral:options": options}))
        self.assertTrue(result["ok"], result)
        self.assertEqual(result["title"], "warm page")
        self.assertEqual(result["cdp_evaluate"], 42)
        caps = result["capabilities"]
        self.assertIn(f"/session/{result['session_id']}/", caps["se:cdp"])
        self.assertNotIn("debuggerAddress", caps["goog:chromeOptions"])
        self.assertEqual(warm_usage(daemon, KIND)["hits"], 1, daemon.log()[-3000:])
        self.assertEqual(warm_usage(daemon, KIND)["misses"], 0)
        session = daemon.get(result["session_id"])[1]
        self.assertIn(session["cgroup"], members, "not a warm member")
        self.assertEqual(session["kind"], "chromedriver")
        self.assertEqual(session["labels"], {"bot": "warm-wd"})
        self.assertEqual(session["limits"]["memory_max"], 1536 << 20)
        self.assertEqual(session["limits"]["tasks_max"], 700)
        self.assertEqual(session["ttl"], 600)
        if controllers["memory"]:
            with open(os.path.join(session["cgroup"], "memory.max")) as f:
                self.assertEqual(int(f.read()), 1536 << 20)
        if controllers["pids"]:
            with open(os.path.join(session["cgroup"], "pids.max")) as f:
                self.assertEqual(f.read().strip(), "700")
        pids = processes_in(session["cgroup"])
        self.assertGreater(len(pids), 3, "chromedriver and its browser's processes")
        expected = expected_credentials(session_user_of(session))
        for pid in pids:  # chromedriver and every process of its browser run as the session's uid
            self.assertIn(credentials(pid), (expected, None), pid)
        self.assertIn("opened warm", daemon.log())
        wait_warm_ready(daemon, KIND, 2)
        self.assertEqual(daemon.metric('corral_warm_hits_total{kind="chromedriver"}'), 1)
        self.assertEqual(daemon.metric('corral_warm_ready{kind="chromedriver"}'), 2)

        # Attached, chromedriver's own quit would leave the browser running: corral's close ends it.
        self.assertEqual(wd(daemon, "DELETE", f"/session/{result['session_id']}"), (200, {"value": None}))
        report = daemon.get(result["session_id"])[1]
        self.assertEqual(report["state"], "closed")
        self.assertTrue(report["report"]["verified_empty"], report)
        wait_until(lambda: not any(pid_alive(pid) for pid in pids), 10, "every process of the session gone")
        self.assertFalse(os.path.exists(session["cgroup"]))
        daemon.assert_nothing_left(pids)

    def test_args_are_a_counted_miss_that_starts_cold(self):
        daemon = self.start()
        wait_warm_ready(daemon, KIND, 2)
        members = warm_cgroups(daemon)
        result = self.bot("--no-quit", "--args", '["--window-size=800,600"]')
        self.assertTrue(result["ok"], result)
        self.assertEqual(result["title"], "warm page")
        self.assertEqual(warm_usage(daemon, KIND)["misses"], 1)
        self.assertEqual(warm_usage(daemon, KIND)["hits"], 0)
        self.assertEqual(daemon.metric('corral_warm_misses_total{kind="chromedriver"}'), 1)
        session = daemon.get(result["session_id"])[1]
        self.assertNotIn(session["cgroup"], members)
        self.assertEqual(wd(daemon, "DELETE", f"/session/{result['session_id']}"), (200, {"value": None}))
        # corral alone names a warm browser's debuggerAddress: a bot's own stays refused, and opens nothing.
        status, answer = wd(daemon, "POST", "/session", {"capabilities": {"alwaysMatch": {
            "goog:chromeOptions": {"debuggerAddress": "127.0.0.1:9222"}}}})
        self.assertEqual((status, answer["value"]["error"]), (400, "invalid argument"))
        self.assertEqual(warm_usage(daemon, KIND)["ready"], 2, "a miss leaves the pool alone")
        self.assertEqual(warm_usage(daemon, KIND)["hits"], 0)
        daemon.assert_nothing_left()

    def test_an_attach_that_fails_ends_the_member_and_starts_the_same_session_cold(self):
        # One place, the member's, and no wait for another: a fallback that
        # asked admission for a new place would be refused at once.
        daemon = Daemon("--warm", "chromedriver=1", "--max-sessions", "1", "--new-session-wait", "0s",
                        "--allow-unenforced-limits",  # memory_max below: this host may lack the controller
                        "--start-timeout", "45s")  # corral waits for the attach longer than chromedriver does
        self.daemon = daemon
        self.addCleanup(daemon.remove)
        wait_warm_ready(daemon, KIND, 1)
        [member_cgroup], [member_id] = warm_cgroups(daemon), daemon.warm_members()
        member_pids = processes_in(member_cgroup)
        # Its browser hangs: its DevTools port still takes a connection (the
        # claim's check passes) but answers nothing, and chromedriver refuses
        # the attach ("cannot connect to chrome", after its own 60 s).
        hung = browser_main_process(member_pids)
        os.kill(hung, signal.SIGSTOP)
        options = {"memory_max": 1536 << 20, "labels": {"bot": "fallback"}}
        result = self.bot("--no-quit", "--caps", json.dumps({"corral:options": options}), timeout=180)
        self.assertTrue(result["ok"], (result, daemon.log()[-3000:]))
        self.assertEqual(result["title"], "warm page")
        self.assertEqual(result["cdp_evaluate"], 42)
        session = daemon.get(result["session_id"])[1]
        self.assertNotEqual(session["cgroup"], member_cgroup, "the bot's session started cold")
        self.assertEqual(session["labels"], {"bot": "fallback"})
        self.assertEqual(session["limits"]["memory_max"], 1536 << 20)
        usage = warm_usage(daemon, KIND)
        self.assertEqual((usage["hits"], usage["misses"]), (0, 1), usage)
        self.assertEqual(daemon.metric('corral_warm_misses_total{kind="chromedriver"}'), 1)
        self.assertEqual(daemon.metric('corral_warm_hits_total{kind="chromedriver"}'), 0)
        self.assertIn(f"session {member_id}: a warm chromedriver whose attach failed (chromedriver answered 500: "
                      "session not created: cannot connect to chrome", daemon.log())
        # The claimed member ended as a failed session does: every process, its cgroup.
        member = daemon.get(member_id)[1]
        self.assertEqual((member["state"], member["report"]["reason"]), ("closed", "start-failed"), member)
        self.assertTrue(member["report"]["verified_empty"], member)
        wait_until(lambda: not any(pid_alive(pid) for pid in member_pids), 10, "the member's processes gone")
        self.assertFalse(os.path.exists(member_cgroup))
        self.assertEqual(usage["ready"], 0, "the one place is the cold session's")
        cold_pids = processes_in(session["cgroup"])
        self.assertEqual(wd(daemon, "DELETE", f"/session/{result['session_id']}"), (200, {"value": None}))
        wait_warm_ready(daemon, KIND, 1)  # the place came back to the pool
        self.assertNotIn(member_id, daemon.warm_members(), "a failed member is never handed out again")
        daemon.assert_nothing_left(member_pids + cold_pids)

    def test_kill_9_with_warm_chromedrivers_reaps_them_and_hands_none_out(self):
        first = self.start()
        wait_warm_ready(first, KIND, 2)
        members = warm_cgroups(first)
        pids = [pid for cgroup in members for pid in processes_in(cgroup)]
        self.assertGreater(len(pids), 6, "two chromedrivers and their browsers")
        with open(os.path.join(first.state_dir, "sessions.json")) as f:
            recorded = json.load(f)["sessions"]
        self.assertEqual(sorted(r["warm"] for r in recorded), [True, True])
        first.stop(signal.SIGKILL)
        second = Daemon(reuse=first)
        self.addCleanup(second.remove)
        self.daemon = second
        self.assertEqual(second.request("GET", "/v1/sessions")[1]["sessions"], [])
        wait_until(lambda: not any(pid_alive(pid) for pid in pids), 10, "the warm members' processes gone")
        self.assertEqual(second.session_cgroups(), [])
        self.assertEqual(second.request("GET", "/v1/health")[1]["session_uids"]["in_use"], 0)
        self.assertIn("was a warm browser; reaping it", second.log())
        result = self.bot()
        self.assertTrue(result["ok"], result)
        second.assert_nothing_left(pids)

    def test_new_session_to_first_command_warm_against_cold(self):
        daemon = self.start()

        def round_trip(caps):
            began = time.monotonic()
            status, answer = wd(daemon, "POST", "/session", {"capabilities": {"alwaysMatch": caps}})
            self.assertEqual(status, 200, answer)
            session_id = answer["value"]["sessionId"]
            status, title = wd(daemon, "GET", f"/session/{session_id}/title")
            self.assertEqual(status, 200, title)
            took = (time.monotonic() - began) * 1000
            self.assertEqual(wd(daemon, "DELETE", f"/session/{session_id}"), (200, {"value": None}))
            return took

        warm, cold = [], []
        for _ in range(10):
            wait_warm_ready(daemon, KIND, 2)
            warm.append(round_trip({"browserName": "chrome"}))
            cold.append(round_trip({"goog:chromeOptions": {"args": ["--window-size=800,600"]}}))
        print(f"\nnew session -> title, warm ms {[round(ms) for ms in warm]} median {statistics.median(warm):.0f}; "
              f"cold ms {[round(ms) for ms in cold]} median {statistics.median(cold):.0f}", file=sys.stderr)
        self.assertEqual(warm_usage(daemon, KIND)["hits"], 10)
        self.assertEqual(warm_usage(daemon, KIND)["misses"], 10)
        self.assertLess(statistics.median(warm) * 3, statistics.median(cold))
        daemon.assert_nothing_left()


if __name__ == "__main__":
    unittest.main()
