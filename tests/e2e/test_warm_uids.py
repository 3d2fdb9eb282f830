"""Admission with a warm pool (issue 23): 504 open/close cycles from 8
clients at once against corrald with --warm chrome=4 (the stub browser, so
that the cycles are many and quick), claims and cold opens mixed. No uid is
ever held by two of them at once, live sessions and warm members alike; no
request gets a 5xx (every open a 201, every close a 200); afterwards only
the warm members are left, each holding one uid, and a stop ends them too.

Two views of who holds a uid, both checked while the clients cycle:
- the API's: each client keeps the uid a 201 named until just before its
  DELETE; two clients never hold one uid at once;
- the host's: a watcher reads the uid of every process in every session
  cgroup (warm members have nothing else to read); one uid in two cgroups,
  or a session's uid in another cgroup, is a fault only if still so when
  read again (the same pid in the same cgroup both times), so that a
  cgroup read just before its uid moved on is never mistaken for one."""
import os
import pwd
import sys
import threading
import time
import unittest

from corral_harness import RUN_SESSION_UIDS, Daemon, instance_scope_name, process_status, wait_until

CLIENTS = 8
CYCLES_EACH = 63  # 504 in all
WARM = 4


def pool_uids():
    """The run's uid range, or corral's default pool corral-s00..s15."""
    if RUN_SESSION_UIDS:
        first, last = (int(uid) for uid in RUN_SESSION_UIDS.split("-"))
        return set(range(first, last + 1))
    return {pwd.getpwnam(f"corral-s{i:02d}").pw_uid for i in range(16)}


POOL = pool_uids()


def uids_by_cgroup(root, names):
    """{cgroup name: {pid: real uid}} of every process in the named cgroups (below them too)."""
    found = {}
    for name in names:
        pids = {}
        for below, _, _ in os.walk(os.path.join(root, name)):
            try:
                with open(os.path.join(below, "cgroup.procs")) as f:
                    listed = [int(line) for line in f if line.strip()]
            except OSError:
                continue  # removed meanwhile
            for pid in listed:
                status = process_status(pid)
                if status:
                    pids[pid] = int(status["Uid"].split()[0])
        found[name] = pids
    return found


def holders(reading):
    """{uid: {cgroup name: {pids}}} of one reading, for the uids of the pool:
    a session's processes run as root for a moment, before they take its uid."""
    held = {}
    for name, pids in reading.items():
        for pid, uid in pids.items():
            if uid in POOL:
                held.setdefault(uid, {}).setdefault(name, set()).add(pid)
    return held


def confirmed(first, again, uid, name):
    """Pids of `name` that had `uid` in both readings: it held the uid all along between them."""
    return first.get(uid, {}).get(name, set()) & again.get(uid, {}).get(name, set())


class WarmUids(unittest.TestCase):
    def setUp(self):
        self.daemon = Daemon("--warm", f"chrome={WARM}", browser=os.environ["CORRAL_STUB"])
        self.addCleanup(self.daemon.remove)
        self.root = self.daemon.request("GET", "/v1/health")[1]["cgroup_root"]
        self.lock = threading.Lock()
        self.held = {}  # uid -> (session id, cgroup name), as the API said
        self.failures = []
        self.samples = 0
        # (pool uid, cgroup) where no client held the cgroup: warm members (or opening, closing)
        self.unlisted_seen = set()

    def cycles(self, worker):
        for _ in range(CYCLES_EACH):
            status, session = self.daemon.request("POST", "/v1/sessions?wait=30s", {})
            if status != 201:
                self.failures.append((worker, "open", status, session))
                continue
            uid, cgroup = session["uid"], os.path.basename(session["cgroup"])
            with self.lock:
                if uid in self.held:
                    self.failures.append((worker, "uid twice in the API", uid, self.held[uid], session["id"]))
                self.held[uid] = (session["id"], cgroup)
            with self.lock:
                del self.held[uid]  # before the close: from here on the uid is on its way back
            status, report = self.daemon.request("DELETE", f"/v1/sessions/{session['id']}?grace=0")
            if status != 200:
                self.failures.append((worker, "close", status, report))

    def watch(self, stop):
        while not stop.is_set():
            names = [name for name in os.listdir(self.root) if instance_scope_name(None, name)]
            first = holders(uids_by_cgroup(self.root, names))
            with self.lock:
                held = dict(self.held)
            again = holders(uids_by_cgroup(self.root, names))
            self.samples += 1
            sessions = {cgroup for _, cgroup in held.values()}
            self.unlisted_seen |= {(uid, name) for uid, by_cgroup in first.items() for name in by_cgroup
                                   if name not in sessions}
            for uid, by_cgroup in first.items():
                lasting = sorted(name for name in by_cgroup if confirmed(first, again, uid, name))
                if len(lasting) > 1:
                    self.failures.append(("uid in two cgroups at once", uid, lasting))
                if uid in held and any(name != held[uid][1] for name in lasting):
                    self.failures.append(("a session's uid in another cgroup", uid, held[uid], lasting))
            time.sleep(0.002)  # thousands of readings still, and a core left to the clients

    def test_no_uid_is_held_twice_across_504_cycles_with_a_pool(self):
        daemon = self.daemon
        wait_until(lambda: daemon.request("GET", "/v1/usage")[1]["warm"]["chrome"]["ready"] == WARM, 60,
                   f"{WARM} warm browsers ready")
        stop = threading.Event()
        watcher = threading.Thread(target=self.watch, args=(stop,))
        clients = [threading.Thread(target=self.cycles, args=(n,)) for n in range(CLIENTS)]
        began = time.monotonic()
        watcher.start()
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        stop.set()
        watcher.join()
        elapsed = time.monotonic() - began
        self.assertEqual(self.failures[:10], [])
        warm = daemon.request("GET", "/v1/usage")[1]["warm"]["chrome"]
        print(f"\n{CLIENTS} clients x {CYCLES_EACH} cycles in {elapsed:.1f} s: {warm['hits']} claims, "
              f"{warm['misses']} cold opens, {warm['discarded']} members discarded; {self.samples} readings "
              f"of every session cgroup's uids, {len(self.unlisted_seen)} cgroups seen unlisted holding a pool uid",
              file=sys.stderr)
        self.assertEqual(warm["hits"] + warm["misses"], CYCLES_EACH * CLIENTS)
        self.assertGreater(warm["hits"], 0, "the pool served no open")
        self.assertGreater(self.samples, 10, "the watcher hardly looked")
        self.assertGreater(len(self.unlisted_seen), WARM, "the watcher saw no warm member")

        # Afterwards: the pool full again, each member one uid, nothing quarantined or left.
        wait_until(lambda: daemon.request("GET", "/v1/usage")[1]["warm"]["chrome"]["ready"] == WARM, 60,
                   "the pool refilled")
        uids = daemon.request("GET", "/v1/health")[1]["session_uids"]
        self.assertEqual(uids["quarantined"], {})
        self.assertEqual(uids["sweep"]["retries"], {})
        daemon.assert_nothing_left()  # counts the warm members' uids against in_use
        members = uids_by_cgroup(self.root, daemon.session_cgroups())
        self.assertEqual(len(members), WARM)
        member_uids = {uid for pids in members.values() for uid in pids.values()}
        self.assertEqual(len(member_uids), WARM, members)
        self.assertLessEqual(member_uids, POOL)
        self.assertEqual(daemon.stop(), 0, daemon.log()[-2000:])
        self.assertEqual([name for name in os.listdir(self.root) if name.startswith("corral-")]
                         if os.path.isdir(self.root) else [], [])
        self.assertEqual(daemon.session_dirs(), [])
        self.assertEqual(daemon.units(), [])


if __name__ == "__main__":
    unittest.main()
