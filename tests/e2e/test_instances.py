"""Several corralds on one host: each instance (--instance) has a slice (or,
for cgroupfs, a root) of its own below the shared one, scope names of its
own and a state dir of its own, and a restart after kill -9 adopts or reaps
only its own sessions: the other instance's run on untouched."""
import os
import signal
import subprocess
import unittest

from corral_harness import (NAMED_INSTANCE_UIDS, BACKEND, STUB_PROCESSES, Daemon, pid_alive, pid_file, processes_in, read_pid_file,
                            refused_start, systemctl_user, wait_until)

STUB = os.environ["CORRAL_STUB"]
OTHER = "tenant_b"


class TwoInstances(unittest.TestCase):
    """The default instance and instance tenant_b on one manager (cgroupfs: one
    cgroup root), each with stub sessions."""

    def setUp(self):
        self.first = {}  # instance -> the Daemon that made its state dir (and cgroup root)
        self.live = {}   # instance -> the Daemon running it now
        self.start("default")
        self.start(OTHER, instance=OTHER, beside=self.first["default"])

    def start(self, name, **kwargs):
        daemon = Daemon(browser=STUB, **kwargs)
        self.first[name] = self.live[name] = daemon
        return daemon

    def tearDown(self):
        # The named instance first: the default's cgroup root holds its root.
        try:
            self.tear_down(OTHER)
        finally:
            self.tear_down("default")
            if BACKEND == "systemd-user":
                systemctl_user("stop", f"corral-{OTHER}.slice")

    def tear_down(self, name):
        daemon = self.live.get(name)
        if not daemon:
            return
        try:
            if daemon.process.poll() is None:
                for session in daemon.request("GET", "/v1/sessions")[1]["sessions"]:
                    daemon.close(session["id"], grace=0)
                daemon.assert_nothing_left()
        finally:
            daemon.stop()
            self.first[name].remove()

    def open_sessions(self, name, count):
        daemon = self.live[name]
        sessions = [daemon.open({"labels": {"n": str(n)}}) for n in range(count)]
        return {s["id"]: (s, read_pid_file(pid_file(daemon, s), STUB_PROCESSES)) for s in sessions}

    def kill_and_restart(self, name, lose_state_file=False):
        self.live[name].stop(signal.SIGKILL)
        if lose_state_file:
            os.unlink(os.path.join(self.first[name].state_dir, "sessions.json"))
        self.live[name] = Daemon(browser=STUB, reuse=self.first[name])
        return self.live[name]

    def assert_untouched(self, name, opened):
        """The sessions `opened` of instance `name` run on as they were: the
        same processes alive in the same cgroups, listed and answering, and
        closed clean at the end."""
        daemon = self.live[name]
        listed = {s["id"]: s for s in daemon.request("GET", "/v1/sessions")[1]["sessions"]}
        self.assertEqual(sorted(listed), sorted(opened))
        for session_id, (session, pids) in opened.items():
            self.assertTrue(all(pid_alive(p) for p in pids), f"{name} session {session_id}: {pids}")
            self.assertTrue(os.path.isdir(session["cgroup"]), session["cgroup"])
            self.assertEqual(sorted(processes_in(session["cgroup"])), sorted(pids))
            status, now = daemon.get(session_id)
            self.assertEqual(status, 200)
            self.assertEqual((now["state"], now["pid"], now["cgroup"], now["unit"]),
                             ("running", session["pid"], session["cgroup"], session["unit"]))
            self.assertEqual(now["stats"]["pids"], STUB_PROCESSES)
        for session_id, (_, pids) in opened.items():
            report = daemon.close(session_id, grace=0)
            self.assertTrue(report["verified_empty"] and report["scope_removed"] and report["dirs_removed"], report)
            self.assertEqual(report["processes_killed"], STUB_PROCESSES)
        daemon.assert_nothing_left([p for _, pids in opened.values() for p in pids])

    def test_each_instance_has_its_own_names_and_places(self):
        default, other = self.live["default"], self.live[OTHER]
        health = {name: self.live[name].request("GET", "/v1/health")[1] for name in self.live}
        self.assertEqual(health["default"]["instance"], "default")
        self.assertEqual(health[OTHER]["instance"], OTHER)
        self.assertEqual(health[OTHER]["cgroup_root"], os.path.join(health["default"]["cgroup_root"],
                                                                    f"corral-{OTHER}.slice"))
        self.assertIn(f"instance {OTHER}; state dir {other.state_dir}", other.log())
        mine, theirs = default.open(), other.open()
        self.assertEqual(os.path.basename(theirs["cgroup"]).split(".")[0], f"corral-{OTHER}-{theirs['id']}")
        self.assertEqual(os.path.dirname(theirs["cgroup"]), health[OTHER]["cgroup_root"])
        self.assertEqual(os.path.dirname(mine["cgroup"]), health["default"]["cgroup_root"])
        if BACKEND == "systemd-user":
            self.assertEqual(theirs["unit"], f"corral-{OTHER}-{theirs['id']}.scope")
            self.assertEqual(mine["unit"], f"corral-{mine['id']}.scope")
            self.assertEqual(default.units(), [mine["unit"]])
            self.assertEqual(other.units(), [theirs["unit"]])
        with open(os.path.join(other.state_dir, "instance.lock")) as f:
            self.assertEqual(f.read(), f"{OTHER}\n")
        for daemon, session in ((default, mine), (other, theirs)):
            self.assertEqual([s["id"] for s in daemon.request("GET", "/v1/sessions")[1]["sessions"]], [session["id"]])

    def test_a_named_instance_stopped_cleanly_leaves_no_root_of_its_own(self):
        if BACKEND != "cgroupfs":
            self.skipTest("on systemd the instance's root is the unit corral-NAME.slice, which the manager keeps "
                          "loaded (as every slice) until it is stopped: corrald never stops a slice, which would "
                          "stop whatever still runs in it")
        other, default = self.live[OTHER], self.live["default"]
        root = other.request("GET", "/v1/health")[1]["cgroup_root"]
        other.close(other.open()["id"], grace=0)
        self.assertEqual(other.stop(), 0)
        wait_until(lambda: not os.path.isdir(root), 10, f"{root} to go with its instance")
        self.assertTrue(os.path.isdir(default.request("GET", "/v1/health")[1]["cgroup_root"]))

    def test_the_default_instance_restarted_without_its_state_file_reaps_only_its_own(self):
        # The default instance's pattern, corral-*, is the one that matches
        # every other instance's names too: reaping all it finds is the test.
        own, theirs = self.open_sessions("default", 2), self.open_sessions(OTHER, 2)
        restarted = self.kill_and_restart("default", lose_state_file=True)
        self.assertIn("0 sessions adopted, 2 reaped", restarted.log())
        own_pids = [p for _, pids in own.values() for p in pids]
        wait_until(lambda: not any(pid_alive(p) for p in own_pids), 5, "the reaped sessions' processes")
        self.assertNotIn(OTHER, restarted.log())
        self.assert_untouched(OTHER, theirs)

    def test_the_default_instance_restarted_adopts_its_own_and_leaves_the_other(self):
        own, theirs = self.open_sessions("default", 2), self.open_sessions(OTHER, 2)
        restarted = self.kill_and_restart("default")
        self.assertIn("2 sessions adopted, 0 reaped", restarted.log())
        self.assert_untouched(OTHER, theirs)
        self.assert_untouched("default", own)

    def test_a_named_instance_restarted_adopts_or_reaps_only_its_own(self):
        own, theirs = self.open_sessions(OTHER, 2), self.open_sessions("default", 2)
        restarted = self.kill_and_restart(OTHER)
        self.assertIn("2 sessions adopted, 0 reaped", restarted.log())
        self.assert_untouched("default", theirs)
        self.assert_untouched(OTHER, own)
        theirs = self.open_sessions("default", 1)
        restarted = self.kill_and_restart(OTHER, lose_state_file=True)
        self.assertNotIn("reaped", restarted.log(), "instance tenant_b had nothing of its own to reap")
        self.assert_untouched("default", theirs)


class Refusals(unittest.TestCase):
    """What must not start: a bad name, a second corrald of one instance on one
    manager (or cgroup root), two corralds on one state dir."""

    def test_an_invalid_instance_name(self):
        for name in ("Tenant-B", "a.b", "", "_x", "x" * 33):
            stderr = refused_start("--instance", name)
            self.assertIn("is not valid: use 1 to 32 lower-case letters, digits and '_'", stderr, name)

    def test_a_named_instance_needs_session_uids_of_its_own(self):
        stderr = refused_start("--instance", OTHER)
        self.assertIn("corral-s00..corral-s15 are the default instance's", stderr)

    def test_one_instance_runs_once_per_manager(self):
        daemon = Daemon(browser=STUB)
        named = Daemon(browser=STUB, instance=OTHER, beside=daemon)
        try:
            session = daemon.open()
            for args, instance in (((), "default"), (("--instance", OTHER, "--session-uids", NAMED_INSTANCE_UIDS), OTHER)):
                stderr = refused_start(*args, beside=daemon)
                self.assertIn(f"another corrald runs instance '{instance}' in", stderr)
                self.assertIn("give each corrald on a host its own --instance", stderr)
            self.assertTrue(pid_alive(session["pid"]))
            daemon.close(session["id"], grace=0)
        finally:
            named.remove()
            daemon.remove()
            if BACKEND == "systemd-user":
                systemctl_user("stop", f"corral-{OTHER}.slice")

    def test_a_state_dir_is_one_corralds_and_one_instances(self):
        daemon = Daemon(browser=STUB)
        try:
            uids = ("--session-uids", NAMED_INSTANCE_UIDS)
            stderr = refused_start("--instance", OTHER, *uids, "--state-dir", daemon.state_dir)
            self.assertIn(f"state dir {daemon.state_dir} is in use by another corrald", stderr)
            self.assertEqual(daemon.stop(), 0)
            stderr = refused_start("--instance", OTHER, *uids, "--state-dir", daemon.state_dir)
            self.assertIn(f"state dir {daemon.state_dir} belongs to another instance", stderr)
            self.assertIn(f"instance {OTHER} needs a --state-dir of its own", stderr)
        finally:
            daemon.remove()


if __name__ == "__main__":
    unittest.main()
