"""The warm pool (--warm chrome=N) with real Chromium: members are frozen
and unlisted, a claim answers with the request's limits, labels, ttl and a
uid of its own and works over CDP, the pool refills, a request with args
is a counted miss that starts cold, a claimed browser shows nothing of the
session before (no cookie, localStorage, IndexedDB, history or cache
entry: browser_traces.py), warm members give way to cold opens, and a kill -9 of
corrald leaks none of them and hands none out."""
import json
import os
import signal
import sys
import time
import unittest

from browser_traces import TracesServer, leave_traces, traces_seen
from cdp_client import CdpClient
from client_kit import run_devtools_client
from corral_harness import (BACKEND, Daemon, credentials, expected_credentials, pid_alive, processes_in, refused_start,
                            session_user_of, wait_until)
from corral_harness.warm import wait_warm_ready, warm_cgroups, warm_usage

KIND = "chrome"  # the pool these tests fill


def frozen(cgroup):
    with open(os.path.join(cgroup, "cgroup.events")) as events:
        return dict(line.split() for line in events)["frozen"] == "1"


def cpu_usec(cgroup):
    with open(os.path.join(cgroup, "cpu.stat")) as stat:
        return int(dict(line.split() for line in stat)["usage_usec"])


def expect_frozen(daemon):
    """Whether members wait frozen here: always on cgroupfs; under systemd
    only where it can freeze (not on a hybrid host, which /v1/usage says)."""
    said = warm_usage(daemon, KIND)["frozen"]
    if BACKEND == "cgroupfs":
        assert said, "cgroupfs always freezes"
    return said


def timed_open(daemon, body):
    began = time.monotonic()
    session = daemon.open(body)
    return session, (time.monotonic() - began) * 1000


def without_history(seen):
    """What traces_seen() found, but the history's URLs (only for messages)."""
    return {name: value for name, value in seen.items() if name != "history"}


def evaluate_in_new_page(session, expression):
    client = CdpClient(session["devtools"]["ws"])
    try:
        return client.evaluate(client.open_page(), expression)
    finally:
        client.close()


class WarmPool(unittest.TestCase):
    def start(self, *args, warm="chrome=2"):
        self.daemon = Daemon("--warm", warm, *args)
        self.addCleanup(self.daemon.remove)
        return self.daemon

    def tearDown(self):
        daemon = getattr(self, "daemon", None)
        if daemon and daemon.process.poll() is None:
            for session in daemon.request("GET", "/v1/sessions")[1]["sessions"]:
                daemon.close(session["id"], grace=0)

    def assert_stopped_clean(self, daemon):
        """A stop ends the warm members too: nothing of them is left."""
        root = daemon.request("GET", "/v1/health")[1]["cgroup_root"]
        self.assertEqual(daemon.stop(), 0, daemon.log()[-2000:])
        left = [name for name in os.listdir(root) if name.startswith("corral-")] if os.path.isdir(root) else []
        self.assertEqual(left, [])
        self.assertEqual(daemon.session_dirs(), [])
        self.assertEqual(daemon.units(), [])

    def test_claim_answers_with_the_request_and_the_pool_refills(self):
        # Where the host lacks a controller the limit is recorded, and
        # `enforced` says so; where it has one, the cgroup file shows it.
        daemon = self.start("--allow-unenforced-limits")
        controllers = daemon.request("GET", "/v1/usage")[1]["controllers"]
        wait_warm_ready(daemon, KIND, 2)
        members = warm_cgroups(daemon)
        self.assertEqual(len(members), 2, members)
        waits_frozen = expect_frozen(daemon)
        used = [cpu_usec(cgroup) for cgroup in members]
        time.sleep(2)
        for cgroup, before in zip(members, used):
            self.assertEqual(frozen(cgroup), waits_frozen, cgroup)
            if waits_frozen:
                self.assertEqual(cpu_usec(cgroup), before, f"{cgroup} used CPU while frozen")
        print(f"\nwarm members frozen: {waits_frozen}", file=sys.stderr)
        self.assertEqual(daemon.request("GET", "/v1/sessions")[1]["sessions"], [])
        body = {"memory_max": 1536 << 20, "tasks_max": 700, "labels": {"bot": "warm"}, "ttl": "10m"}
        session, claim_ms = timed_open(daemon, body)
        self.assertIn(session["cgroup"], members, "not a warm member")
        self.assertFalse(frozen(session["cgroup"]))
        self.assertEqual(session["labels"], {"bot": "warm"})
        self.assertEqual(session["limits"]["memory_max"], 1536 << 20)
        self.assertEqual(session["limits"]["tasks_max"], 700)
        self.assertEqual(session["enforced"]["memory"], controllers["memory"])
        self.assertEqual(session["enforced"]["tasks"], controllers["pids"])
        if controllers["memory"]:
            with open(os.path.join(session["cgroup"], "memory.max")) as f:
                self.assertEqual(int(f.read()), 1536 << 20)
        if controllers["pids"]:
            with open(os.path.join(session["cgroup"], "pids.max")) as f:
                self.assertEqual(f.read().strip(), "700")
        self.assertEqual(session["ttl"], 600)
        self.assertEqual(credentials(session["pid"]), expected_credentials(session_user_of(session)))
        self.assertEqual(evaluate_in_new_page(session, "6 * 7"), 42)
        self.assertEqual(warm_usage(daemon, KIND)["hits"], 1)
        wait_warm_ready(daemon, KIND, 2)
        self.assertEqual(len(warm_cgroups(daemon)), 2)

        misses = warm_usage(daemon, KIND)["misses"]
        cold, cold_ms = timed_open(daemon, {"args": ["--window-size=800,600"]})
        self.assertNotIn(cold["cgroup"], warm_cgroups(daemon))
        self.assertEqual(warm_usage(daemon, KIND)["misses"], misses + 1)
        self.assertEqual(evaluate_in_new_page(cold, "1 + 1"), 2)
        print(f"\nwarm claim {claim_ms:.0f} ms, cold open (a miss) {cold_ms:.0f} ms", file=sys.stderr)
        self.assertEqual(daemon.metric('corral_warm_hits_total{kind="chrome"}'), 1)
        self.assertEqual(daemon.metric('corral_warm_ready{kind="chrome"}'), 2)
        daemon.close(session["id"], grace=0)
        daemon.close(cold["id"], grace=0)
        wait_warm_ready(daemon, KIND, 2)
        daemon.assert_nothing_left()  # the harness tells warm browsers (and their uids) from leftovers
        self.assertEqual(len(daemon.warm_members()), 2)
        self.assert_stopped_clean(daemon)

    def test_claims_against_cold_opens_timed(self):
        daemon = self.start()
        claims, colds = [], []
        for _ in range(3):
            wait_warm_ready(daemon, KIND, 2)
            session, ms = timed_open(daemon, {})
            claims.append(ms)
            daemon.close(session["id"], grace=0)
            session, ms = timed_open(daemon, {"args": ["--window-size=800,600"]})
            colds.append(ms)
            daemon.close(session["id"], grace=0)
        print(f"\nclaim ms {[round(ms) for ms in claims]}, cold ms {[round(ms) for ms in colds]}", file=sys.stderr)
        self.assertEqual(warm_usage(daemon, KIND)["hits"], 3)
        self.assertLess(max(claims), min(colds))
        self.assert_stopped_clean(daemon)

    def test_a_claimed_browser_shows_nothing_of_the_one_before(self):
        # A pool of one: each claim gets the member refilled after the claim
        # before it, started while that session was in use.
        daemon = self.start(warm="chrome=1")
        server = TracesServer()
        self.addCleanup(server.close)
        wait_warm_ready(daemon, KIND, 1)
        first = daemon.open({})
        client = CdpClient(first["devtools"]["ws"])
        leave_traces(client, server)
        # Every check below can fail: the browser that holds the traces finds each.
        seen = traces_seen(client, server)
        self.assertEqual(without_history(seen), {"cookie": "seen=1", "local_storage": "1", "indexed_db": ["seen"],
                                                 "cache_hit": True, "visited": True}, seen["history"])
        client.close()
        daemon.close(first["id"], grace=0)

        claimed = [first]
        for _ in range(2):
            wait_warm_ready(daemon, KIND, 1)
            session = daemon.open({})
            claimed.append(session)
            client = CdpClient(session["devtools"]["ws"])
            seen = traces_seen(client, server)
            self.assertEqual(without_history(seen), {"cookie": "", "local_storage": None, "indexed_db": [],
                                                     "cache_hit": False, "visited": False}, seen["history"])
            self.assertEqual(client.call("Storage.getCookies")["cookies"], [])
            client.close()
            daemon.close(session["id"], grace=0)
        self.assertEqual(len({session["cgroup"] for session in claimed}), 3, "each claim a member of its own")
        self.assertEqual(warm_usage(daemon, KIND)["hits"], 3)
        self.assert_stopped_clean(daemon)

    def test_warm_members_give_way_to_cold_opens(self):
        daemon = self.start("--max-sessions", "2")
        wait_warm_ready(daemon, KIND, 2)
        first = daemon.open({"args": ["--window-size=800,600"]})
        second = daemon.open({"args": ["--window-size=800,600"]})
        status, reply = daemon.request("POST", "/v1/sessions", {"args": ["--window-size=800,600"]})
        self.assertEqual(status, 429, reply)
        self.assertEqual(warm_usage(daemon, KIND)["discarded"], 2)
        self.assertEqual(warm_usage(daemon, KIND)["ready"], 0)
        daemon.close(first["id"], grace=0)
        daemon.close(second["id"], grace=0)
        self.assert_stopped_clean(daemon)

    def test_kill_9_with_warm_members_leaks_nothing_and_hands_nothing_out(self):
        first = self.start()
        wait_warm_ready(first, KIND, 2)
        members = warm_cgroups(first)
        pids = [pid for cgroup in members for pid in processes_in(cgroup)]
        self.assertTrue(pids)
        with open(os.path.join(first.state_dir, "sessions.json")) as f:
            recorded = json.load(f)["sessions"]
        self.assertEqual(sorted(r["warm"] for r in recorded), [True, True])
        first.stop(signal.SIGKILL)
        second = Daemon(reuse=first)
        self.addCleanup(second.remove)
        self.daemon = second
        self.assertEqual(second.request("GET", "/v1/sessions")[1]["sessions"], [])
        wait_until(lambda: not any(pid_alive(pid) for pid in pids), 10, "the warm browsers' processes gone")
        self.assertEqual(second.session_cgroups(), [])
        self.assertEqual(second.request("GET", "/v1/health")[1]["session_uids"]["in_use"], 0)
        self.assertIn("was a warm browser; reaping it", second.log())
        session = second.open({})
        self.assertNotIn(session["cgroup"], members)
        second.close(session["id"], grace=0)
        second.assert_nothing_left(pids)

    def test_connect_to_launch_claims_a_warm_browser(self):
        daemon = self.start("--launch-on-connect")
        wait_warm_ready(daemon, KIND, 2)
        result = run_devtools_client("puppeteer-ws", f"ws://127.0.0.1:{daemon.port}/devtools/browser", "--work")
        self.assertTrue(result.get("ok"), result)
        self.assertEqual(result["evaluate"], 2)
        self.assertEqual(warm_usage(daemon, KIND)["hits"], 1)
        self.assertIn("opened warm", daemon.log())
        wait_until(lambda: "reason=disconnected" in daemon.log(), 15, "the launched session to close")
        self.assert_stopped_clean(daemon)

    def test_chromedriver_is_a_kind_of_its_own(self):
        # Served to WebDriver new sessions (test_warm_webdriver.py); here only
        # that --warm takes it and counts it apart, and still refuses a kind named twice.
        self.daemon = Daemon("--warm", "chrome=1,chromedriver=1")
        self.addCleanup(self.daemon.remove)
        pools = self.daemon.request("GET", "/v1/usage")[1]["warm"]
        self.assertEqual({kind: pool["target"] for kind, pool in pools.items()}, {"chrome": 1, "chromedriver": 1})
        stderr = refused_start("--warm", "chromedriver=1,chromedriver=2")
        self.assertIn("chromedriver is named twice", stderr)


if __name__ == "__main__":
    unittest.main()
