"""Crash recovery: after kill -9 of corrald, a restart adopts the sessions
the state file and the host agree on (listed, closable, leased again) and
reaps everything else. Nothing is ever left running unaccounted for."""
import os
import signal
import unittest

from corral_harness import STUB_PROCESSES, Daemon, pid_alive, pid_file, read_pid_file, wait_until

STUB = os.environ["CORRAL_STUB"]


class RestartTestCase(unittest.TestCase):
    """Each test: a first daemon opens sessions and is SIGKILLed; a second one
    takes over its state dir (and cgroup root)."""
    daemon_args = ()

    def setUp(self):
        self.first = Daemon(*self.daemon_args, browser=STUB)
        self.second = None

    def tearDown(self):
        try:
            if self.second:
                for session in self.second.request("GET", "/v1/sessions")[1]["sessions"]:
                    self.second.close(session["id"], grace=0)
                self.second.assert_nothing_left()
                self.second.stop()
        finally:
            self.first.remove()

    def open_sessions(self, count, body=None):
        sessions = [self.first.open(body or {"labels": {"n": str(n)}}) for n in range(count)]
        pids = {s["id"]: read_pid_file(pid_file(self.first, s), STUB_PROCESSES) for s in sessions}
        return sessions, pids

    def kill_first(self):
        self.first.stop(signal.SIGKILL)

    def restart(self):
        self.second = Daemon(*self.daemon_args, browser=STUB, reuse=self.first)
        return self.second

    def state_file(self):
        return os.path.join(self.first.state_dir, "sessions.json")


class Restart(RestartTestCase):
    def test_live_sessions_are_adopted_listed_and_closable(self):
        sessions, pids = self.open_sessions(3)
        self.kill_first()
        self.assertTrue(all(pid_alive(p) for ps in pids.values() for p in ps), "sessions outlive a killed daemon")
        second = self.restart()
        self.assertIn("3 sessions adopted, 0 reaped", second.log())
        listed = {s["id"]: s for s in second.request("GET", "/v1/sessions")[1]["sessions"]}
        self.assertEqual(sorted(listed), sorted(s["id"] for s in sessions))
        for before in sessions:
            after = listed[before["id"]]
            for field in ("pid", "cgroup", "unit", "labels", "limits", "kind", "created_at", "expires_at"):
                self.assertEqual(after[field], before[field], field)
            self.assertEqual(after["state"], "running")
            status, one = second.request("GET", f"/v1/sessions/{before['id']}")
            self.assertEqual(status, 200)
            self.assertEqual(one["stats"]["pids"], STUB_PROCESSES)
        for session in sessions:
            report = second.close(session["id"])
            self.assertTrue(report["verified_empty"] and report["scope_removed"] and report["dirs_removed"], report)
            self.assertEqual(report["processes_killed"], STUB_PROCESSES)
        second.assert_nothing_left([p for ps in pids.values() for p in ps])

    def test_adopted_sessions_are_reaped_when_their_ttl_runs_out(self):
        sessions, pids = self.open_sessions(1, {"ttl": "4s"})
        self.kill_first()
        second = self.restart()
        self.assertIn("1 sessions adopted", second.log())
        session_id = sessions[0]["id"]
        report = second.wait_closed(session_id, 15, "the adopted session's ttl")["report"]
        self.assertEqual(report["reason"], "expired")
        second.assert_nothing_left(pids[session_id])

    def test_an_adopted_browser_that_exits_is_noticed(self):
        sessions, pids = self.open_sessions(1)
        self.kill_first()
        second = self.restart()
        session = sessions[0]
        os.kill(session["pid"], signal.SIGKILL)
        closed = second.wait_closed(session["id"], 10, "the exit to be noticed")
        self.assertEqual(closed["report"]["reason"], "browser-exited")
        self.assertIsNone(closed["exit"]["code"], "an adopted browser's exit status is not ours to know")
        second.assert_nothing_left(pids[session["id"]])

    def test_a_session_whose_browser_died_meanwhile_is_reaped_the_rest_adopted(self):
        sessions, pids = self.open_sessions(2)
        self.kill_first()
        dead, alive = sessions
        os.kill(dead["pid"], signal.SIGKILL)  # its children and escapee stay in the cgroup
        wait_until(lambda: not pid_alive(dead["pid"]), 5, "the browser to die")
        second = self.restart()
        self.assertIn("1 sessions adopted, 1 reaped", second.log())
        self.assertRegex(second.log(), rf"session {dead['id']} cannot be adopted \(.*gone")
        self.assertEqual([s["id"] for s in second.request("GET", "/v1/sessions")[1]["sessions"]], [alive["id"]])
        wait_until(lambda: not any(pid_alive(p) for p in pids[dead["id"]]), 5, "the reaped session's processes")
        self.assertFalse(os.path.exists(dead["cgroup"]))

    def test_a_garbage_state_file_is_survived_and_everything_reaped(self):
        sessions, pids = self.open_sessions(2)
        self.kill_first()
        with open(self.state_file(), "wb") as f:
            f.write(b'{"version": 1, "sessions": [{"id": "\xff\x00' + os.urandom(64) + b"\n")
        second = self.restart()
        self.assertIn("is unusable", second.log())
        self.assertIn("0 sessions adopted, 2 reaped", second.log())
        all_pids = [p for ps in pids.values() for p in ps]
        wait_until(lambda: not any(pid_alive(p) for p in all_pids), 5, "reaped processes to die")
        self.assertTrue(os.path.exists(self.state_file() + ".corrupt"), "the bad file is kept for the operator")
        second.assert_nothing_left(all_pids)
        # And the daemon works: a new session opens, is recorded, closes.
        session = second.open()
        second.close(session["id"], grace=0)
        os.unlink(self.state_file() + ".corrupt")

    def test_a_missing_state_file_reaps_everything(self):
        sessions, pids = self.open_sessions(1)
        self.kill_first()
        os.unlink(self.state_file())
        second = self.restart()
        self.assertIn("0 sessions adopted, 1 reaped", second.log())
        all_pids = [p for ps in pids.values() for p in ps]
        wait_until(lambda: not any(pid_alive(p) for p in all_pids), 5, "reaped processes to die")
        second.assert_nothing_left(all_pids)


class RestartAtCapacity(RestartTestCase):
    daemon_args = ("--max-sessions", "2")

    def test_adopted_sessions_count_against_admission(self):
        sessions, _ = self.open_sessions(2)
        self.kill_first()
        second = self.restart()
        status, reply = second.request("POST", "/v1/sessions", {})
        self.assertEqual((status, reply["error"]["code"]), (429, "at_capacity"))
        second.close(sessions[0]["id"], grace=0)
        second.close(second.open()["id"], grace=0)


if __name__ == "__main__":
    unittest.main()
