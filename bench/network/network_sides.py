"""The two sides of the network bench: two root corralds at once (cgroupfs,
each its own state dir, cgroup root and session uid range:
bench/common/daemons.py), one with `--session-network own`, one with
`--session-network shared`; how a session of either opens, where its
relayed DevTools lead, what corrald's CPU is, and what the run left."""
import os
import time
import urllib.parse

from common import procs
from common.daemons import Corrald

SIDES = ("own", "shared")


def relayed_path(session, path):
    """A path under the session's DevTools through corral (its API port)."""
    return urllib.parse.urlsplit(session["devtools"]["http"]).path.rstrip("/") + path


def network_inode(pid):
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def cpu_ns(pid):
    """The same CPU time (all threads, user and system) in ns: the process's
    CPU-time clock, the clockid clock_getcpuclockid(3) gives (CPUCLOCK_SCHED
    of the whole process). A tick is 10 ms here, about 15 MB of downloads."""
    return time.clock_gettime_ns(((~pid) << 3) | 2)


class Sides:
    def __init__(self, own_extra=()):
        """own_extra: more flags for the own side's corrald (--own-way-out kernel's)."""
        self.daemons = {}
        self.host_network = network_inode(os.getpid())
        self.session_networks = set()  # every own session's namespace, to find again at the end
        self.checked = {side: 0 for side in SIDES}  # sessions whose namespace was checked
        try:
            for side in SIDES:
                extra = ["--session-network", side] + (list(own_extra) if side == "own" else [])
                self.daemons[side] = Corrald("cgroupfs", extra=extra)
        except BaseException:
            self.stop()
            raise

    def port(self, side):
        return self.daemons[side].port

    def corrald_pid(self, side):
        return self.daemons[side].process.pid

    def cpu(self, side):
        """corrald's CPU so far: (clock ticks, ns)."""
        pid = self.corrald_pid(side)
        return procs.cpu_ticks(pid), cpu_ns(pid)

    # --- sessions -------------------------------------------------------
    def check_network(self, side, session):
        """The session is where its side says: a namespace of its own, or the host's."""
        if session.get("pid") is None:
            return
        inode = network_inode(session["pid"])
        own = inode != self.host_network
        if own != (side == "own") or session["network"]["own"] != own:
            raise RuntimeError(f"a {side} session's network is {'its own' if own else 'the host'}'s: {session}")
        if own:
            self.session_networks.add(inode)
        self.checked[side] += 1

    def open(self, side, body=None):
        session = self.daemons[side].open(body or {"kind": "chrome"})
        self.check_network(side, session)
        return session

    def check_webdriver_networks(self):
        """Every session of either side (a WebDriver client's) is where its side says."""
        for side, daemon in self.daemons.items():
            for listed in daemon.request("GET", "/v1/sessions")[1]["sessions"]:
                self.check_network(side, daemon.get(listed["id"])[1])

    def open_ready(self, side):
        """POST /v1/sessions until its 201, then until corral's relayed
        /json/version answers; then the session closed (not timed)."""
        daemon = self.daemons[side]
        started = time.perf_counter()
        status, session = daemon.request("POST", "/v1/sessions", {"kind": "chrome"})
        created_ms = (time.perf_counter() - started) * 1000
        if status != 201:
            raise RuntimeError(f"{side}: open answered {status} {session}\n{daemon.log()[-2000:]}")
        deadline, polls = time.monotonic() + 30, 0
        while True:
            polls += 1
            status, _ = daemon.request("GET", relayed_path(session, "/json/version"))
            if status == 200:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{side}: the relayed /json/version answered {status} for 30 s")
            time.sleep(0.002)
        ready_ms = (time.perf_counter() - started) * 1000
        self.check_network(side, session)
        self.close(side, session)
        return {"created_ms": round(created_ms, 2), "ready_ms": round(ready_ms, 2), "polls": polls}

    def close(self, side, session):
        daemon = self.daemons[side]
        daemon.request("DELETE", f"/v1/sessions/{session['id']}?grace=0")
        # corrald frees the closed profile just after it answers: let that
        # finish, so it does not slow down whichever open comes next.
        removed = os.path.join(daemon.state_dir, "removed")
        procs.wait_until(lambda: not os.path.isdir(removed) or not os.listdir(removed), 10, "the profile freed")

    def page_target(self, side, session, url):
        """A new tab of the session on url; its WebSocket URL through corral."""
        daemon = self.daemons[side]
        status, target = daemon.request("PUT", relayed_path(session, "/json/new?" + url))
        if status != 200:
            raise RuntimeError(f"{side}: /json/new answered {status} {target}")
        status, listed = daemon.request("GET", relayed_path(session, "/json/list"))
        through = next((t["webSocketDebuggerUrl"] for t in listed if t.get("id") == target["id"]), None)
        if not through or "/cdp/" not in through:
            raise RuntimeError(f"{side}: target {target['id']} not relayed in /json/list: {listed}")
        return through

    def egress(self, side, session):
        return self.daemons[side].get(session["id"])[1]["network"]["egress"]

    # --- what is left ---------------------------------------------------
    def leftovers_before_stop(self, settle_s=10):
        """Each daemon's session processes, cgroups and dirs, with every
        session closed. A WebDriver client's DELETE answers before corral
        has freed the session's dir: what is still there after settle_s."""
        deadline = time.monotonic() + settle_s
        while True:
            left = {side: daemon.leftovers() for side, daemon in self.daemons.items()}
            if not any(v for found in left.values() for v in found.values()) or time.monotonic() > deadline:
                return left
            time.sleep(0.1)

    def stop(self):
        for daemon in self.daemons.values():
            daemon.stop()

    def leftovers_after_stop(self):
        """What of the daemons is still on the host once they stopped: the
        corrald process, its state dir and cgroup root, any process of a
        session uid or of this run, and any own session's namespace (a
        process of the run in it, a file descriptor of one holding it, or
        a mount); and, apart, the session namespaces' numbers that other
        processes hold (the kernel reuses them)."""
        left = {"processes": [], "state_dirs": [], "cgroups": [], "namespaces": []}
        ranges = []
        for daemon in self.daemons.values():
            if procs.alive(daemon.process.pid):
                left["processes"].append(f"corrald {daemon.process.pid}")
            if os.path.exists(daemon.state_dir):
                left["state_dirs"].append(daemon.state_dir)
            if daemon.cgroup_root and os.path.exists(daemon.cgroup_root):
                left["cgroups"].append(daemon.cgroup_root)
            first, last = (int(n) for n in daemon.session_uids.split("-"))
            ranges.append(range(first, last + 1))
        reused = []
        for pid in procs.all_pids():
            ours = any(process_uid(pid) in r for r in ranges) or descends_from(pid, os.getpid())
            if ours and pid != os.getpid() and procs.alive(pid):
                left["processes"].append(f"{pid} {procs.cmdline(pid)[:100]}")
            for inode in sorted(held_networks(pid) & self.session_networks):
                # The kernel gives a freed namespace's number to the next one
                # made: another run's session may hold it now.
                (left["namespaces"] if ours else reused).append(f"net:[{inode}] held by {pid} {procs.comm(pid)}")
        left["namespaces"] += [f"net:[{inode}] mounted" for inode in sorted(mounted_networks() & self.session_networks)]
        return left, reused


def process_uid(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


def descends_from(pid, ancestor):
    """True if `ancestor` is pid's parent, or its parent's, and so on."""
    while pid > 1:
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError):
            return False
        if pid == ancestor:
            return True
    return False


def mounted_networks():
    """Network namespaces bound to a path (nsfs mounts, as `ip netns add` makes) in this mount namespace."""
    with open("/proc/self/mountinfo") as f:
        roots = [line.split()[3] for line in f if " - nsfs " in line]
    return {int(root[5:-1]) for root in roots if root.startswith("net:[")}


def held_networks(pid):
    """The network namespaces a process is in or holds a descriptor of."""
    gone = (FileNotFoundError, ProcessLookupError, PermissionError)
    held = set()
    try:
        held.add(network_inode(pid))
        fds = os.listdir(f"/proc/{pid}/fd")
    except gone:
        return held
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except gone:
            continue  # closed meanwhile
        if target.startswith("net:["):
            held.add(int(target[5:-1]))
    return held
