#!/usr/bin/env python3
"""--session-uids: each live session runs as a uid of its own from a pool.

Sessions of different uids cannot signal each other, read each other's
/proc or files; what a session leaves under its uid outside its directories
(/dev/shm, System V IPC) is swept before the uid serves the next session;
the pool bounds the sessions; a range the host uses is refused."""
import os
import pwd
import signal
import subprocess
import sys
import threading
import unittest

from corral_harness import (RUN_SESSION_UIDS, as_uid, SMALL_POOL_UIDS, STUB_PROCESSES, Daemon, DaemonTestCase, credentials, pid_file, processes_in,
                            read_pid_file, refused_start, wait_until)

# A pool of two (the suite's own, see corral_harness/users.py).
POOL = SMALL_POOL_UIDS
POOL_UIDS = tuple(range(int(POOL.split("-")[0]), int(POOL.split("-")[1]) + 1))


class UidPool(DaemonTestCase):
    daemon_args = ("--session-uids", POOL)

    def close_and_wait(self, session):
        """Close, and wait until its uid is swept and back in the pool."""
        self.daemon.close(session["id"], grace=0)
        wait_until(lambda: self.daemon.get(session["id"])[1]["report"]["pending"] == [], 10, "the uid sweep")

    def tearDown(self):
        for session in self.daemon.request("GET", "/v1/sessions")[1]["sessions"]:
            self.close_and_wait(session)
        super().tearDown()

    def test_each_session_has_a_uid_of_its_own_and_the_pool_bounds_them(self):
        a, b = self.daemon.open(), self.daemon.open()
        self.assertNotEqual(a["uid"], b["uid"])
        for session in (a, b):
            for pid in processes_in(session["cgroup"]):
                uids, gids, groups, no_new_privs = credentials(pid)
                self.assertEqual(set(uids), {str(session["uid"])}, pid)
                self.assertEqual(set(gids), {str(session["uid"])}, pid)
                self.assertEqual((groups, no_new_privs), ([], "1"), pid)
        status, body = self.daemon.request("POST", "/v1/sessions", {})
        self.assertEqual(status, 429, body)
        pool = self.daemon.request("GET", "/v1/health")[1]["session_uids"]
        self.assertEqual((pool["separate"], pool["size"], pool["in_use"]), (True, 2, 2))

    def test_one_session_cannot_touch_another(self):
        a, b = self.daemon.open(), self.daemon.open()
        b_pid = read_pid_file(pid_file(self.daemon, b), STUB_PROCESSES)[0]
        b_dir = os.path.join(self.daemon.state_dir, "sessions", b["id"])
        attempts = {
            "kill": ["kill", "-KILL", str(b_pid)],
            "environ": ["cat", f"/proc/{b_pid}/environ"],
            "mem": ["python3", "-c", f"open('/proc/{b_pid}/mem', 'rb').read(1)"],
            "list profile": ["ls", os.path.join(b_dir, "profile")],
            "read pid file": ["cat", os.path.join(b_dir, "profile", "stub.pids")],
            "write tmp": ["touch", os.path.join(b_dir, "tmp", "planted")],
            "ptrace": ["python3", "-c", "import ctypes,sys; libc=ctypes.CDLL(None, use_errno=True); "
                       f"sys.exit(0 if libc.ptrace(16, {b_pid}, 0, 0) == 0 else 1)"],
        }
        for name, command in attempts.items():
            with self.subTest(name):
                self.assertNotEqual(as_uid(a["uid"], *command).returncode, 0, f"{name} succeeded")
        self.assertEqual(self.daemon.get(b["id"])[1]["state"], "running")
        self.assertFalse(os.path.exists(os.path.join(b_dir, "tmp", "planted")))

    def test_what_a_session_leaves_under_its_uid_never_reaches_the_next(self):
        a = self.daemon.open()
        uid = a["uid"]
        planted = f"/dev/shm/corral-test-planted-{os.getpid()}"
        self.assertEqual(as_uid(uid, "sh", "-c", f"echo secret > {planted}").returncode, 0)
        segment = as_uid(uid, "ipcmk", "-M", "4096")
        self.assertEqual(segment.returncode, 0, segment.stderr)
        shmid = segment.stdout.split()[-1]
        self.assertEqual(os.stat(planted).st_uid, uid)
        report = self.daemon.close(a["id"], grace=0)
        self.assertIn("uid", report["pending"])
        wait_until(lambda: self.daemon.get(a["id"])[1]["report"]["pending"] == [], 10, "the uid sweep")
        self.assertEqual(self.daemon.get(a["id"])[1]["report"]["problems"], [])
        self.assertFalse(os.path.exists(planted))
        self.assertNotIn(f" {shmid} ", subprocess.run(["ipcs", "-m"], capture_output=True, text=True).stdout)
        # Both uids serve again: the swept one was given back.
        b, c = self.daemon.open(), self.daemon.open()
        self.assertIn(uid, (b["uid"], c["uid"]))


def api_status_as(uid, url=None, unix_socket=None):
    """The HTTP status of GET /v1/sessions sent as uid (0 if it could not connect)."""
    if unix_socket:
        code = ("import http.client,socket,sys\n"
                "class C(http.client.HTTPConnection):\n"
                " def connect(self):\n"
                "  self.sock=socket.socket(socket.AF_UNIX); self.sock.connect(sys.argv[1])\n"
                "c=C('localhost'); c.request('GET','/v1/sessions'); print(c.getresponse().status)")
        result = as_uid(uid, "python3", "-c", code, unix_socket)
    else:
        code = ("import urllib.request,urllib.error,sys\n"
                "try: print(urllib.request.urlopen(sys.argv[1]).status)\n"
                "except urllib.error.HTTPError as e: print(e.code)")
        result = as_uid(uid, "python3", "-c", code, url + "/v1/sessions")
    return int(result.stdout.strip() or 0)


class SessionsMayNotUseTheApi(DaemonTestCase):
    daemon_args = ("--session-uids", POOL)

    def test_a_session_uid_is_refused_on_tcp_and_others_are_not(self):
        a = self.daemon.open()
        self.assertEqual(api_status_as(a["uid"], url=self.daemon.url), 403)
        self.assertEqual(api_status_as(next(uid for uid in POOL_UIDS if uid != a["uid"]), url=self.daemon.url), 403)
        # nobody is no session, but without a token only root, corrald's uid and
        # group corral may use TCP (test_credentials.py); the unix socket's mode decides there.
        self.assertEqual(api_status_as(65534, url=self.daemon.url), 403)
        self.assertEqual(self.daemon.request("GET", "/v1/sessions")[0], 200)
        self.daemon.close(a["id"], grace=0)
        wait_until(lambda: self.daemon.get(a["id"])[1]["report"]["pending"] == [], 10, "the uid sweep")


class SessionsMayNotUseTheUnixSocket(DaemonTestCase):
    daemon_args = ("--session-uids", POOL)
    daemon_options = {"unix_socket": True}

    def test_a_session_uid_is_refused_on_the_unix_socket(self):
        os.chmod(self.daemon.unix_socket, 0o666)  # so that the kernel lets it connect at all
        self.assertEqual(api_status_as(POOL_UIDS[0], unix_socket=self.daemon.unix_socket), 403)
        self.assertEqual(api_status_as(65534, unix_socket=self.daemon.unix_socket), 200)


class DefaultPool(DaemonTestCase):
    """A root corrald's default: the users corral-s00..corral-s15."""

    def test_no_uid_is_ever_held_by_two_live_sessions(self):
        held, seen, failures = {}, set(), []
        lock = threading.Lock()

        def cycles(worker):
            for _ in range(500 // 8):
                status, session = self.daemon.request("POST", "/v1/sessions?wait=30s", {})
                if status != 201:
                    failures.append((worker, status, session))
                    continue
                with lock:
                    if session["uid"] in held:
                        failures.append((worker, "uid twice", session["uid"], held[session["uid"]], session["id"]))
                    held[session["uid"]] = session["id"]
                    seen.add(session["uid"])
                with lock:
                    del held[session["uid"]]  # before the close: from here on the uid is on its way back
                status, report = self.daemon.request("DELETE", f"/v1/sessions/{session['id']}?grace=0")
                if status != 200:
                    failures.append((worker, status, report))

        workers = [threading.Thread(target=cycles, args=(n,)) for n in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        self.assertEqual(failures, [])
        if RUN_SESSION_UIDS:  # the run's own range stands in for the default pool
            first, last = (int(n) for n in RUN_SESSION_UIDS.split("-"))
            pool = set(range(first, last + 1))
        else:
            pool = {pwd.getpwnam(name).pw_uid for name in (f"corral-s{i:02d}" for i in range(16))}
        self.assertTrue(seen <= pool, (seen, pool))
        print(f"\n8 clients x {500 // 8} cycles used {len(seen)} session uids, none twice at once",
              file=sys.stderr)
        wait_until(lambda: self.daemon.request("GET", "/v1/health")[1]["session_uids"]["in_use"] == 0, 30,
                   "every uid back in the pool")
        self.assertEqual(self.daemon.request("GET", "/v1/health")[1]["session_uids"]["quarantined"], {})



class DefaultPoolAfterACrash(unittest.TestCase):
    def test_kill_9_and_restart_keeps_each_session_its_uid(self):
        first = Daemon(browser=os.environ["CORRAL_STUB"])
        a, b = first.open(), first.open()
        first.stop(signal.SIGKILL)
        restarted = Daemon(browser=os.environ["CORRAL_STUB"], reuse=first)
        try:
            for before in (a, b):
                status, after = restarted.get(before["id"])
                self.assertEqual((status, after["state"], after["uid"]), (200, "running", before["uid"]))
            self.assertEqual(restarted.request("GET", "/v1/health")[1]["session_uids"]["in_use"], 2)
            c = restarted.open()
            self.assertNotIn(c["uid"], (a["uid"], b["uid"]))
            for session in (a, b, c):
                restarted.close(session["id"], grace=0)
            wait_until(lambda: restarted.request("GET", "/v1/health")[1]["session_uids"]["in_use"] == 0, 30,
                       "every uid back")
            restarted.assert_nothing_left()
        finally:
            restarted.remove()
            first.remove()


class RefusedRanges(unittest.TestCase):
    def test_a_range_with_users_in_it_is_refused(self):
        stderr = refused_start("--session-uids", "1-10")
        self.assertIn("passwd entry", stderr)

    def test_systemd_ranges_and_nonsense_are_refused(self):
        self.assertIn("dynamic users", refused_start("--session-uids", "61000-61200"))
        self.assertIn("container range", refused_start("--session-uids", "600000-600010"))
        self.assertIn("FIRST-LAST", refused_start("--session-uids", "many"))


if __name__ == "__main__":
    unittest.main(verbosity=1)
