#!/usr/bin/env python3
"""What a session plants under its uid outside its cgroup and directories
is swept before the uid serves again (issue 19, "What outlives a session's
uid"): each attack here is planted as the session's uid, the way it was
found, and the next holder of that uid must find nothing of it.

- a file in /run/lock (a world-writable directory nobody listed by hand);
- a file nested in a root-owned world-writable sticky directory under /tmp,
  made like /tmp/.X11-unix;
- keys in the uid's user keyring and in its persistent keyring, and
  corrald's own session keyring, which every session inherited;
- a mode-000 directory (with something inside) in /tmp, which once made the
  sweep fail and held the uid until corrald restarted: 16 such traps
  drained the pool and every open got 429.

A sweep that cannot finish is retried with back-off and health says why."""
import os
import shutil
import subprocess
import unittest

from corral_harness import DaemonTestCase, as_uid, wait_until

# The python every uid can run (a pyenv shim under /root is not).
PYTHON = "/usr/bin/python3"

# Plants, counts or clears keys as the uid it runs as. A process of its
# own keyring session first: the session keyring it inherits is root's.
KEYRING_PROBE = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SYS_add_key, SYS_keyctl = 248, 250  # x86_64
USER_KEYRING, SESSION_KEYRING = -4, -3
JOIN_SESSION, CLEAR, READ, GET_PERSISTENT = 1, 7, 11, 22
def call(number, *args):
    result = libc.syscall(number, *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    if result < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return result
def keys_in(ring):
    return call(SYS_keyctl, READ, ring, None, 0) // 4
call(SYS_keyctl, JOIN_SESSION, None)
persistent = call(SYS_keyctl, GET_PERSISTENT, -1, SESSION_KEYRING)
if sys.argv[1] == "plant":
    for ring, name in ((USER_KEYRING, b"corral-test-user"), (persistent, b"corral-test-persistent")):
        call(SYS_add_key, b"user", name, b"secret", ctypes.c_size_t(6), ctypes.c_long(ring))
if sys.argv[1] == "clear":
    call(SYS_keyctl, CLEAR, USER_KEYRING)
    call(SYS_keyctl, CLEAR, persistent)
print(keys_in(USER_KEYRING), keys_in(persistent))
"""


def planted_as(test, uid, script):
    """Run the shell `script` as uid; it must succeed."""
    result = as_uid(uid, "sh", "-c", script)
    test.assertEqual(result.returncode, 0, result.stderr)


def keys_of(uid, action="count"):
    """(keys in the user keyring, keys in the persistent keyring) of uid."""
    result = as_uid(uid, PYTHON, "-c", KEYRING_PROBE, action)
    assert result.returncode == 0, result.stderr
    return tuple(int(n) for n in result.stdout.split())


def remove_as_root(path):
    subprocess.run(["chattr", "-i", path], capture_output=True)
    if os.path.isdir(path) and not os.path.islink(path):
        for root, dirs, _ in os.walk(path):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o700)
        os.chmod(path, 0o700)
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


class UidSweep(DaemonTestCase):
    """The suite's own uid range (corral_harness/users.py), else the default pool."""

    def setUp(self):
        self.leftovers = []  # removed as root whatever happens

    def tearDown(self):
        for path in self.leftovers:
            remove_as_root(path)
        super().tearDown()

    def health(self):
        return self.daemon.request("GET", "/v1/health")[1]["session_uids"]

    def close_and_wait(self, session):
        """Close; wait until the uid's sweep is over; the close report's problems."""
        self.daemon.close(session["id"], grace=0)
        wait_until(lambda: self.daemon.get(session["id"])[1]["report"]["pending"] == [], 30, "the uid sweep")
        return self.daemon.get(session["id"])[1]["report"]["problems"]

    def test_a_file_in_run_lock_is_swept(self):
        session = self.daemon.open()
        planted = f"/run/lock/corral-test-planted-{os.getpid()}"
        self.leftovers.append(planted)
        planted_as(self, session["uid"], f"echo secret > {planted}")
        self.assertEqual(os.stat(planted).st_uid, session["uid"])
        self.assertEqual(self.close_and_wait(session), [])
        self.assertFalse(os.path.lexists(planted), "the file planted in /run/lock outlived its session")
        self.assertIn("/run/lock", self.health()["sweep"]["discovery"]["dirs"])

    def test_a_file_nested_in_a_root_owned_sticky_dir_is_swept(self):
        # Made like /tmp/.X11-unix: root's, world-writable and sticky.
        x11 = f"/tmp/.corral-test-X11-unix-{os.getpid()}"
        os.mkdir(x11)
        self.leftovers.append(x11)
        os.chmod(x11, 0o1777)
        session = self.daemon.open()
        planted = os.path.join(x11, "X99")
        planted_as(self, session["uid"], f"echo secret > {planted}")
        self.assertEqual(self.close_and_wait(session), [])
        self.assertFalse(os.path.lexists(planted), "the file nested in a sticky dir outlived its session")
        self.assertTrue(os.path.isdir(x11), "root's directory must stay")

    def test_keys_in_the_user_and_persistent_keyrings_are_cleared(self):
        session = self.daemon.open()
        uid = session["uid"]
        try:
            self.assertEqual(keys_of(uid, "plant"), (1, 1))
            self.assertEqual(self.close_and_wait(session), [])
            self.assertEqual(keys_of(uid), (0, 0), "keys of the session outlived it")
        finally:
            keys_of(uid, "clear")

    def test_mode_000_traps_in_tmp_never_drain_the_pool(self):
        # The attack as found: every session leaves one trap; once each uid
        # of the pool had been held for good, every open got 429.
        size = self.health()["size"]
        problems = []
        for cycle in range(size + 2):
            status, session = self.daemon.request("POST", "/v1/sessions", {})
            self.assertEqual(status, 201, f"open {cycle + 1} of {size + 2}: {session}; before: {problems}")
            trap = f"/tmp/corral-test-trap-{os.getpid()}-{cycle}"
            self.leftovers.append(trap)
            planted_as(self, session["uid"], f"mkdir -p {trap}/inner && echo secret > {trap}/inner/file && "
                                             f"chmod 000 {trap}/inner {trap}")
            problems += self.close_and_wait(session)
        self.assertEqual(problems, [])
        self.assertEqual([trap for trap in self.leftovers if os.path.lexists(trap)], [], "traps outlived their sessions")
        self.assertEqual(self.health()["quarantined"], {})

    def test_a_sweep_that_fails_is_retried_with_back_off_and_health_says_why(self):
        session = self.daemon.open()
        uid = session["uid"]
        # Something of the uid that no sweep can remove until root says so.
        pinned = f"/tmp/corral-test-pinned-{os.getpid()}"
        self.leftovers.append(pinned)
        planted_as(self, uid, f"echo secret > {pinned}")
        subprocess.run(["chattr", "+i", pinned], check=True)
        problems = self.close_and_wait(session)
        self.assertTrue(any(pinned in problem for problem in problems), problems)
        retry = self.health()["sweep"]["retries"][str(uid)]
        self.assertGreaterEqual(retry["failures"], 1)
        self.assertIn(pinned, retry["why"])
        self.assertIsNotNone(retry["next_attempt_in_ms"])
        self.assertIn(str(uid), self.health()["quarantined"])
        subprocess.run(["chattr", "-i", pinned], check=True)
        wait_until(lambda: str(uid) not in self.health()["quarantined"], 30, "the retried sweep")
        self.assertFalse(os.path.lexists(pinned))
        self.assertNotIn(str(uid), self.health()["sweep"]["retries"])

    def test_health_reports_the_discovered_world_writable_dirs(self):
        discovery = self.health()["sweep"]["discovery"]
        for expected in ("/tmp", "/dev/shm"):
            self.assertIn(expected, discovery["dirs"])
        self.assertNotIn("/proc", discovery["dirs"])
        self.assertIsInstance(discovery["took_ms"], int)
        self.assertIn("complete", discovery)


# corrald's launch prefix: join a session keyring of its own, as
# corrald.service's KeyringMode=private gives it one, say where, and exec.
JOIN_KEYRING_AND_EXEC = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
ring = libc.syscall(250, ctypes.c_long(1), None)  # keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)
if ring < 0:
    raise OSError(ctypes.get_errno(), "keyctl")
with open(sys.argv[1], "w") as f:
    f.write(f"{ring}\n")
os.execv(sys.argv[2], sys.argv[2:])
"""
CORRALD_KEYRING = f"/tmp/corral-test-keyring-{os.getpid()}"


class SessionKeyrings(DaemonTestCase):
    """A session process inherited corrald's session keyring: every session
    possessed the same one, so a key one session added there, the next read
    (left open by the sweep's fix, found in its review)."""
    daemon_options = {"launch_prefix": (PYTHON, "-c", JOIN_KEYRING_AND_EXEC, CORRALD_KEYRING)}

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        os.unlink(CORRALD_KEYRING)

    def session_keyring(self, session):
        """The session keyring the session's browser (the stub) found itself in."""
        path = os.path.join(self.daemon.state_dir, "sessions", session["id"], "profile", "stub.keyring")
        wait_until(lambda: os.path.exists(path), 10, "the stub's keyring file")
        with open(path) as f:
            return f.read().strip()

    def test_no_session_shares_corralds_or_another_sessions_keyring(self):
        with open(CORRALD_KEYRING) as f:
            corralds = f.read().strip()
        rings = [self.session_keyring(self.daemon.open()) for _ in range(2)]
        self.assertNotIn("none", rings, "the stub could not read its keyring")
        self.assertNotIn(corralds, rings, "a session has corrald's session keyring")
        self.assertNotEqual(rings[0], rings[1], "two sessions share a session keyring")


if __name__ == "__main__":
    unittest.main(verbosity=1)
