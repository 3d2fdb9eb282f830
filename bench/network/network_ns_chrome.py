"""A Chromium of the network bench's own, started directly (not through
corral) inside a network namespace the bench made, for the sides that
compare other ways out with corral's (--with-pasta, --with-veth). It gets
corral's own chrome flags (chrome_driven_flags in
src/launch/browser_command.cpp), headless; the bench runs as root, so with
--no-sandbox, as corral's chrome does with --session-user root. Its tab
opens the public server's page; `cdp` is a CdpWorker run inside the
namespace too, with one connection named after the side."""
import json
import os
import shutil
import socket
import subprocess
import time

from corral_harness import in_network_at
from network_clients import CdpWorker
from network_pages import LOADED_SCRIPT

CHROME_FLAGS = ["--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", "--headless=new",
                "--no-first-run", "--no-default-browser-check", "--disable-background-timer-throttling",
                "--disable-backgrounding-occluded-windows", "--disable-renderer-backgrounding",
                "--disable-features=TranslateUI", "--disable-component-update", "--disable-background-networking",
                "--disable-sync", "--disable-default-apps", "--disable-domain-reliability",
                "--disable-client-side-phishing-detection", "--metrics-recording-only", "--disable-gpu",
                "--no-sandbox"]


def connects(address, port, timeout=0.5):
    """True if a TCP connection to address:port is accepted (from this thread's namespace)."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def ms_until_reachable(path, address, started, failure, timeout=10):
    """ms from `started` (perf_counter) until a TCP connection from the
    namespace at `path` to `address` (host, port) is accepted. failure():
    why to stop waiting (its way out died), or None; raised as an error with
    that reason. failure(True) at the timeout must give one."""
    deadline = time.monotonic() + timeout
    while True:
        with in_network_at(path):
            if connects(*address, timeout=0.2):
                return (time.perf_counter() - started) * 1000
        why = failure(time.monotonic() > deadline)
        if why:
            raise RuntimeError(f"the namespace did not reach {address[0]}:{address[1]}: {why}")
        time.sleep(0.0005)


def stop_group(process, timeout=10):
    """End a process started with start_new_session and its whole group:
    SIGTERM, then SIGKILL after `timeout` s."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, 15)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()


class ClosedOnFailure:
    """A side as a context manager: _start() on entry, undone by close() if
    it fails part-way; close() on exit."""

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


class NamespaceChrome:
    """label: the side's name (its CDP connection's too); namespace: the
    name under /run/netns; directory: the side's temp dir (profile, log)."""

    def __init__(self, label, namespace, pages, directory):
        self.label, self.namespace, self.pages, self.dir = label, namespace, pages, directory
        self.process = self.cdp = None

    def start(self, timeout=30):
        profile = os.path.join(self.dir, "profile")
        chromium = shutil.which("chromium") or "/usr/bin/chromium"
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", self.namespace, chromium, f"--user-data-dir={profile}", *CHROME_FLAGS,
             self.pages.page_url()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "chrome.log"), "w"), start_new_session=True,
            # Its temp dirs (org.chromium.Chromium.*) go with this side's dir, not the run's TMPDIR.
            env={**os.environ, "TMPDIR": self.dir, "HOME": self.dir})
        active = os.path.join(profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while not os.path.exists(active) or not open(active).read().strip():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.label} side: chrome gave no DevTools port: " + self.log()[-2000:])
            time.sleep(0.05)
        port = int(open(active).read().split()[0])
        self.cdp = CdpWorker({self.label: self._page_target(port)}, prefix=["ip", "netns", "exec", self.namespace])

    def _page_target(self, port, timeout=30):
        """The WebSocket URL of Chrome's tab on the public server's page (its /json/list, read from inside by curl)."""
        deadline = time.monotonic() + timeout
        while True:
            listed = subprocess.run(["ip", "netns", "exec", self.namespace, "curl", "-sf", "-m", "5",
                                     f"http://127.0.0.1:{port}/json/list"], capture_output=True, text=True)
            targets = json.loads(listed.stdout) if listed.returncode == 0 else []
            for target in targets:
                if target.get("type") == "page" and target.get("url", "").startswith(self.pages.origin):
                    return target["webSocketDebuggerUrl"]
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.label} side: no tab on {self.pages.origin}: {targets}")
            time.sleep(0.05)

    def wait_loaded(self, timeout=30):
        deadline = time.monotonic() + timeout
        while (state := self.cdp.evaluate(self.label, LOADED_SCRIPT)) != f"{self.pages.origin} complete":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.label} side: the page did not load: {state}")
            time.sleep(0.05)

    def log(self):
        try:
            with open(os.path.join(self.dir, "chrome.log")) as f:
                return "".join(line for line in f if "syslog" not in line)
        except (OSError, TypeError):
            return ""

    def stop(self):
        if self.cdp:
            self.cdp.stop()
        if self.process:
            stop_group(self.process)

    def running(self):
        return bool(self.process and self.process.poll() is None)
