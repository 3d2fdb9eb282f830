"""Where the CPU of bench/grid/grid_bench.py's sessions/s goes, host by host.

On two cores both sides keep the machine busy, so sessions/s is CPU per
session; this says whose. Every host's processes are counted by cgroup,
so that nothing a host spends escapes (a process's own utime + stime
leave out its children, and lose its threads that ended):
- a corral host's corrald and relay node JVM go into a cgroup of the
  bench's, with whatever corrald runs outside a session's cgroup; its
  sessions are corrald's cgroup root, which holds every session's cgroup
  and, with --warm, every warm member's: refills, frozen members, members
  given back or discarded (a cgroup's cpu.stat keeps what removed
  children used);
- a plain host's node JVM goes into a cgroup of the bench's, so that the
  chromedrivers it starts, and their browsers, are counted there too.
"node JVM" is the JVM's own utime + stime; the rest of the bench's
cgroup is "corrald" on a corral host, "sessions" on a plain one."""
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
        self.own = {}
        try:
            for host in fleet.plain_hosts.values():
                self.own[host.name] = self.adopt(host.name, [host.node.server.pid])
            for host in fleet.hosts.values():
                self.own[host.name] = self.adopt(host.name, [host.daemon.process.pid, host.node.server.pid])
        except OSError:
            self.remove()  # kills a JVM already moved: the fleet's stop finds it gone
            raise

    def adopt(self, name, pids):
        """A cgroup of the bench's for a host's processes: all their threads,
        and what they fork from now on."""
        path = os.path.join(self.root, name)
        os.mkdir(path)
        for pid in pids:
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write(str(pid))
        return path

    def sample(self):
        """CPU seconds so far of each part: {part: {host: s}}."""
        parts = {"hub": {"grid": process_cpu_s(self.fleet.hub.server.pid)}, "node JVM": {}, "corrald": {},
                 "sessions": {}}
        for host in self.fleet.all_hosts():
            jvm = process_cpu_s(host.node.server.pid)
            parts["node JVM"][host.name] = jvm
            if host.name in self.fleet.hosts:
                parts["corrald"][host.name] = cgroup_cpu_s(self.own[host.name]) - jvm
                parts["sessions"][host.name] = cgroup_cpu_s(host.daemon.cgroup_root)
            else:
                parts["sessions"][host.name] = cgroup_cpu_s(self.own[host.name]) - jvm  # chromedrivers, browsers
        return parts

    def per_session(self, before, after, hosts, sessions):
        """CPU seconds per session of each part, on `hosts` (and the hub)."""
        if not sessions:
            return None
        used = {}
        for part, by_host in after.items():
            names = [name for name in by_host if name in hosts or part == "hub"]
            used[part] = sum(by_host[n] - before[part][n] for n in names) / sessions
        # What the side's own hosts spent, the shared hub left out.
        used["hosts"] = sum(value for part, value in used.items() if part != "hub")
        return {part: round(value, 3) for part, value in used.items()}

    def remove(self):
        """After the fleet has stopped: the node JVMs are gone, the cgroups
        empty (remove() kills what a failed run left in them)."""
        remove(self.root)
        untrack_helper(self)

    def abandon(self):
        self.remove()
