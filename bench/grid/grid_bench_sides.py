"""The two sides of bench/grid/grid_bench.py in one GridFleet: bots that talk to
the hub from the grid namespace, which node holds a session, how many
sessions each node made, and what a run left behind."""
import json
import os
import select
import subprocess
import time

from common import procs
from corral_harness import pid_alive, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
SIDES = ("corral", "plain")
BOT = os.path.join(HERE, "grid_bench_bot.py")
PYTHON = "/usr/bin/python3"  # Debian's, with python3-selenium
CREATED = "Session created by the Node"  # what a node's log says for each session it made
# Temp entries no one else names: the bench's own dirs are checked by path
# (another test run's corral-test-state.* may come and go meanwhile);
# corrald's uid sweep keeps its log in /tmp/corral-sweep-* while it runs.
TMP_PREFIXES = ("org.chromium.", ".org.chromium.", "hsperfdata_", "corral-sweep-")
# What picks a side: an extension capability in each side's stereotype,
# with a value of its own, that its bots ask for, as Grid users route. A
# warm corral host serves it attached (chromedriver ignores another
# vendor's capability launching or attaching alike).
ROUTE = {"corral": {"bench:side": "corral"}, "plain": {"bench:side": "plain"}}


class BenchBot:
    """bench/grid/grid_bench_bot.py in the grid namespace, asking for `side`."""

    def __init__(self, fleet, side):
        capabilities = json.dumps(ROUTE[side])
        argv = fleet.network.grid.command([PYTHON, BOT, fleet.hub.url, capabilities])
        self.side = side
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        ready = self.answer(timeout=60)
        if not ready.get("ready"):
            raise RuntimeError(f"bot for {side}: {ready}")

    def send(self, command):
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def answer(self, timeout=120):
        """The bot's next line. One line per command, so select() on the
        pipe never misses a line already read into the buffer."""
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            raise RuntimeError(f"bot for {self.side}: no answer within {timeout} s")
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"bot for {self.side} exited ({self.process.poll()})")
        return json.loads(line)

    def ask(self, do, timeout=120):
        self.send({"do": do})
        answer = self.answer(timeout)
        if not answer.get("ok"):
            raise RuntimeError(f"bot for {self.side}, {do}: {answer}")
        return answer

    def close(self):
        """End of input: the bot quits a session it still has, and exits."""
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
                self.process.wait(60)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


class Sides:
    def __init__(self, fleet):
        self.fleet = fleet
        self.nodes = {"corral": {host.node.uri for host in fleet.hosts.values()},
                      "plain": {host.node.uri for host in fleet.plain_hosts.values()}}
        self.routed = {side: 0 for side in SIDES}

    def bot(self, side):
        return BenchBot(self.fleet, side)

    def check_route(self, side, session_id):
        """The host whose node holds the session's slot, one of its side's:
        Grid routed by the side's ROUTE capability (a wrong route ends the run)."""
        holders = [node["uri"] for node in self.fleet.hub.nodes()
                   if any((slot.get("session") or {}).get("sessionId") == session_id for slot in node["slots"])]
        if len(holders) != 1 or holders[0] not in self.nodes[side]:
            raise RuntimeError(f"{side} session {session_id} is held by {holders}, not by {self.nodes[side]}")
        self.routed[side] += 1
        return next(host for host in self.fleet.all_hosts() if host.node.uri == holders[0])

    def hosts_of(self, side):
        return set(self.fleet.hosts if side == "corral" else self.fleet.plain_hosts)

    def sessions_by_node(self):
        """Sessions each node has made so far, from its log."""
        return {host.name: host.node.server.log().count(CREATED) for host in self.fleet.all_hosts()}

    def settle(self, timeout=60):
        """Every slot free at the hub and no session open on a corral host:
        the next measurement starts from the same place."""
        hub = self.fleet.hub
        wait_until(lambda: all(hub.busy_slots(host.node.uri) == 0 for host in self.fleet.all_hosts()),
                   timeout, "every Grid slot free")
        for host in self.fleet.hosts.values():
            wait_until(lambda: not host.sessions(), timeout, f"no session on corral host {host.name}")
        time.sleep(1)  # the last browsers' exit, off the CPU


def tmp_snapshot():
    return {name for name in os.listdir("/tmp") if name.startswith(TMP_PREFIXES)}


def leftovers(fleet, servers, tmp_before, cgroups=()):
    """What a stopped fleet left: JVMs it started, its namespaces, corral's
    state dirs and cgroup roots (and `cgroups`, the bench's), the work dir, processes naming any of
    those, new Chrome or JVM temp entries in /tmp (another run at the same
    time would show here too)."""
    daemons = [host.daemon for host in fleet.hosts.values()]
    paths = [fleet.workdir.path, *(daemon.state_dir for daemon in daemons)]
    left = {
        "jvms": [server.pid for server in servers if pid_alive(server.pid)],
        "namespaces": fleet.network.leftovers(),
        "dirs": [path for path in paths if os.path.exists(path)],
        "cgroups": [path for path in [*(d.cgroup_root for d in daemons), *cgroups] if path and os.path.exists(path)],
        "processes": sorted({pid for path in paths for pid in procs.processes_mentioning(path)}),
        "new_tmp": sorted(tmp_snapshot() - tmp_before),
    }
    return {"clean": not any(left.values()), "left": left}
