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
import subprocess
import time

from network_clients import CdpWorker
from network_pages import LOADED_SCRIPT

CHROME_FLAGS = ["--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", "--headless=new",
                "--no-first-run", "--no-default-browser-check", "--disable-background-timer-throttling",
                "--disable-backgrounding-occluded-windows", "--disable-renderer-backgrounding",
                "--disable-features=TranslateUI", "--disable-component-update", "--disable-background-networking",
                "--disable-sync", "--disable-default-apps", "--disable-domain-reliability",
                "--disable-client-side-phishing-detection", "--metrics-recording-only", "--disable-gpu",
                "--no-sandbox"]


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
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()

    def running(self):
        return bool(self.process and self.process.poll() is None)
