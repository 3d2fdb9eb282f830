"""Lifecycle policy: sessions end when their ttl or idle timeout runs out, a
keepalive renews the lease, admission holds the number of sessions and the
memory budget, and /metrics counts all of it."""
import os
import threading
import time
import unittest

from corral_harness import STUB_PROCESSES, Daemon, DaemonTestCase, pid_alive, pid_file, read_pid_file, wait_until





class Expiry(DaemonTestCase):
    daemon_args = ("--max-ttl", "1h", "--max-idle-timeout", "1h")

    def test_ttl_closes_the_session_with_reason_expired(self):
        session = self.daemon.open({"ttl": "2s"})
        self.assertEqual(session["ttl"], 2)
        pids = read_pid_file(pid_file(self.daemon, session), STUB_PROCESSES)
        report = self.daemon.wait_closed(session["id"], 10, "the ttl to run out")["report"]
        self.assertEqual(report["reason"], "expired")
        self.assertTrue(report["verified_empty"])
        self.daemon.assert_nothing_left(pids)
        self.assertIn("reason=expired", self.daemon.log())

    def test_keepalive_renews_the_idle_lease(self):
        session = self.daemon.open({"idle_timeout": 2})
        for _ in range(6):  # 3 s of keepalives, longer than the idle timeout
            time.sleep(0.5)
            status, renewed = self.daemon.request("POST", f"/v1/sessions/{session['id']}/keepalive")
            self.assertEqual((status, renewed["state"]), (200, "running"))
        started = time.monotonic()
        report = self.daemon.wait_closed(session["id"], 10, "the idle timeout")["report"]
        self.assertGreater(time.monotonic() - started, 1.5)
        self.assertEqual(report["reason"], "idle")
        self.assertEqual(self.daemon.metric('corral_sessions_closed_total{reason="idle"}'), 1)

    def test_durations_above_the_maximum_are_refused(self):
        for body in ({"ttl": "2h"}, {"idle_timeout": 7200}, {"ttl": "0s"}, {"ttl": -5}, {"ttl": "soon"}):
            status, reply = self.daemon.request("POST", "/v1/sessions", body)
            self.assertEqual((status, reply["error"]["code"]), (422, "invalid_value"), body)
        self.daemon.assert_nothing_left()


class Admission(DaemonTestCase):
    daemon_args = ("--max-sessions", "2")

    def test_full_is_429_then_a_waiting_request_gets_the_room(self):
        first, second = self.daemon.open(), self.daemon.open()
        status, reply = self.daemon.request("POST", "/v1/sessions", {})
        self.assertEqual((status, reply["error"]["code"]), (429, "at_capacity"))
        self.assertIn("2 sessions open of at most 2", reply["error"]["message"])

        waited = {}

        def open_with_wait():
            started = time.monotonic()
            waited["status"], waited["reply"] = self.daemon.request("POST", "/v1/sessions?wait=20", {})
            waited["seconds"] = time.monotonic() - started

        waiter = threading.Thread(target=open_with_wait)
        waiter.start()
        time.sleep(1)
        self.assertNotIn("status", waited, "the waiter must wait while the daemon is full")
        self.daemon.close(first["id"], grace=0)
        waiter.join(30)
        self.assertEqual(waited["status"], 201, waited)
        self.assertGreater(waited["seconds"], 0.9)
        self.assertGreaterEqual(self.daemon.metric("corral_admission_rejections_total"), 1)
        self.assertEqual(self.daemon.metric("corral_sessions_active"), 2)
        for session in (second, waited["reply"]):
            self.daemon.close(session["id"], grace=0)

    def test_a_wait_that_runs_out_is_429(self):
        sessions = [self.daemon.open(), self.daemon.open()]
        started = time.monotonic()
        status, reply = self.daemon.request("POST", "/v1/sessions?wait=1", {})
        self.assertEqual(status, 429)
        self.assertGreater(time.monotonic() - started, 0.9)
        for session in sessions:
            self.daemon.close(session["id"], grace=0)


class ShutdownWithWaiters(unittest.TestCase):
    def test_sigterm_sends_waiting_requests_away_and_stops_at_once(self):
        daemon = Daemon("--max-sessions", "1", browser=os.environ["CORRAL_STUB"])
        try:
            session = daemon.open()
            pids = read_pid_file(pid_file(daemon, session), STUB_PROCESSES)
            answers = []
            waiter = threading.Thread(
                target=lambda: answers.append(daemon.request("POST", "/v1/sessions?wait=10m", {})))
            waiter.start()
            wait_until(lambda: daemon.metric("corral_admission_queued") == 1, 10, "the request to wait")
            started = time.monotonic()
            self.assertEqual(daemon.stop(), 0)
            stopped_in = time.monotonic() - started
            waiter.join(10)
            self.assertEqual(answers[0][0], 503, answers)
            self.assertEqual(answers[0][1]["error"]["code"], "unavailable")
            self.assertLess(stopped_in, 10, "a waiter held up the daemon's stop")
            self.assertEqual([p for p in pids if pid_alive(p)], [])
        finally:
            daemon.remove()


class MemoryBudget(DaemonTestCase):
    daemon_args = ("--default-memory-max", "100M", "--memory-budget", "250M", "--allow-unenforced-limits")

    def test_sum_of_memory_max_is_held_to_the_budget(self):
        sessions = [self.daemon.open(), self.daemon.open()]  # 200 of 250 MiB
        status, reply = self.daemon.request("POST", "/v1/sessions", {})
        self.assertEqual(status, 429)
        self.assertIn("memory budget", reply["error"]["message"])
        small = self.daemon.open({"memory_max": "50M"})  # fits exactly
        status, reply = self.daemon.request("POST", "/v1/sessions", {"memory_max": "300M"})
        self.assertEqual((status, reply["error"]["code"]), (422, "invalid_value"), "can never fit")
        self.assertEqual(self.daemon.metric("corral_memory_budget_used_bytes"), 250 << 20)
        for session in sessions + [small]:
            self.daemon.close(session["id"], grace=0)
        self.assertEqual(self.daemon.metric("corral_memory_budget_used_bytes"), 0)


class MetricsAndHealth(DaemonTestCase):
    def test_metrics_count_opens_closes_and_kills(self):
        for _ in range(3):
            self.daemon.close(self.daemon.open()["id"], grace=0)
        self.assertEqual(self.daemon.metric("corral_sessions_opened_total"), 3)
        self.assertEqual(self.daemon.metric('corral_sessions_closed_total{reason="client"}'), 3)
        self.assertEqual(self.daemon.metric("corral_processes_killed_total"), 3 * STUB_PROCESSES)
        self.assertEqual(self.daemon.metric("corral_close_duration_seconds_count"), 3)
        self.assertEqual(self.daemon.metric("corral_cleanup_failures_total"), 0)
        status, health = self.daemon.request("GET", "/v1/health")
        self.assertEqual((health["status"], health["reason"]), ("ok", None))


if __name__ == "__main__":
    unittest.main()
