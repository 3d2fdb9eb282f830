"""Another host, for tests, on this machine: a network namespace joined to
the root namespace by a veth pair, each end with an address of a /30 that
nothing else here uses, from a pool (private 10.213.0.0/16 unless told). A client run inside it reaches corrald (or any
server) only at host_address, as a bot on another machine would, never on
the server's loopback.

    with OtherHost() as host:
        server listens on host.host_address
        host.run(["curl", f"http://{host.host_address}:{port}/"], timeout=10)

Needs root (ip netns, ip link). Everything it makes is removed on __exit__,
at interpreter exit, and on SIGTERM (meson's timeout), even after errors.
"""
import atexit
import ipaddress
import itertools
import os
import signal
import subprocess

from corral_harness.live_helpers import abandon_helpers, track_helper, untrack_helper

# 10.213.0.0/16 is 16384 /30s; each OtherHost of this process starts looking
# at one its pid picks, so concurrent test runs seldom even have to skip one.
POOL = ipaddress.ip_network("10.213.0.0/16")
_COUNTER = itertools.count()
_LIVE = []  # hosts made and not yet removed, for atexit


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=check)


def _networks_in_use():
    """Every IPv4 network on an address or route of the root namespace."""
    used = []
    for line in _ip("-4", "-o", "addr", "show").stdout.splitlines():
        used.append(ipaddress.ip_interface(line.split()[3]).network)
    for line in _ip("-4", "route", "show", "table", "all").stdout.splitlines():
        destination = line.split()[0]
        if destination[0].isdigit():
            used.append(ipaddress.ip_network(destination, strict=False))
    return used


def _free_subnet(pool, start):
    subnets = list(pool.subnets(new_prefix=30))
    used = _networks_in_use()
    for i in range(len(subnets)):
        candidate = subnets[(start + i) % len(subnets)]
        if not any(candidate.overlaps(network) for network in used):
            return candidate
    raise RuntimeError(f"no free /30 in {pool}")


class OtherHost:
    def __init__(self, pool=POOL):
        self.pool = pool
        n = next(_COUNTER)
        pid = os.getpid()
        self.name = f"corral-t{pid}-{n}"
        # Interface names have at most 15 characters: 2 + 7 (pid) + 1 + n + 1.
        self.host_link = f"cv{pid}-{n}h"
        self.client_link = f"cv{pid}-{n}c"
        self._start = (pid * 7 + n) % (pool.num_addresses // 4)
        self._processes = []
        self._made = False
        self.host_address = self.client_address = None

    def __repr__(self):
        return f"OtherHost({self.name}, {self.client_address} -> {self.host_address})"

    # --- setting up and tearing down ---------------------------------------
    def __enter__(self):
        track_helper(self)  # from here on, a SIGTERM or an exit removes it
        _LIVE.append(self)
        self._made = True
        try:
            self._create()
        except BaseException:
            self.abandon()
            raise
        return self

    def _create(self):
        subnet = _free_subnet(self.pool, self._start)
        host, client = list(subnet.hosts())
        self.host_address, self.client_address = str(host), str(client)
        _ip("netns", "add", self.name)
        _ip("link", "add", self.host_link, "type", "veth", "peer", "name", self.client_link)
        _ip("link", "set", self.client_link, "netns", self.name)
        _ip("addr", "add", f"{host}/30", "dev", self.host_link)
        _ip("link", "set", self.host_link, "up")
        # As a router's port to another network would be: the kernel way out
        # forwards a session's answers in by it (docs/network.md, "The kernel
        # way out"). Nothing here routes to or from the host beyond its /30.
        with open(f"/proc/sys/net/ipv4/conf/{self.host_link}/forwarding", "w") as f:
            f.write("1")
        for args in (["addr", "add", f"{client}/30", "dev", self.client_link],
                     ["link", "set", self.client_link, "up"],
                     ["link", "set", "lo", "up"]):
            _ip("-n", self.name, *args)

    def __exit__(self, *exc):
        self.abandon()
        return False

    def abandon(self):
        """Kill what runs inside, delete the veth pair and the namespace.
        Safe to call again, and on a half-made host."""
        if not self._made:
            return
        for process in self._processes:
            if process.poll() is None:
                process.kill()
            process.wait()
        self._processes.clear()
        # Anything else left in the namespace was started by this host's run().
        listed = _ip("netns", "pids", self.name, check=False).stdout.split()
        for pid in listed:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        _ip("link", "del", self.host_link, check=False)  # takes its peer along
        _ip("netns", "del", self.name, check=False)
        self._made = False
        untrack_helper(self)
        if self in _LIVE:
            _LIVE.remove(self)

    def leftovers(self):
        """What of this host still exists (empty after abandon)."""
        left = []
        if self.name in _ip("netns", "list").stdout.split():
            left.append(f"netns {self.name}")
        if _ip("link", "show", self.host_link, check=False).returncode == 0:
            left.append(f"link {self.host_link}")
        return left

    # --- running commands "on the other host" ------------------------------
    def command(self, argv):
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv, timeout, env=None, **kwargs):
        """Run argv inside the namespace to completion; output captured as text."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(self.command(argv), timeout=timeout, env=env, **kwargs)

    def popen(self, argv, env=None, **kwargs):
        """Start a long-running argv inside the namespace; killed on exit."""
        process = subprocess.Popen(self.command(argv), env=env, **kwargs)
        self._processes.append(process)
        return process


def _abandon_and_exit(signum, frame):
    abandon_helpers()
    os._exit(128 + signum)


# corral_harness installs its own SIGTERM handler, which calls
# abandon_helpers() too; a test that does not use it gets this one.
if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
    signal.signal(signal.SIGTERM, _abandon_and_exit)


@atexit.register
def _abandon_live_hosts():
    for host in list(_LIVE):
        host.abandon()
