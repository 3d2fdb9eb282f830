"""The network bench's third side (--with-pasta): pasta (Debian `passt`), the
way out issue 21 asked to compare with corral's relay. Not a corral session:
a network namespace this bench makes (`ip netns add`, `lo` up), pasta
attached to it by path with the flags that close the holes its defaults
open, and a Chromium started directly inside it with corral's own chrome
flags (chrome_driven_flags in src/launch/browser_command.cpp). It runs as
root, so with --no-sandbox, as corral's chrome does with --session-user root.

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
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

from corral_harness import in_network_at
from network_clients import CdpWorker
from network_pages import LOADED_SCRIPT
from network_sides import cpu_ns

PASTA_FLAGS = ["-f", "-q", "--runas", "0:0", "-t", "none", "-u", "none", "-T", "none", "-U", "none",
               "--no-map-gw", "--config-net"]
CHROME_FLAGS = ["--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", "--headless=new",
                "--no-first-run", "--no-default-browser-check", "--disable-background-timer-throttling",
                "--disable-backgrounding-occluded-windows", "--disable-renderer-backgrounding",
                "--disable-features=TranslateUI", "--disable-component-update", "--disable-background-networking",
                "--disable-sync", "--disable-default-apps", "--disable-domain-reliability",
                "--disable-client-side-phishing-detection", "--metrics-recording-only", "--disable-gpu",
                "--no-sandbox"]


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


def _connects(address, port, timeout=0.5):
    """True if a TCP connection to address:port is accepted (from this thread's namespace)."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


class PastaSide:
    """A context manager: the namespace, pasta and Chrome, then `cdp` (a
    CdpWorker run inside the namespace with one connection, "pasta", to
    the Chrome's tab on the public server's page)."""

    def __init__(self, pages):
        self.pages = pages
        self.name = f"corral-pasta{os.getpid()}"
        self.path = f"/run/netns/{self.name}"
        self.pasta = self.chrome = self.cdp = self.dir = None
        self.timing, self.holes = {}, {}

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

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
        self._start_chrome()

    def _until_public_reachable(self, started, timeout=10):
        """ms from `started` until a connection from inside the namespace to the public server is accepted."""
        host, port = self.pages.host.client_address, self.pages.server.server_port
        deadline = time.monotonic() + timeout
        while True:
            with in_network_at(self.path):
                if _connects(host, port, timeout=0.2):
                    return (time.perf_counter() - started) * 1000
            if self.pasta.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pasta: the namespace did not reach {host}:{port} ({self.pasta.poll()}): "
                                   + self.log("pasta.log"))
            time.sleep(0.0005)

    def _holes(self):
        """Each hole the issue names: True if it is open."""
        outside = socket.create_server(("0.0.0.0", 0))  # on every host address, loopback too
        port = outside.getsockname()[1]
        try:
            with in_network_at(self.path):
                loopback = _connects("127.0.0.1", port)
                own_address = _connects(self.pages.host.host_address, port)
                inside = socket.create_server(("127.0.0.1", 0))
            with inside:
                time.sleep(1.5)  # pasta's -t auto would scan the namespace's ports about once a second
                forwarded = _connects("127.0.0.1", inside.getsockname()[1])
        finally:
            outside.close()
        return {"host_loopback_reached_from_inside": loopback,
                f"host_own_address_{self.pages.host.host_address}_reached_from_inside": own_address,
                "namespace_loopback_port_on_host": forwarded}

    def _start_chrome(self, timeout=30):
        profile = os.path.join(self.dir, "profile")
        chromium = shutil.which("chromium") or "/usr/bin/chromium"
        self.chrome = subprocess.Popen(
            ["ip", "netns", "exec", self.name, chromium, f"--user-data-dir={profile}", *CHROME_FLAGS,
             self.pages.page_url()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "chrome.log"), "w"), start_new_session=True,
            # Its temp dirs (org.chromium.Chromium.*) go with this side's dir, not the run's TMPDIR.
            env={**os.environ, "TMPDIR": self.dir, "HOME": self.dir})
        active = os.path.join(profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while not os.path.exists(active) or not open(active).read().strip():
            if self.chrome.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("pasta side: chrome gave no DevTools port: " + self.log("chrome.log")[-2000:])
            time.sleep(0.05)
        port = int(open(active).read().split()[0])
        self.cdp = CdpWorker({"pasta": self._page_target(port)}, prefix=["ip", "netns", "exec", self.name])

    def _page_target(self, port, timeout=30):
        """The WebSocket URL of Chrome's tab on the public server's page (its /json/list, read from inside by curl)."""
        deadline = time.monotonic() + timeout
        while True:
            listed = subprocess.run(["ip", "netns", "exec", self.name, "curl", "-sf", "-m", "5",
                                     f"http://127.0.0.1:{port}/json/list"], capture_output=True, text=True)
            targets = json.loads(listed.stdout) if listed.returncode == 0 else []
            for target in targets:
                if target.get("type") == "page" and target.get("url", "").startswith(self.pages.origin):
                    return target["webSocketDebuggerUrl"]
            if time.monotonic() > deadline:
                raise RuntimeError(f"pasta side: no tab on {self.pages.origin}: {targets}")
            time.sleep(0.05)

    def wait_loaded(self, timeout=30):
        deadline = time.monotonic() + timeout
        while (state := self.cdp.evaluate("pasta", LOADED_SCRIPT)) != f"{self.pages.origin} complete":
            if time.monotonic() > deadline:
                raise RuntimeError(f"pasta side: the page did not load: {state}")
            time.sleep(0.05)

    def cpu_ns(self):
        return cpu_ns(self.pasta.pid)

    def log(self, name):
        try:
            with open(os.path.join(self.dir, name)) as f:
                return "".join(line for line in f if "syslog" not in line)
        except (OSError, TypeError):
            return ""

    def close(self):
        if self.cdp:
            self.cdp.stop()
        if self.chrome and self.chrome.poll() is None:
            os.killpg(self.chrome.pid, 15)
            try:
                self.chrome.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.chrome.pid, 9)
                self.chrome.wait()
        _stop(self.pasta)
        if os.path.exists(self.path):
            _ip("netns", "del", self.name, check=False)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def leftovers(self):
        left = []
        for what, process in (("pasta", self.pasta), ("chrome", self.chrome)):
            if process and process.poll() is None:
                left.append(f"{what} {process.pid}")
        if os.path.exists(self.path):
            left.append(self.path)
        if self.dir and os.path.exists(self.dir):
            left.append(self.dir)
        return left
