"""Issue 23 under corrald.service (imported by limits_suite.py, run in the
same VM): the warm pool where systemd is PID 1 and the controllers enforce.
What the CI host cannot show: there systemd 252 on a hybrid tree answers
FreezeUnit "does not support freezing", and no limit is enforced.

- Members wait frozen through systemd (FreezeUnit: the unit's FreezerState
  and the kernel's cgroup.events both say so).
- A claim writes the request's limits at hand-out (SetUnitProperties): the
  kernel's memory.max, memory.high, cpu.max and pids.max are the request's,
  `enforced` says true, and the unit is thawed.
- A request whose memory_max is below what a member uses already is never
  served by it: the member is discarded (not handed out, not kept) and the
  open starts cold, counted as a miss."""
import os
import unittest

from corral_harness import wait_until
from guest_corral import close_or_await, fetch, install_corral, keyed, read, run, start_system_service

REQUEST = {"kind": "chrome", "memory_max": "768M", "memory_high": "700M", "cpu_quota": "50%", "tasks_max": 300,
           "labels": {"bot": "warm"}, "ttl": "10m"}


def warm(api):
    return api.request("GET", "/v1/usage")[1]["warm"]["chrome"]


def member_units(api):
    """The corral scopes that no listed session owns: the warm members."""
    listed = {s["unit"] for s in api.request("GET", "/v1/sessions")[1]["sessions"]}
    out = run("systemctl", "list-units", "--all", "--no-legend", "--plain", "corral-*.scope").stdout
    return [line.split()[0] for line in out.splitlines() if line.strip() and line.split()[0] not in listed]


def unit_property(unit, name):
    return run("systemctl", "show", "-P", name, unit).stdout.strip()


def unit_cgroup(unit):
    return "/sys/fs/cgroup" + unit_property(unit, "ControlGroup")


class SystemServiceWarm(unittest.TestCase):
    build = None    # set by limits_suite.py
    figures = None  # limits_suite.py's FIGURES

    @classmethod
    def setUpClass(cls):
        install_corral(cls.build)

    @classmethod
    def tearDownClass(cls):
        # As SystemService does: the user manager's unit, tested next, wants the port.
        run("systemctl", "stop", "corrald.service", check=False)

    def setUp(self):
        self.api = start_system_service("--warm", "chrome=1")
        self.addCleanup(self.close_all)

    def close_all(self):
        for session in self.api.request("GET", "/v1/sessions")[1].get("sessions", []):
            close_or_await(self.api, session["id"])

    def wait_for_member(self):
        # A Chromium start under TCG: tens of seconds, more beside a build.
        wait_until(lambda: warm(self.api)["ready"] == 1, 300, "a warm browser ready")
        units = member_units(self.api)
        self.assertEqual(len(units), 1, units)
        return units[0]

    def test_1_members_wait_frozen_and_a_claim_gets_the_requests_limits(self):
        member = self.wait_for_member()
        self.assertTrue(warm(self.api)["frozen"], "systemd as PID 1 on cgroup v2 freezes (FreezeUnit)")
        self.assertEqual(unit_property(member, "FreezerState"), "frozen")
        self.assertEqual(keyed(os.path.join(unit_cgroup(member), "cgroup.events"), "frozen"), 1)
        hits = warm(self.api)["hits"]

        session = self.api.open(REQUEST)
        self.assertEqual(warm(self.api)["hits"], hits + 1, "the open was a claim")
        self.assertEqual(session["unit"], member, "the warm member was handed out")
        cgroup = session["cgroup"]
        self.assertEqual(int(read(os.path.join(cgroup, "memory.max"))), 768 << 20)
        self.assertEqual(int(read(os.path.join(cgroup, "memory.high"))), 700 << 20)
        self.assertEqual(read(os.path.join(cgroup, "cpu.max")).split()[0], "50000")
        self.assertEqual(int(read(os.path.join(cgroup, "pids.max"))), 300)
        self.assertEqual(unit_property(member, "MemoryMax"), str(768 << 20), "through systemd, not behind its back")
        self.assertEqual(session["enforced"], {"memory": True, "cpu": True, "tasks": True})
        self.assertEqual(session["labels"], {"bot": "warm"})
        self.assertEqual(unit_property(member, "FreezerState"), "running")
        self.assertEqual(keyed(os.path.join(cgroup, "cgroup.events"), "frozen"), 0)
        self.assertIn("webSocketDebuggerUrl", fetch(f"{session['devtools']['http']}/json/version"))
        self.figures["warm under corrald.service: a claim's limits"] = {
            name: read(os.path.join(cgroup, name)).strip() for name in ("memory.max", "memory.high", "cpu.max", "pids.max")}
        self.assertTrue(close_or_await(self.api, session["id"])["verified_empty"])

    def test_2_a_memory_max_below_what_a_member_uses_discards_it_and_starts_cold(self):
        member = self.wait_for_member()
        used = keyed(os.path.join(unit_cgroup(member), "memory.stat"), "anon") + \
            keyed(os.path.join(unit_cgroup(member), "memory.stat"), "file")
        current = int(read(os.path.join(unit_cgroup(member), "memory.current")))
        below = current - (4 << 20)
        before = warm(self.api)
        status, reply = self.api.request("POST", "/v1/sessions", {"kind": "chrome", "memory_max": below})
        after = warm(self.api)
        self.figures["warm under corrald.service: member's memory.current, open below it"] = \
            f"{current >> 20} MiB (anon + file {used >> 20} MiB); the cold open answered {status} " \
            f"{reply.get('error', {}).get('message', '')[:160]}"
        self.assertEqual(after["hits"], before["hits"], "the member was handed out")
        self.assertEqual(after["discarded"], before["discarded"] + 1, "the member was kept")
        self.assertEqual(after["misses"], before["misses"] + 1)
        wait_until(lambda: member not in member_units(self.api), 60, "the discarded member's scope to go")
        if status == 201:  # a cold Chromium may start within it, or not: either way it is a new browser
            self.assertNotEqual(reply["unit"], member)
            self.assertEqual(int(read(os.path.join(reply["cgroup"], "memory.max"))), below)
        else:
            self.assertIn("message", reply.get("error", {}), reply)
