#!/usr/bin/env python3
"""A corral fleet behind the real Selenium Grid 4 (suite `grid`).

Two corral hosts, each a network namespace of its own with corrald on its
loopback (--max-sessions 3) and a relay node configured by
tools/grid/relay-node-config; a hub in a third namespace; Python Selenium
bots that talk only to the hub. Traffic stays inside the namespaces; at the
end nothing is left on either host and every JVM the suite started is gone.
"""
import json
import os
import subprocess
import sys
import time
import tomllib
import unittest

from corral_harness import SESSION_NETWORK, pid_alive, wait_until
from grid_fleet import GridFleet

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = "data:text/html,<title>grid page</title><p>hello"
IDLE_SECONDS = 40          # corral's idle timeout: above Grid's session timeout, as docs/grid.md says
GRID_SESSION_TIMEOUT = 30  # Grid's own (seconds): longer than any wait of a test on an idle bot
CORRAL_ARGS = ["--max-sessions", "3", "--default-memory-max", "512M", "--memory-budget", "1536M",
               "--allow-unenforced-limits", "--default-idle-timeout", f"{IDLE_SECONDS}s", "--new-session-wait", "2s"]
CONFIG_ARGS = ["--session-timeout", str(GRID_SESSION_TIMEOUT), "--grid-url", "http://127.0.0.1:4444"]


def figure(text):
    print(f"[figure] {text}", flush=True)


def net_namespace(pid):
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def processes_of(cgroup):
    try:
        with open(os.path.join(cgroup, "cgroup.procs")) as f:
            return [int(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def command_name(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


class GridFleetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        started = time.monotonic()
        cls.fleet = GridFleet(["a", "b"], corral_args=CORRAL_ARGS, config_args=CONFIG_ARGS).__enter__()
        figure(f"hub and two corral hosts with relay nodes up in {time.monotonic() - started:.1f} s")

    @classmethod
    def tearDownClass(cls):
        fleet = cls.fleet
        jvms = [server.pid for server in cls.jvms()]
        try:
            for host in fleet.hosts.values():
                host.daemon.assert_nothing_left()
        finally:
            fleet.stop()
        alive = [pid for pid in jvms if pid_alive(pid)]
        assert not alive, f"JVMs of the suite still running: {alive}"
        assert not fleet.java_pids(), f"Grid JVMs still running: {fleet.java_pids()}"
        assert not fleet.network.leftovers(), fleet.network.leftovers()

    @classmethod
    def jvms(cls):
        servers = [cls.fleet.hub.server]
        return servers + [host.node.server for host in cls.fleet.hosts.values() if host.node]

    def tearDown(self):
        for bot in self.fleet.bots:
            bot.finish()
        self.fleet.bots.clear()
        for host in self.fleet.hosts.values():
            wait_until(lambda: not host.sessions(), IDLE_SECONDS + 15, f"no session left on host {host.name}")
            host.daemon.assert_nothing_left()
        for host in self.fleet.hosts.values():
            wait_until(lambda: self.fleet.hub.busy_slots(host.node.uri) == 0, GRID_SESSION_TIMEOUT + 30,
                       f"Grid's slots on {host.name} free")

    # --- helpers --------------------------------------------------------
    def open_bots(self, count, capabilities=None):
        """count bots asking at once; each answer is its session (or refusal)."""
        return self.fleet.bots_at_once(count, capabilities)

    def host_of(self, session_id):
        """The host whose corrald runs this session, and the node whose slot holds it."""
        up = [host for host in self.fleet.hosts.values() if host.daemon.process.poll() is None]
        on_hosts = [host for host in up if any(session["id"] == session_id for session in host.sessions())]
        self.assertEqual(len(on_hosts), 1, f"session {session_id} on {on_hosts}")
        host = on_hosts[0]
        node = self.fleet.hub.node_at(host.node.uri)
        slot_sessions = [slot["session"]["sessionId"] for slot in node["slots"] if slot.get("session")]
        self.assertIn(session_id, slot_sessions, f"Grid's slot for {session_id} is on {host.name}'s node")
        return host

    def assert_runs_in_scope_on(self, host, session_id):
        """chromedriver and the browser live in the session's cgroup, as its
        uid, on the host's network or, with --session-network own, the
        session's (Chrome's sandboxed children in network namespaces of their
        own), never on another host's or the machine's."""
        session = host.daemon.get(session_id)[1]
        pids = processes_of(session["cgroup"])
        names = {command_name(pid) for pid in pids}
        self.assertLessEqual({"chromedriver", "chromium"}, names, f"{session_id}: {names}")
        others = {os.stat(ns.path).st_ino for ns in self.fleet.network.namespaces() if ns is not host.netns}
        others.add(net_namespace(os.getpid()))
        for pid in pids:
            self.assertEqual(os.stat(f"/proc/{pid}").st_uid, session["uid"])
            self.assertNotIn(net_namespace(pid), others, f"pid {pid} of {session_id} on another host's network")
            if command_name(pid) == "chromedriver":
                # Shared: the host's network; own (issue 21): one of the session's own.
                host_network = os.stat(host.netns.path).st_ino
                if SESSION_NETWORK == "own":
                    self.assertNotEqual(net_namespace(pid), host_network)
                else:
                    self.assertEqual(net_namespace(pid), host_network)
        return len(pids)

    def assert_cdp_goes_through_grid(self, opened):
        """Grid names itself in se:cdp; the node follows corral's se:forwardCdp
        on the host's loopback; no debuggerAddress leads anywhere else."""
        caps, session_id = opened["capabilities"], opened["session_id"]
        self.assertEqual(caps["se:cdp"], f"ws://127.0.0.1:4444/session/{session_id}/se/cdp")
        self.assertRegex(caps["se:forwardCdp"], rf"^ws://127\.0\.0\.1:8420/session/{session_id}/[0-9a-f]{{32}}/se/cdp$")
        self.assertNotIn("debuggerAddress", caps.get("goog:chromeOptions", {}))

    # --- the tests ------------------------------------------------------
    def test_1_nodes_have_the_slots_corral_always_admits(self):
        for host in self.fleet.hosts.values():
            config = tomllib.loads(host.config)
            usage = host.daemon.request("GET", "/v1/usage")[1]
            self.assertEqual(usage["admission"]["always_admitted"], 3)
            self.assertEqual(config["node"]["max-sessions"], 3)
            self.assertEqual(config["relay"]["url"], "http://127.0.0.1:8420", "the node reaches corral on loopback")
            self.assertEqual(config["node"].get("override-max-sessions", False), 3 > os.cpu_count())
            node = self.fleet.hub.node_at(host.node.uri)
            self.assertEqual((node["availability"], node["maxSessions"], len(node["slots"])), ("UP", 3, 3))

    def test_2_six_sessions_spread_over_both_hosts(self):
        started = time.monotonic()
        bots = self.open_bots(6)
        figure(f"6 sessions opened at once through the Grid in {time.monotonic() - started:.1f} s")
        for bot in bots:
            self.assertTrue(bot.opened["ok"], bot.opened)
            self.assert_cdp_goes_through_grid(bot.opened)
        per_host = {name: 0 for name in self.fleet.hosts}
        for bot in bots:
            session_id = bot.opened["session_id"]
            host = self.host_of(session_id)
            per_host[host.name] += 1
            processes = self.assert_runs_in_scope_on(host, session_id)
            self.assertEqual(bot.ask("get", url=PAGE), {"ok": True, "title": "grid page"})
            self.assertEqual(bot.ask("cdp", expression="6 * 7"), {"ok": True, "value": 42})
        self.assertEqual(per_host, {"a": 3, "b": 3})
        figure(f"sessions per host {per_host}; the last one had {processes} processes in its scope")
        for bot in bots:
            self.assertEqual(bot.ask("quit"), {"ok": True})
            report = self.host_of_closed(bot.opened["session_id"])
            self.assertTrue(report["verified_empty"], report)

    def host_of_closed(self, session_id):
        for host in self.fleet.hosts.values():
            status, body = host.daemon.request("GET", f"/v1/sessions/{session_id}")
            if status == 200:
                self.assertEqual(body["state"], "closed")
                return body["report"]
        self.fail(f"no host knows session {session_id}")

    def test_3_memory_budget_refusal_reaches_the_bot(self):
        bots = self.open_bots(1, {"corral:options": {"memory_max": "2G"}})
        refused = bots[0].opened
        self.assertFalse(refused["ok"], refused)
        self.assertEqual(refused["exception"], "SessionNotCreatedException")
        self.assertIn("memory_max is above the daemon's whole memory budget of 1536 MiB", refused["message"])
        for host in self.fleet.hosts.values():
            self.assertEqual(host.sessions(), [])

    def test_3_refused_anyway_while_grid_has_a_free_slot(self):
        """Bots that ask for 1 GiB each: one fits a host's 1.5 GiB budget, so
        by the second or third one corral refuses while Grid, counting
        slots, still has free ones on that node."""
        opened = []
        for _ in range(3):
            bot = self.open_bots(1, {"corral:options": {"memory_max": "1G"}})[0]
            if not bot.opened["ok"]:
                break
            opened.append(bot)
        refused = bot.opened
        self.assertFalse(refused["ok"], f"3 sessions of 1 GiB on two 1.5 GiB hosts: {refused}")
        self.assertEqual(refused["exception"], "SessionNotCreatedException")
        self.assertIn("no room for a new session within --new-session-wait: no room within the wait: "
                      "1 sessions open of at most 3, 1024 MiB of the 1536 MiB memory budget in use", refused["message"])
        self.assertIn(len(opened), (1, 2))
        busy = sum(self.fleet.hub.busy_slots(host.node.uri) for host in self.fleet.hosts.values())
        self.assertEqual(busy, len(opened), "Grid's slots free: it was corral that said no")
        figure(f"1 GiB sessions: {len(opened)} opened, the next refused by corral with {6 - busy} Grid slots free")

    def test_4_killed_bot_reaped_by_corral_and_slot_freed(self):
        # This bot asks corral for an idle timeout below Grid's session
        # timeout: corral reaps it first, as when Grid's expiry never comes.
        bot = self.open_bots(1, {"corral:options": {"idle_timeout": "4s"}})[0]
        self.assertTrue(bot.opened["ok"], bot.opened)
        session_id = bot.opened["session_id"]
        host = self.host_of(session_id)
        bot.kill()
        killed = time.monotonic()
        # Polled by the list: a GET of the session itself counts as use.
        wait_until(lambda: session_id not in {s["id"] for s in host.sessions()}, 30, "corral closes it")
        reaped = time.monotonic() - killed
        report = host.daemon.get(session_id)[1]["report"]
        self.assertEqual(report["reason"], "idle")
        self.assertTrue(report["verified_empty"], report)
        wait_until(lambda: self.fleet.hub.busy_slots(host.node.uri) == 0, GRID_SESSION_TIMEOUT + 30,
                   "Grid frees the slot")
        figure(f"killed bot: corral reaped its session after {reaped:.1f} s (idle 4 s), "
               f"Grid freed the slot after {time.monotonic() - killed:.1f} s (its session timeout "
               f"{GRID_SESSION_TIMEOUT} s)")
        self.fleet.bots.clear()

    def test_5_cdp_websocket_through_the_grid(self):
        """selenium-webdriver's createCDPConnection opens Grid's se:cdp; the
        node follows corral's se:forwardCdp to the session's browser."""
        argv = ["node", os.path.join(HERE, "..", "clients", "webdriver_client.mjs"), self.fleet.hub.url, PAGE]
        done = subprocess.run(self.fleet.network.grid.command(argv), capture_output=True, text=True, timeout=120)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        self.assertTrue(result["ok"], (result, done.stderr[-2000:]))
        self.assertTrue(result["se_cdp"].startswith("ws://127.0.0.1:4444/session/"), result["se_cdp"])
        self.assertEqual(result["title"], "grid page")
        self.assertEqual(result["cdp_evaluate"], 42)

    def test_6_one_corrald_killed(self):
        bots = self.open_bots(6)  # 3 on each host: the slots allow no other spread
        by_host = {}
        for bot in bots:
            self.assertTrue(bot.opened["ok"], bot.opened)
            by_host.setdefault(self.host_of(bot.opened["session_id"]).name, []).append(bot)
        a, b = self.fleet.hosts["a"], self.fleet.hosts["b"]
        by_host["b"].pop().finish()  # a free slot on b for later
        a_pids = [pid for bot in by_host["a"]
                  for pid in processes_of(a.daemon.get(bot.opened["session_id"])[1]["cgroup"])]

        a.kill_daemon()
        killed = time.monotonic()
        self.fleet.hub.wait_for_node(a.node.uri, "DOWN", timeout=30)
        figure(f"Grid marked host a's node DOWN {time.monotonic() - killed:.1f} s after its corrald was killed")
        for bot in by_host["b"]:
            self.assertEqual(bot.ask("cdp", expression="1 + 1"), {"ok": True, "value": 2}, "b carries on")
        failed = by_host["a"][0].ask("title")
        self.assertFalse(failed["ok"], failed)
        extra = self.open_bots(1)[0]
        self.assertTrue(extra.opened["ok"], extra.opened)
        self.assertEqual(self.host_of(extra.opened["session_id"]).name, "b", "a new session goes to the host up")

        a.restart_daemon()
        self.assertEqual(len(a.sessions()), 3, "the restarted corrald adopted a's sessions")
        self.fleet.hub.wait_for_node(a.node.uri, "UP", timeout=30)
        figure(f"host a's node UP again {time.monotonic() - killed:.1f} s after the kill")
        for bot in [*by_host["b"], extra]:  # (within Grid's session timeout, which would end them)
            self.assertEqual(bot.ask("cdp", expression="2 + 2"), {"ok": True, "value": 4}, "b carried on")
        for bot in by_host["a"]:
            self.assertEqual(bot.ask("cdp", expression="3 + 3"), {"ok": True, "value": 6}, "a's adopted session")
            self.assertEqual(bot.ask("quit"), {"ok": True})
        reasons = [a.daemon.get(bot.opened["session_id"])[1]["report"]["reason"] for bot in by_host["a"]]
        self.assertEqual(reasons, ["client"] * 3)
        a.daemon.assert_nothing_left(pids=a_pids)

if __name__ == "__main__":
    unittest.main(verbosity=2)
