"""Where the CPU of bench/grid/grid_bench.py's sessions/s goes, host by host.

On two cores both sides keep the machine busy, so sessions/s is CPU per
session; this says whose. A corral host's is its relay node's JVM, its
corrald, and its sessions (corrald's cgroup root holds every session's
cgroup, and a cgroup's cpu.stat keeps what removed children used). A
plain host's node JVM goes into a cgroup of the bench's, so that the
chromedrivers it starts, and their browsers, are counted there too."""
import os

from common.cgroups import CGROUP2, remove
from corral_harness.live_helpers import track_helper, untrack_helper

TICK = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid):
    """utime + stime of a process (all its threads, not its children)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def cgroup_cpu_s(path):
    with open(os.path.join(path, "cpu.stat")) as f:
        usage = next(line for line in f if line.startswith("usage_usec"))
    return int(usage.split()[1]) / 1e6


class HostCpu:
    def __init__(self, fleet):
        self.fleet = fleet
        self.root = os.path.join(CGROUP2, f"corral-bench-grid-{os.getpid()}")
        os.mkdir(self.root)
        track_helper(self)  # a killed run removes it too
        self.plain = {}
        try:
            for host in fleet.plain_hosts.values():
                path = os.path.join(self.root, host.name)
                os.mkdir(path)
                with open(os.path.join(path, "cgroup.procs"), "w") as f:
                    f.write(str(host.node.server.pid))  # all its threads; what it forks from now on
                self.plain[host.name] = path
        except OSError:
            self.remove()  # kills a JVM already moved: the fleet's stop finds it gone
            raise

    def sample(self):
        """CPU seconds so far of each part: {part: {host: s}}."""
        parts = {"hub": {"grid": process_cpu_s(self.fleet.hub.server.pid)}, "node JVM": {}, "corrald": {},
                 "sessions": {}}
        for host in self.fleet.hosts.values():
            parts["node JVM"][host.name] = process_cpu_s(host.node.server.pid)
            parts["corrald"][host.name] = process_cpu_s(host.daemon.process.pid)
            parts["sessions"][host.name] = cgroup_cpu_s(host.daemon.cgroup_root)
        for name, path in self.plain.items():
            jvm = process_cpu_s(self.fleet.plain_hosts[name].node.server.pid)
            parts["node JVM"][name] = jvm
            parts["sessions"][name] = cgroup_cpu_s(path) - jvm  # chromedrivers and browsers
        return parts

    def per_session(self, before, after, hosts, sessions):
        """CPU seconds per session of each part, on `hosts` (and the hub)."""
        if not sessions:
            return None
        used = {}
        for part, by_host in after.items():
            names = [name for name in by_host if name in hosts or part == "hub"]
            used[part] = round(sum(by_host[n] - before[part][n] for n in names) / sessions, 3)
        return used

    def remove(self):
        """After the fleet has stopped: the node JVMs are gone, the cgroups
        empty (remove() kills what a failed run left in them)."""
        remove(self.root)
        untrack_helper(self)

    def abandon(self):
        self.remove()
