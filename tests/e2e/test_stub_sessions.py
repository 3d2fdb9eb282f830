"""Sessions of the stub browser: a program that forks children, double-forks a
setsid escapee away from its process tree and ignores SIGTERM. Whatever it
does, closing the session must end every one of its processes."""
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

from corral_harness import (RUN_SESSION_UIDS, STUB_PROCESSES, session_user_of, Daemon, DaemonTestCase, cmdline, credentials,
                             expected_credentials, pid_alive, pid_file, processes_in, read_pid_file, refused_start,
                             stub_wrapper, wait_until)


def cgroup_of(pid):
    with open(f"/proc/{pid}/cgroup") as f:
        return next(line[3:].strip() for line in f if line.startswith("0::"))


class StubSessions(DaemonTestCase):
    def test_close_kills_every_process_even_the_escapee(self):
        session = self.daemon.open()
        self.assertEqual(session["state"], "running")
        self.assertIsNotNone(session["devtools"])
        pids = read_pid_file(pid_file(self.daemon, session), STUB_PROCESSES)
        escapee = pids[-1]
        with open(f"/proc/{escapee}/stat") as f:
            parent = int(f.read().rsplit(")", 1)[1].split()[1])
        self.assertNotIn(parent, pids, "the escapee must have left the stub's process tree")
        for pid in pids:
            self.assertTrue(session["cgroup"].endswith(cgroup_of(pid)), f"{pid} is outside the session cgroup")

        report = self.daemon.close(session["id"], grace=0.3)
        self.assertFalse(report["graceful"], "the stub ignores SIGTERM")
        self.assertEqual(report["processes_killed"], STUB_PROCESSES)
        self.assertTrue(report["verified_empty"])
        self.assertTrue(report["scope_removed"])
        self.assertTrue(report["dirs_removed"])
        self.assertEqual(report["reason"], "client")
        self.daemon.assert_nothing_left(pids)

    def test_get_shows_live_use_then_the_close_report(self):
        session = self.daemon.open({"labels": {"bot": "test"}})
        read_pid_file(pid_file(self.daemon, session), STUB_PROCESSES)
        status, live = self.daemon.get(session["id"])
        self.assertEqual(status, 200)
        self.assertEqual(live["labels"], {"bot": "test"})
        self.assertEqual(live["stats"]["pids"], STUB_PROCESSES)
        status, listing = self.daemon.request("GET", "/v1/sessions")
        listed = {s["id"]: s for s in listing["sessions"]}
        self.assertIn(session["id"], listed)
        # The listing has each session's use too (memory is null where the
        # memory controller is missing, as on this hybrid host).
        self.assertEqual(listed[session["id"]]["stats"]["pids"], STUB_PROCESSES)
        self.assertIn("memory_current", listed[session["id"]]["stats"])

        self.daemon.close(session["id"], grace=0)
        status, closed = self.daemon.get(session["id"])
        self.assertEqual(status, 200)
        self.assertEqual(closed["state"], "closed")
        self.assertTrue(closed["report"]["verified_empty"])
        status, listing = self.daemon.request("GET", "/v1/sessions")
        self.assertNotIn(session["id"], [s["id"] for s in listing["sessions"]])

    def test_double_close_is_409_and_cleans_once(self):
        session = self.daemon.open()
        self.daemon.close(session["id"], grace=0)
        reply = self.daemon.close(session["id"], expect=409)
        self.assertEqual(reply["error"]["code"], "already_closed")

    def test_bot_that_dies_without_closing(self):
        # A bot process opens a session and is SIGKILLed: the daemon cannot
        # know, the session lives on, and a later DELETE still ends it all.
        bot = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
            import http.client, json, time
            c = http.client.HTTPConnection("127.0.0.1", {self.daemon.port})
            c.request("POST", "/v1/sessions", body="{{}}", headers={{"Content-Type": "application/json"}})
            print(json.loads(c.getresponse().read())["id"], flush=True)
            time.sleep(600)
        """)], stdout=subprocess.PIPE, text=True)
        session_id = bot.stdout.readline().strip()
        bot.kill()
        bot.wait()
        bot.stdout.close()
        status, session = self.daemon.get(session_id)
        self.assertEqual(session["state"], "running")
        pids = read_pid_file(pid_file(self.daemon, session), STUB_PROCESSES)
        self.assertTrue(all(pid_alive(pid) for pid in pids))
        report = self.daemon.close(session_id)
        self.assertTrue(report["verified_empty"])
        self.daemon.assert_nothing_left(pids)

    def test_a_close_that_does_not_wait(self):
        session = self.daemon.open()
        pids = read_pid_file(pid_file(self.daemon, session), STUB_PROCESSES)
        status, body = self.daemon.request("DELETE", f"/v1/sessions/{session['id']}?wait=0&grace=0")
        self.assertEqual(status, 202, body)
        self.assertEqual(body["state"], "closing")
        self.assertNotIn("report", body)
        status, again = self.daemon.request("DELETE", f"/v1/sessions/{session['id']}")
        self.assertEqual(status, 409, again)  # one cleanup, already under way
        closed = self.daemon.wait_closed(session["id"], 10, "the background close")
        report = closed["report"]
        self.assertEqual(report["reason"], "client")
        self.assertTrue(report["verified_empty"], report)
        self.assertEqual(report["processes_killed"], STUB_PROCESSES)
        wait_until(lambda: self.daemon.get(session["id"])[1]["report"]["pending"] == [], 5, "the tidy-up")
        self.daemon.assert_nothing_left(pids)

    def test_wait_must_be_a_duration(self):
        session = self.daemon.open()
        status, body = self.daemon.request("DELETE", f"/v1/sessions/{session['id']}?wait=soon")
        self.assertEqual(status, 422, body)
        self.assertIn("wait", body["error"]["message"])
        self.assertEqual(self.daemon.get(session["id"])[1]["state"], "running")
        report = self.daemon.close(session["id"], grace=0)
        self.assertEqual(report["pending"], ["files", "state_file", "uid"])
        self.assertGreater(report["phases_ms"]["kill"], 0)
        self.daemon.assert_nothing_left()

    def test_two_hundred_cycles_leave_nothing(self):
        all_pids = []
        started = time.monotonic()
        for cycle in range(200):
            session = self.daemon.open()
            all_pids += read_pid_file(pid_file(self.daemon, session), STUB_PROCESSES)
            report = self.daemon.close(session["id"], grace=0)
            self.assertTrue(report["verified_empty"], f"cycle {cycle}: {report}")
        print(f"\n200 open/close cycles in {time.monotonic() - started:.1f} s", file=sys.stderr)
        self.assertEqual(len(all_pids), 200 * STUB_PROCESSES)
        self.daemon.assert_nothing_left(all_pids)

    def test_open_fds_do_not_grow_with_cycles(self):
        """A closed session keeps no fd (its pidfd, say), not even while it
        stays in the history of the last 256 closed sessions."""
        def cycles(count):
            for _ in range(count):
                session = self.daemon.open()
                self.daemon.close(session["id"], grace=0)

        def settled_fd_count():
            # Sockets of the requests just answered close a moment later.
            counts = []
            for _ in range(30):
                counts.append(len(os.listdir(f"/proc/{self.daemon.process.pid}/fd")))
                if len(counts) >= 3 and counts[-1] == counts[-2] == counts[-3]:
                    break
                time.sleep(0.1)
            return counts[-1]

        cycles(10)
        after_ten = settled_fd_count()
        started = time.monotonic()
        cycles(990)
        after_thousand = settled_fd_count()
        print(f"\nopen fds after 10 cycles: {after_ten}, after 1,000: {after_thousand} "
              f"({time.monotonic() - started:.1f} s)", file=sys.stderr)
        self.assertEqual(after_thousand, after_ten)
        self.daemon.assert_nothing_left()


def owner_and_mode(path):
    st = os.stat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


class SessionUser(DaemonTestCase):
    """A root corrald runs every process of a session as the session's own
    user (from the pool corral-s00..s15), without supplementary groups and
    with NoNewPrivs."""

    def test_every_process_runs_as_the_session_user(self):
        session = self.daemon.open()
        pids = read_pid_file(pid_file(self.daemon, session), STUB_PROCESSES)
        self.assertEqual(sorted(processes_in(session["cgroup"])), sorted(pids))
        owner = session_user_of(session)
        if not RUN_SESSION_UIDS:
            self.assertTrue(owner.pw_name.startswith("corral-s"), owner.pw_name)
        for pid in pids:
            self.assertEqual(credentials(pid), expected_credentials(owner), f"pid {pid}")
        self.assertNotIn("--no-sandbox", cmdline(session["pid"]), "the sandbox stays on for a session user")

        user = (owner.pw_uid, owner.pw_gid)
        base = os.path.join(self.daemon.state_dir, "sessions", session["id"])
        for name in ("profile", "tmp", "home"):
            self.assertEqual(owner_and_mode(os.path.join(base, name)), (*user, 0o700), name)
        self.assertEqual(owner_and_mode(base), (0, 0, 0o711), "the session's base stays the daemon's")
        self.assertEqual(owner_and_mode(os.path.join(base, "browser.log")), (0, 0, 0o600))
        self.assertEqual(owner_and_mode(os.path.dirname(base)), (0, 0, 0o711))

        report = self.daemon.close(session["id"], grace=0)
        self.assertEqual(report["processes_killed"], STUB_PROCESSES)
        self.assertTrue(report["verified_empty"] and report["dirs_removed"])
        self.daemon.assert_nothing_left(pids)


class SessionsAsRoot(DaemonTestCase):
    """--session-user root, the documented opt-out: sessions run as root, and
    Chrome gets --no-sandbox back (its sandbox refuses to start as root)."""
    daemon_args = ("--session-user", "root")

    def test_root_sessions_get_no_sandbox(self):
        session = self.daemon.open()
        pids = read_pid_file(pid_file(self.daemon, session), STUB_PROCESSES)
        for pid in pids:
            self.assertEqual(credentials(pid), expected_credentials(pwd.getpwnam("root")), f"pid {pid}")
        self.assertIn("--no-sandbox", cmdline(session["pid"]))
        profile = os.path.join(self.daemon.state_dir, "sessions", session["id"], "profile")
        self.assertEqual(owner_and_mode(profile), (0, 0, 0o700))
        self.assertTrue(self.daemon.close(session["id"], grace=0)["verified_empty"])
        self.daemon.assert_nothing_left(pids)


class BrowserTheSessionUserCannotRun(unittest.TestCase):
    """The child execs as the session user: a browser only root may run fails
    the open with the exec error, and leaves nothing."""

    def test_open_fails_with_the_exec_error(self):
        wrapper = stub_wrapper()
        os.chmod(wrapper, 0o700)
        daemon = Daemon(browser=wrapper)
        try:
            reply = daemon.open(expect=500)
            self.assertEqual(reply["error"]["code"], "browser_failed")
            self.assertIn("exec: Permission denied", reply["error"]["message"])
            daemon.assert_nothing_left()
        finally:
            daemon.remove()
            os.unlink(wrapper)


class RefusedStart(unittest.TestCase):
    """Start-up checks of the session user: corrald refuses, and says why."""

    def test_missing_session_user(self):
        stderr = refused_start("--session-user", "corral-test-no-such-user")
        self.assertIn("session user 'corral-test-no-such-user' does not exist", stderr)
        self.assertIn("systemd-sysusers", stderr, "how to create it")
        self.assertIn("--session-user root", stderr, "the opt-out")

    def test_state_dir_the_session_user_cannot_reach(self):
        private = tempfile.mkdtemp(prefix="corral-test-private.")  # mode 0700
        try:
            stderr = refused_start("--state-dir", os.path.join(private, "state"))
            self.assertIn(f"cannot reach {private}/state/sessions: '{private}' is mode 0700", stderr)
        finally:
            shutil.rmtree(private)

    def test_only_root_may_switch_users(self):
        nobody = pwd.getpwnam("nobody")
        stderr = refused_start("--session-user", "root", prefix=[
            "setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"])
        self.assertIn("only a root corrald can run sessions as another user", stderr)


class DaemonLifecycle(unittest.TestCase):
    def test_sigterm_closes_every_session(self):
        daemon = Daemon(browser=os.environ["CORRAL_STUB"])
        try:
            sessions = [daemon.open() for _ in range(3)]
            pids = [pid for s in sessions for pid in read_pid_file(pid_file(daemon, s), STUB_PROCESSES)]
            self.assertEqual(daemon.stop(signal.SIGTERM), 0)
            self.assertEqual([p for p in pids if pid_alive(p)], [])
            self.assertEqual(daemon.session_dirs(), [])
            self.assertEqual([s for s in sessions if os.path.exists(s["cgroup"])], [])
            self.assertEqual(daemon.log().count("reason=shutdown"), 3)
        finally:
            daemon.remove()

    def test_a_relative_browser_path_works(self):
        # The browser is exec'd from the session's tmp dir, not corrald's cwd.
        daemon = Daemon(browser=os.path.relpath(os.environ["CORRAL_STUB"]))
        try:
            session = daemon.open()
            read_pid_file(pid_file(daemon, session), STUB_PROCESSES)
            daemon.close(session["id"], grace=0)
            daemon.assert_nothing_left()
        finally:
            daemon.remove()

    def test_a_test_run_killed_by_its_timeout_leaves_nothing(self):
        """meson's timeout SIGTERMs a hung suite; the harness must still
        clean up its daemon, the sessions and their state dir and cgroups."""
        script = textwrap.dedent("""
            import json, os, sys, time
            from corral_harness import Daemon, pid_file, read_pid_file
            daemon = Daemon(browser=os.environ["CORRAL_STUB"])
            session = daemon.open()
            print(json.dumps({"daemon": daemon.process.pid, "state_dir": daemon.state_dir,
                              "cgroup_root": daemon.cgroup_root, "cgroup": session["cgroup"],
                              "pids": read_pid_file(pid_file(daemon, session), 5)}), flush=True)
            time.sleep(120)  # a hung test
        """)
        # corral_harness comes from the PYTHONPATH this suite runs with.
        run = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        facts = json.loads(run.stdout.readline())
        run.send_signal(signal.SIGTERM)
        self.assertEqual(run.wait(30), 128 + signal.SIGTERM)
        run.stdout.close()
        wait_until(lambda: not any(pid_alive(p) for p in [facts["daemon"], *facts["pids"]]), 10,
                   "the daemon and the session's processes to die")
        self.assertFalse(os.path.exists(facts["state_dir"]))
        self.assertFalse(os.path.exists(facts["cgroup"]))
        if facts["cgroup_root"]:
            self.assertFalse(os.path.exists(facts["cgroup_root"]))


if __name__ == "__main__":
    unittest.main()
