"""Load: 16 concurrent clients × 50 open/close cycles with the stub browser
against a daemon that admits 6 sessions at once. No 5xx, nothing leaked, and
the admission limit holds at every instant (sampled from the cgroup tree)."""
import os
import sys
import threading
import time
import unittest

from corral_harness import DaemonTestCase

CLIENTS, CYCLES, MAX_SESSIONS = 16, 50, 6


class Load(DaemonTestCase):
    daemon_args = ("--max-sessions", str(MAX_SESSIONS), "--max-queue", str(CLIENTS))

    def test_concurrent_clients(self):
        root = self.daemon.request("GET", "/v1/health")[1]["cgroup_root"]
        statuses, failures, highest = {}, [], [0]
        done = threading.Event()
        lock = threading.Lock()

        def session_cgroups():
            try:
                return sum(1 for name in os.listdir(root) if name.startswith("corral-"))
            except FileNotFoundError:  # systemd makes corral.slice with its first scope
                return 0

        def watch_cgroups():
            while not done.is_set():
                count = session_cgroups()
                highest[0] = max(highest[0], count)
                time.sleep(0.002)

        def client(number):
            for cycle in range(CYCLES):
                status, reply = self.daemon.request("POST", "/v1/sessions?wait=120", {"labels": {"client": str(number)}})
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                if status != 201:
                    failures.append((number, cycle, status, reply))
                    continue
                status, report = self.daemon.request("DELETE", f"/v1/sessions/{reply['id']}?grace=0")
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                if status != 200 or not report["verified_empty"]:
                    failures.append((number, cycle, status, report))

        watcher = threading.Thread(target=watch_cgroups)
        watcher.start()
        started = time.monotonic()
        clients = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
        done.set()
        watcher.join()
        elapsed = time.monotonic() - started
        print(f"\n{CLIENTS}x{CYCLES} cycles in {elapsed:.1f} s, statuses {statuses}, "
              f"at most {highest[0]} session cgroups at once", file=sys.stderr)
        self.assertEqual(failures, [])
        self.assertEqual(statuses, {201: CLIENTS * CYCLES, 200: CLIENTS * CYCLES})
        self.assertLessEqual(highest[0], MAX_SESSIONS)
        self.assertGreaterEqual(highest[0], 2, "the clients did overlap")
        self.daemon.assert_nothing_left()


if __name__ == "__main__":
    unittest.main()
