"""A fleet of corral hosts behind the real Selenium Grid, in the shape
docs/grid.md describes: one hub; on every corral host a corrald listening
on that host's loopback and one relay node beside it, configured by
tools/grid/relay-node-config and reachable from the hub; bots that talk
only to the hub.

    with GridFleet(["a", "b"], corral_args=("--max-sessions", "3")) as fleet:
        bot = fleet.bot()          # a Python Selenium bot in the grid namespace
        fleet.hosts["a"].daemon    # corrald of host a (its API over a namespace socket)

plain_hosts=["p"] adds hosts without corral, each with a standard node
that runs chromedriver itself (fleet.plain_hosts), to compare against.

Everything it starts is stopped, and everything it makes removed, on
__exit__, at exit, and on SIGTERM.
"""
import atexit
import json
import os
import secrets
import select
import subprocess
import sys

from corral_harness import UID_BLOCK_FIRST, Daemon, wait_until
from fleet_network import FleetNetwork
from grid_servers import GridWorkdir, Hub, InNetns, PlainNode, RelayNode, grid_jar, java_processes_of
from corral_harness.live_helpers import track_helper, untrack_helper

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
CORRAL_PORT = 8420
RELAY_NODE_CONFIG = os.environ.get("RELAY_NODE_CONFIG",
                                   os.path.join(SOURCE_ROOT, "tools", "grid", "relay-node-config"))
# uid pools of the fleet's corralds: named instances take no default pool.
# A run given a uid block of its own (grid-warm, beside grid) takes three
# ranges of 16 from it instead.
HOST_UIDS = [f"{first}-{first + 15}" for first in (UID_BLOCK_FIRST + 20 * k for k in range(3))] \
    if UID_BLOCK_FIRST else ["400340-400355", "400360-400375", "400380-400395"]
_LIVE_FLEETS = []  # for atexit: a test that failed before its cleanup leaves nothing either


class NetnsDaemon(InNetns, Daemon):
    """A corrald started inside a host's namespace; requests reach it there."""

    def __init__(self, netns, *args, **kwargs):
        self.netns = netns
        super().__init__(*args, launch_prefix=netns.command([]), **kwargs)


class CorralHost:
    """One corral host: its namespace, its corrald and its relay node."""

    def __init__(self, fleet, name, index):
        self.fleet, self.name = fleet, name
        self.netns = fleet.network.hosts[name]
        self.instance = f"grid{name}"
        self.args = ["--instance", self.instance, "--session-uids", HOST_UIDS[index], *fleet.corral_args]
        self.daemon = NetnsDaemon(self.netns, *self.args, listen=f"127.0.0.1:{CORRAL_PORT}")
        self.node = None

    def __repr__(self):
        return f"CorralHost({self.name} at {self.netns.address})"

    def write_node_config(self):
        """tools/grid/relay-node-config, run on this host as an operator would."""
        path = os.path.join(self.fleet.workdir.path, f"node-{self.name}.toml")
        argv = [sys.executable, RELAY_NODE_CONFIG,
                "--corral", f"http://127.0.0.1:{CORRAL_PORT}", "--hub", self.fleet.network.grid_address_for(self.name),
                "--node-host", self.netns.address, "--output", path, *self.fleet.config_args]
        done = subprocess.run(self.netns.command(argv), capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, f"relay-node-config: {done.stdout}{done.stderr}"
        return path

    def start_node(self):
        config = self.write_node_config()
        with open(config) as f:
            self.config = f.read()
        # The registration secret is the hub's, not corral's: given beside
        # the generated file, as an operator would.
        self.node = RelayNode(self.netns, self.fleet.workdir.path, f"node-{self.name}", config,
                              ["--registration-secret", self.fleet.secret])
        return self.node

    def kill_daemon(self):
        self.daemon.process.kill()
        self.daemon.process.wait()

    def restart_daemon(self):
        self.daemon = NetnsDaemon(self.netns, *self.args, listen=f"127.0.0.1:{CORRAL_PORT}", reuse=self.daemon)
        return self.daemon

    def sessions(self):
        status, reply = self.daemon.request("GET", "/v1/sessions")
        assert status == 200, reply
        return reply["sessions"]

    def stop(self):
        if self.node:
            self.node.server.stop()
        self.daemon.remove()


class PlainHost:
    """A host with no corral: a standard Grid node that runs chromedriver
    itself (grid_servers.PlainNode), for comparisons with the corral hosts.
    node_options: PlainNode's max_sessions and stereotype."""

    def __init__(self, fleet, name, node_options):
        self.fleet, self.name, self.node_options = fleet, name, node_options
        self.netns = fleet.network.hosts[name]
        self.node = None

    def __repr__(self):
        return f"PlainHost({self.name} at {self.netns.address})"

    def start_node(self):
        self.node = PlainNode(self.netns, self.fleet.workdir.path, f"node-{self.name}",
                              self.fleet.network.grid_address_for(self.name), self.fleet.secret, **self.node_options)
        return self.node

    def stop(self):
        if self.node:
            self.node.server.stop()


class Bot:
    """tests/grid/grid_bot.py in the grid namespace, driven line by line."""

    def __init__(self, fleet, capabilities=None):
        argv = [sys.executable, os.path.join(HERE, "grid_bot.py"), fleet.hub.url, json.dumps(capabilities or {})]
        self.process = subprocess.Popen(fleet.network.grid.command(argv), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, bufsize=1)
        self.opened = None

    def wait_opened(self, timeout=120):
        """The bot's first line: its session, or the exception that refused it."""
        self.opened = self._answer(timeout)
        return self.opened

    def ask(self, command, timeout=120, **fields):
        self.process.stdin.write(json.dumps({"do": command, **fields}) + "\n")
        self.process.stdin.flush()
        return self._answer(timeout)

    def _answer(self, timeout):
        line = _readline(self.process.stdout, timeout)
        if not line:
            raise AssertionError(f"the bot said nothing (exit {self.process.poll()})")
        return json.loads(line)

    def kill(self):
        """Gone without quit(): the session stays open at the Grid and corral."""
        self.process.kill()
        self.process.wait()

    def finish(self):
        if self.process.poll() is None:
            try:
                if self.opened and self.opened.get("ok"):
                    self.ask("quit", timeout=60)
            except (AssertionError, BrokenPipeError, OSError):
                pass
            self.process.stdin.close()
            self.process.wait(30)


def _readline(stream, timeout):
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        raise AssertionError(f"no answer from the bot within {timeout} s")
    return stream.readline()


class GridFleet:
    def __init__(self, host_names=("a", "b"), corral_args=(), config_args=(), healthcheck_interval=2,
                 plain_hosts=(), plain_node=None):
        """plain_hosts: names of hosts with a PlainHost's node instead of
        corral (in fleet.plain_hosts, not fleet.hosts); plain_node: its
        PlainNode options (max_sessions, stereotype)."""
        self.host_names, self.corral_args, self.config_args = list(host_names), list(corral_args), list(config_args)
        self.plain_names, self.plain_node = list(plain_hosts), dict(plain_node or {})
        self.healthcheck_interval = healthcheck_interval
        self.secret = secrets.token_hex(16)
        self.jar = grid_jar()
        self.network = self.workdir = self.hub = None
        self.hosts = {}
        self.plain_hosts = {}
        self.bots = []

    def __enter__(self):
        track_helper(self)
        _LIVE_FLEETS.append(self)
        try:
            self.workdir = GridWorkdir()
            self.network = FleetNetwork(self.host_names + self.plain_names)
            for index, name in enumerate(self.host_names):
                self.hosts[name] = CorralHost(self, name, index)
            for name in self.plain_names:
                self.plain_hosts[name] = PlainHost(self, name, self.plain_node)
            self.hub = Hub(self.network.grid, self.workdir.path, self.secret, self.healthcheck_interval)
            for host in self.all_hosts():
                host.start_node()
            for host in self.all_hosts():
                self.hub.wait_for_node(host.node.uri)
        except BaseException:
            self.abandon()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def bot(self, capabilities=None):
        return self.bots_at_once(1, capabilities)[0]

    def bots_at_once(self, count, capabilities=None):
        """count bots started together, each waited for until it has its
        session (or its refusal)."""
        bots = [Bot(self, capabilities) for _ in range(count)]
        self.bots.extend(bots)
        for bot in bots:
            bot.wait_opened()
        return bots

    def all_hosts(self):
        return [*self.hosts.values(), *self.plain_hosts.values()]

    def java_pids(self):
        """JVMs of this fleet still running: each was given its temp dir under the workdir."""
        return java_processes_of(self.workdir.path)

    def stop(self):
        """A clean stop: bots quit, nodes and hub stopped, corralds stopped with
        nothing left, namespaces deleted."""
        for bot in self.bots:
            bot.finish()
        for host in self.all_hosts():
            host.stop()
        if self.hub:
            self.hub.server.stop()
        self.abandon()

    def abandon(self):
        for bot in self.bots:
            if bot.process.poll() is None:
                bot.kill()
        for host in self.hosts.values():
            if host.node:
                host.node.server.abandon()
            host.daemon.abandon()
        for host in self.plain_hosts.values():
            if host.node:
                host.node.server.abandon()  # the namespace's deletion kills its chromedrivers
        if self.hub:
            self.hub.server.abandon()
        if self.network:
            self.network.abandon()
        if self.workdir:
            self.workdir.abandon()
        untrack_helper(self)
        if self in _LIVE_FLEETS:
            _LIVE_FLEETS.remove(self)


@atexit.register
def _abandon_live_fleets():
    for fleet in list(_LIVE_FLEETS):
        fleet.abandon()


def wait_for_sessions(host, count, timeout=30):
    wait_until(lambda: len(host.sessions()) == count, timeout, f"{count} sessions on host {host.name}")
