"""The network bench's --with-veth side: the third way out issue 21 named,
"a veth pair per session routed through nftables": the kernel forwards,
no process sits in the middle. Not a corral session, and not built into
corrald: a measurement of whether such a way out can reach the issue's
1.1x on this machine before anyone builds it.

  - a namespace and a veth pair (tests/e2e/other_host.py's OtherHost: one
    end moved into the namespace, a /30 from 10.200.0.0/16 that no address
    or route here overlaps, `lo` up), and a default route in the namespace
    via the host's end;
  - IPv4 forwarding on two devices only, never globally: this veth's host
    end (the namespace's packets come in there) and the public test host's
    veth end (its answers come in there): the kernel decides by the
    ingress device's conf.<dev>.forwarding. Both restored on exit;
  - a table of the bench's own, `table inet corral_bench_veth`: a
    masquerade of the namespace's /30 out of the public host's veth (so
    the public namespace needs no route back, as the internet would not
    have one), and the policy a real design would need: the host itself
    (any local address) and the default policy's refused ranges rejected
    from the namespace; on this bench also anything but the public host;
  - a Chromium inside it (network_ns_chrome.py, as the pasta side's).
Measured: "namespace + veth ready" (from the start until a TCP connection
from inside to the public server is accepted), the holes (each True if
open), and, for all sides, the machine's CPU over the downloads (the
kernel's forwarding has no process to charge: network_measures.py)."""
import ipaddress
import os
import shutil
import socket
import subprocess
import tempfile
import time

from corral_harness import in_network_at
from network_ns_chrome import ClosedOnFailure, NamespaceChrome, connects, ms_until_reachable
from other_host import OtherHost

POOL = ipaddress.ip_network("10.200.0.0/16")
TABLE = "corral_bench_veth"
# The ranges corral's default egress policy refuses (docs/operators.md): a real design's set.
REFUSED = ("0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12, "
           "192.168.0.0/16, 224.0.0.0/3")


def ruleset(subnet, veth, public):
    """The bench's nftables table: veth is this side's host end, public the public host's veth end."""
    return f"""table inet {TABLE} {{
  chain input {{
    type filter hook input priority filter; policy accept;
    iifname "{veth}" reject comment "the host itself, at any of its addresses"
  }}
  chain forward {{
    type filter hook forward priority filter; policy accept;
    iifname "{veth}" ip daddr {{ {REFUSED} }} reject comment "the default policy's ranges"
    iifname "{veth}" oifname != "{public}" reject comment "the bench: nowhere but the public test host"
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr {subnet} oifname "{public}" masquerade
  }}
}}
"""


def _nft(*args, stdin=None, check=True):
    return subprocess.run(["nft", *args], input=stdin, capture_output=True, text=True, timeout=30, check=check)


def _forwarding_path(device):
    return f"/proc/sys/net/ipv4/conf/{device}/forwarding"


def _resolver():
    """The first IPv4 nameserver of the host (a private address beyond it, here), or None."""
    try:
        with open("/etc/resolv.conf") as f:
            for line in f:
                words = line.split()
                if len(words) > 1 and words[0] == "nameserver" and "." in words[1]:
                    return words[1]
    except OSError:
        pass
    return None


class VethSide(ClosedOnFailure):
    """A context manager, as network_pasta.PastaSide: the namespace, veth,
    forwarding, table and Chrome; then `cdp` with one connection, "veth"."""

    label = "veth"

    def __init__(self, pages):
        self.pages = pages
        self.host = OtherHost(pool=POOL)
        self.chrome = self.dir = None
        self.forwarding = {}  # device: its value before the bench set it, until restored
        self.forwarded = []  # every device it was set on, for the record
        self.table_made = False
        self.timing, self.holes = {}, {}

    @property
    def path(self):
        return f"/run/netns/{self.host.name}"

    @property
    def cdp(self):
        return self.chrome.cdp if self.chrome else None

    def _start(self):
        self.dir = tempfile.mkdtemp(prefix="corral-veth-bench-")
        started = time.perf_counter()
        self.host.__enter__()
        subprocess.run(["ip", "-n", self.host.name, "route", "add", "default", "via", self.host.host_address],
                       check=True, capture_output=True, timeout=30)
        self.timing["namespace_veth_route_ms"] = round((time.perf_counter() - started) * 1000, 2)
        for device in (self.host.host_link, self.pages.host.host_link):
            self._forward(device)
        subnet = ipaddress.ip_interface(f"{self.host.host_address}/30").network
        self.table_made = True  # from here on, close() deletes it, even if adding it failed half-way
        _nft("-f", "-", stdin=ruleset(subnet, self.host.host_link, self.pages.host.host_link))
        self.timing["veth_ready_ms"] = round(self._until_public_reachable(started), 2)
        self.holes = self._holes()
        self.chrome = NamespaceChrome(self.label, self.host.name, self.pages, self.dir)
        self.chrome.start()

    def _forward(self, device):
        """IPv4 forwarding on for packets that come in on `device`, its old value kept for close()."""
        with open(_forwarding_path(device)) as f:
            self.forwarding[device] = f.read().strip()
        self.forwarded.append(device)
        with open(_forwarding_path(device), "w") as f:
            f.write("1")

    def _until_public_reachable(self, started):
        """ms from `started` until a connection from inside the namespace to the public server is accepted."""
        def failure(timed_out):
            return "veth: " + _nft("list", "table", "inet", TABLE, check=False).stdout if timed_out else None
        return ms_until_reachable(self.path, (self.pages.host.client_address, self.pages.server.server_port),
                                  started, failure)

    def _holes(self):
        """Each hole the issue names (and two beyond the host): True if it is open."""
        outside = socket.create_server(("0.0.0.0", 0))  # on every host address, loopback too
        port = outside.getsockname()[1]
        targets = {"host_loopback": ("127.0.0.1", port),
                   f"host_own_address_{self.pages.host.host_address}": (self.pages.host.host_address, port),
                   f"host_end_of_this_veth_{self.host.host_address}": (self.host.host_address, port),
                   "metadata_169.254.169.254:80": ("169.254.169.254", 80)}
        if _resolver():
            targets[f"host_resolver_{_resolver()}:53"] = (_resolver(), 53)
        try:
            with in_network_at(self.path):
                return {f"{name}_reached_from_inside": connects(*target) for name, target in targets.items()}
        finally:
            outside.close()

    def wait_loaded(self):
        self.chrome.wait_loaded()

    def cpu_ns(self):
        """No process of its own: the kernel's forwarding is counted in the machine's CPU alone."""
        return None

    def figures(self):
        return {"ready": self.timing, "holes_open": self.holes, "masquerade": True,
                "forwarding_on": self.forwarded, "global_ip_forward": _read("/proc/sys/net/ipv4/ip_forward"),
                "addresses": f"{self.host.client_address} -> {self.host.host_address}",
                "chrome": "started directly (not through corral), as root, --no-sandbox"}

    def close(self):
        if self.chrome:
            self.chrome.stop()
        if self.table_made:
            _nft("delete", "table", "inet", TABLE, check=False)
            self.table_made = False
        for device, value in list(self.forwarding.items()):
            if os.path.exists(_forwarding_path(device)):
                with open(_forwarding_path(device), "w") as f:
                    f.write(value)
            del self.forwarding[device]
        self.host.abandon()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def leftovers(self):
        left = list(self.host.leftovers())
        if self.chrome and self.chrome.running():
            left.append(f"chrome {self.chrome.process.pid}")
        if _nft("list", "table", "inet", TABLE, check=False).returncode == 0:
            left.append(f"nft table inet {TABLE}")
        left += [f"forwarding on {device}" for device in self.forwarding]
        if self.dir and os.path.exists(self.dir):
            left.append(self.dir)
        return left


def _read(path):
    with open(path) as f:
        return f.read().strip()
