"""Hosts for a Selenium Grid fleet, on this machine: network namespaces
joined by veth pairs, as separate machines on a private network would be.

    grid namespace (the hub, and the bots) ──veth── host "a" (corrald, a relay node)
                                           ──veth── host "b" (corrald, a relay node)

Each link is a /30 of 10.214.0.0/16. Inside namespaces only this suite's
processes live, so addresses and ports need no care about the rest of the
machine; the namespaces' names carry the pid so that runs do not collide.
Nothing reaches the root namespace: a test talks to a server inside one
with Netns.connect(), whose socket is made in that namespace.

Needs root. Everything is removed by abandon(): on exit, and on SIGTERM
(meson's timeout) through live_helpers.
"""
import os
import signal
import socket
import subprocess

from corral_harness.live_helpers import track_helper, untrack_helper
from corral_harness.netns import connected_at, socket_at


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=check)


class Netns:
    """One named network namespace with its loopback up."""

    def __init__(self, name):
        self.name = name
        self.path = f"/run/netns/{name}"
        _ip("netns", "add", name)
        _ip("-n", name, "link", "set", "lo", "up")

    def __repr__(self):
        return f"Netns({self.name})"

    def command(self, argv):
        """argv run inside: nsenter enters only the network namespace (ip netns
        exec would also remount /sys, hiding the cgroup tree from corrald)."""
        return ["nsenter", f"--net={self.path}", "--", *argv]

    def pids(self):
        return [int(pid) for pid in _ip("netns", "pids", self.name, check=False).stdout.split()]

    def socket(self, family=socket.AF_INET):
        """A socket of this namespace (corral_harness.netns.socket_at)."""
        return socket_at(self.path, family)

    def connect(self, address, timeout):
        return connected_at(self.path, address, timeout)

    def delete(self):
        """Kill whatever still runs inside, then remove the namespace."""
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _ip("netns", "del", self.name, check=False)


class FleetNetwork:
    """The grid namespace and one namespace per host, each host linked to the
    grid by a veth pair: host.address is the host's end, grid_address_for(host)
    the grid's end of that link."""

    def __init__(self, host_names):
        self.tag = f"cg{os.getpid()}"
        self.grid = None
        self.hosts = {}
        self._grid_ends = {}
        self._links = []
        track_helper(self)
        try:
            self.grid = Netns(f"corral-{self.tag}-grid")
            for index, name in enumerate(host_names):
                self._add_host(index, name)
        except BaseException:
            self.abandon()
            raise

    def __repr__(self):
        return f"FleetNetwork({self.tag}: {', '.join(self.hosts)})"

    def _add_host(self, index, name):
        host = Netns(f"corral-{self.tag}-{name}")
        self.hosts[name] = host
        # Interface names: at most 15 characters; made in the grid namespace,
        # so that no interface of this suite ever exists in the root one.
        grid_end, host_end = f"g{index}", f"h{index}"
        grid_address, host_address = f"10.214.{index}.1", f"10.214.{index}.2"
        _ip("-n", self.grid.name, "link", "add", grid_end, "type", "veth", "peer", "name", host_end,
            "netns", host.name)
        _ip("-n", self.grid.name, "addr", "add", f"{grid_address}/30", "dev", grid_end)
        _ip("-n", self.grid.name, "link", "set", grid_end, "up")
        _ip("-n", host.name, "addr", "add", f"{host_address}/30", "dev", host_end)
        _ip("-n", host.name, "link", "set", host_end, "up")
        host.address = host_address
        self._grid_ends[name] = grid_address

    def grid_address_for(self, name):
        return self._grid_ends[name]

    def namespaces(self):
        return [ns for ns in [self.grid, *self.hosts.values()] if ns]

    def abandon(self):
        """Kill everything inside and delete the namespaces (their veth ends go
        with them). Safe to call again."""
        for ns in self.namespaces():
            ns.delete()
        self.grid, self.hosts = None, {}
        untrack_helper(self)

    def leftovers(self):
        listed = _ip("netns", "list").stdout
        return [line.split()[0] for line in listed.splitlines() if f"corral-{self.tag}-" in line]
