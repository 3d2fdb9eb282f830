"""The network bench's third side (--with-pasta): pasta (Debian `passt`), the
way out issue 21 asked to compare with corral's relay. Not a corral session:
a network namespace this bench makes (`ip netns add`, `lo` up), pasta
attached to it by path with the flags that close the holes its defaults
open, and a Chromium started directly inside it with corral's own chrome
flags (network_ns_chrome.py).

  pasta -f -q --runas 0:0 -t none -u none -T none -U none --no-map-gw
        --config-net --netns /run/netns/NAME

(--config-net: without it this pasta (2023-03-09) leaves the namespace's
interface down and without an address; it copies the host's eth0 address
and default route.) Its page fetches the same 5 MB from the same public
server as the corral sides. Also measured: how long until the namespace
can reach the public server ("namespace + pasta ready"), pasta's CPU over
its downloads, and whether the holes are closed: from inside, the host's
127.0.0.1 and the host's own address on the public server's veth; from the
host, a port bound on the namespace's loopback. All removed on exit."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

from corral_harness import in_network_at
from network_ns_chrome import ClosedOnFailure, NamespaceChrome, connects, ms_until_reachable
from network_sides import cpu_ns

PASTA_FLAGS = ["-f", "-q", "--runas", "0:0", "-t", "none", "-u", "none", "-T", "none", "-U", "none",
               "--no-map-gw", "--config-net"]


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=check)


def _stop(process, timeout=10):
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class PastaSide(ClosedOnFailure):
    """A context manager: the namespace, pasta and Chrome, then `cdp` (a
    CdpWorker run inside the namespace with one connection, "pasta", to
    the Chrome's tab on the public server's page)."""

    label = "pasta"

    def __init__(self, pages):
        self.pages = pages
        self.name = f"corral-pasta{os.getpid()}"
        self.path = f"/run/netns/{self.name}"
        self.pasta = self.chrome = self.dir = None
        self.timing, self.holes = {}, {}

    def _start(self):
        self.dir = tempfile.mkdtemp(prefix="corral-pasta-bench-")
        started = time.perf_counter()
        _ip("netns", "add", self.name)
        _ip("-n", self.name, "link", "set", "lo", "up")
        self.timing["namespace_lo_ms"] = round((time.perf_counter() - started) * 1000, 2)
        self.pasta = subprocess.Popen(["pasta", *PASTA_FLAGS, "--netns", self.path], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "pasta.log"), "w"))
        self.timing["pasta_ready_ms"] = round(self._until_public_reachable(started), 2)
        self.holes = self._holes()
        self.chrome = NamespaceChrome("pasta", self.name, self.pages, self.dir)
        self.chrome.start()

    def _until_public_reachable(self, started):
        """ms from `started` until a connection from inside the namespace to the public server is accepted."""
        def failure(timed_out):
            if self.pasta.poll() is not None or timed_out:
                return f"pasta ({self.pasta.poll()}): " + self.log("pasta.log")
            return None
        return ms_until_reachable(self.path, (self.pages.host.client_address, self.pages.server.server_port),
                                  started, failure)

    def _holes(self):
        """Each hole the issue names: True if it is open."""
        outside = socket.create_server(("0.0.0.0", 0))  # on every host address, loopback too
        port = outside.getsockname()[1]
        try:
            with in_network_at(self.path):
                loopback = connects("127.0.0.1", port)
                own_address = connects(self.pages.host.host_address, port)
                inside = socket.create_server(("127.0.0.1", 0))
            with inside:
                time.sleep(1.5)  # pasta's -t auto would scan the namespace's ports about once a second
                forwarded = connects("127.0.0.1", inside.getsockname()[1])
        finally:
            outside.close()
        return {"host_loopback_reached_from_inside": loopback,
                f"host_own_address_{self.pages.host.host_address}_reached_from_inside": own_address,
                "namespace_loopback_port_on_host": forwarded}

    @property
    def cdp(self):
        return self.chrome.cdp if self.chrome else None

    def wait_loaded(self):
        self.chrome.wait_loaded()

    def cpu_ns(self):
        return cpu_ns(self.pasta.pid)

    def figures(self):
        return {"ready": self.timing, "holes_open": self.holes, "flags": " ".join(PASTA_FLAGS),
                "chrome": "started directly (not through corral), as root, --no-sandbox"}

    def log(self, name):
        try:
            with open(os.path.join(self.dir, name)) as f:
                return "".join(line for line in f if "syslog" not in line)
        except (OSError, TypeError):
            return ""

    def close(self):
        if self.chrome:
            self.chrome.stop()
        _stop(self.pasta)
        if os.path.exists(self.path):
            _ip("netns", "del", self.name, check=False)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def leftovers(self):
        left = []
        if self.pasta and self.pasta.poll() is None:
            left.append(f"pasta {self.pasta.pid}")
        if self.chrome and self.chrome.running():
            left.append(f"chrome {self.chrome.process.pid}")
        if os.path.exists(self.path):
            left.append(self.path)
        if self.dir and os.path.exists(self.dir):
            left.append(self.dir)
        return left
