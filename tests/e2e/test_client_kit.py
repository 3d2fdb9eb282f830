"""The client kit itself, with no corrald: the real Puppeteer and Playwright
clients (tests/clients) against a bare Debian Chromium, on loopback and from
an OtherHost through a small TCP relay; a killed browser noticed by a
connected client; a refused connect reported. Proves the kit and the
netns plumbing work before any corral test relies on them."""
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from client_kit import held_devtools_client, run_devtools_client
from corral_harness.live_helpers import track_helper, untrack_helper
from other_host import OtherHost

SIXTEEN_MIB = 16 * 1024 * 1024
TEMP_PREFIX = f"corral-clientkit-{os.getpid()}."
CHROME_FLAGS = ["--headless", "--disable-gpu", "--remote-debugging-port=0", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "about:blank"]


def session_user():
    """Chrome's sandbox works for a non-root user; root needs --no-sandbox."""
    try:
        return pwd.getpwnam("corral-session")
    except KeyError:
        return None


def processes_mentioning(text):
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(int(entry))
        except OSError:
            pass
    return found


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class BareChromium:
    """Debian's chromium with a DevTools port, in its own temp profile and
    process group, as corral-session (sandboxed) when that user exists."""

    def __init__(self):
        self.user = session_user()
        self.dir = tempfile.mkdtemp(prefix=TEMP_PREFIX + "chrome.")
        track_helper(self)
        flags = list(CHROME_FLAGS)
        user_args = {}
        if self.user:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
            user_args = dict(user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[])
        else:
            flags.append("--no-sandbox")
        # TMPDIR too: Chrome puts its SingletonSocket in a directory of its
        # own under it, which a killed browser leaves behind.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.dir, "TMPDIR": self.dir,
               "XDG_CONFIG_HOME": self.dir, "XDG_CACHE_HOME": self.dir}
        self.process = subprocess.Popen(["/usr/bin/chromium", f"--user-data-dir={self.dir}", *flags],
                                        env=env, cwd=self.dir, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True, **user_args)
        try:
            wait_until(lambda: len(self._active_port()) == 2, 30, "DevToolsActivePort")
        except AssertionError:
            self.abandon()
            raise
        port, self.ws_path = self._active_port()
        self.port = int(port)

    def _active_port(self):
        """Chrome writes its port, then the browser's ws path, to this file."""
        try:
            with open(os.path.join(self.dir, "DevToolsActivePort")) as f:
                return f.read().split()
        except FileNotFoundError:
            return []

    @property
    def how(self):
        return "as corral-session, Chrome's sandbox on" if self.user else "as root with --no-sandbox"

    def http_url(self, host="127.0.0.1", port=None):
        return f"http://{host}:{port or self.port}"

    def ws_url(self, host="127.0.0.1", port=None):
        return f"ws://{host}:{port or self.port}{self.ws_path}"

    def kill(self):
        """SIGKILL the whole browser (its process group); returns the epoch ms of the kill."""
        killed_at = time.time() * 1000
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return killed_at

    def abandon(self):
        self.kill()
        self.process.wait()
        # Anything of this browser that left the process group still names its profile.
        for pid in processes_mentioning(self.dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_until(lambda: not processes_mentioning(self.dir), 10, f"the processes of {self.dir} to end")
        shutil.rmtree(self.dir, ignore_errors=True)
        untrack_helper(self)


class Relay:
    """A plain TCP relay on (address, 0) to 127.0.0.1:target: what another
    host sees is the relay's address, and the bytes are passed unchanged.
    Keeps each connection's first bytes (the request head) for header checks.
    When either side closes, both are closed, so a dead browser is seen at once."""

    def __init__(self, address, target):
        self.target = target
        self.listener = socket.create_server((address, 0))
        self.address, self.port = self.listener.getsockname()[:2]
        self.heads = []
        self.sockets = []
        self.lock = threading.Lock()
        track_helper(self)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()  # the browser is gone: so is this connection
                continue
            with self.lock:
                self.sockets += [client, upstream]
            first = [True]
            threading.Thread(target=self._pump, args=(client, upstream, first), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, None), daemon=True).start()

    def _pump(self, source, sink, first):
        try:
            while data := source.recv(1 << 16):
                if first and first[0]:
                    first[0] = False
                    with self.lock:
                        self.heads.append(data.split(b"\r\n\r\n")[0].decode("latin1"))
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def abandon(self):
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                sock.close()
            self.sockets.clear()
        untrack_helper(self)


def closed_port():
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def report(text):
    print(f"client-kit: {text}", flush=True)


class ClientKitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.browser = BareChromium()
        report(f"Chromium {cls.browser.how}, DevTools on 127.0.0.1:{cls.browser.port}")

    @classmethod
    def tearDownClass(cls):
        cls.browser.abandon()

    def assert_worked(self, result, what):
        self.assertTrue(result["ok"], f"{what}: {json.dumps(result)}")
        self.assertEqual(result["exit_code"], 0, what)
        self.assertEqual(result["evaluate"], 2, what)
        self.assertGreater(result["screenshot_bytes"], SIXTEEN_MIB, what)
        report(f"{what}: {result['client']} on {result['version']}: screenshot {result['screenshot_size']}, "
               f"{result['screenshot_bytes']} bytes, sha256 {result['screenshot_sha256'][:16]}…, "
               f"rounds {result['round_ms']} ms")

    def test_1_every_mode_on_loopback(self):
        browser = self.browser
        runs = [("puppeteer-ws", browser.ws_url(), ()),
                ("puppeteer-browser-url", browser.http_url(), ()),
                ("playwright-cdp", browser.http_url(), ("--rounds", "2")),
                ("playwright-cdp", browser.ws_url(), ())]
        digests = set()
        for mode, url, flags in runs:
            with self.subTest(mode=mode, url=url):
                result = run_devtools_client(mode, url, *flags)
                self.assert_worked(result, f"{mode} {url}")
                digests.add(result["screenshot_sha256"])
        # Seeded noise, same encoder: every client gets the very same PNG.
        self.assertEqual(len(digests), 1, digests)

    def test_2_from_another_host_through_a_relay(self):
        browser = self.browser
        with OtherHost() as host:
            relay = Relay(host.host_address, browser.port)
            try:
                self.from_other_host(host, relay)
            finally:
                relay.abandon()
        self.assertEqual(host.leftovers(), [])

    def from_other_host(self, host, relay):
        browser = self.browser
        report(f"other host {host.name}: client {host.client_address}, relay on {relay.address}:{relay.port}")
        # The other host cannot reach the browser's own loopback port.
        unreachable = run_devtools_client("puppeteer-browser-url", browser.http_url(), "--expect-error",
                                          host=host, timeout=20)
        self.assertTrue(unreachable["ok"], unreachable)

        # What Chrome answers a Host that is the relay's IP literal.
        version = json.loads(host.run([sys.executable, "-c", "import sys, urllib.request; "
                                       "print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())",
                                       f"http://{relay.address}:{relay.port}/json/version"], timeout=20,
                                      check=True).stdout)
        report(f"/json/version through the relay: webSocketDebuggerUrl {version['webSocketDebuggerUrl']}")
        # Chrome accepts a Host that is an IP literal and builds the ws URL
        # from it, so browserURL works through a relay that rewrites nothing.
        self.assertTrue(version["webSocketDebuggerUrl"].startswith(f"ws://{relay.address}:{relay.port}/"), version)

        header = "X-Corral-Client-Kit: other-host"
        runs = [("puppeteer-ws", browser.ws_url(relay.address, relay.port), [header]),
                ("puppeteer-browser-url", browser.http_url(relay.address, relay.port), []),
                ("playwright-cdp", browser.http_url(relay.address, relay.port), [header])]
        for mode, url, headers in runs:
            with self.subTest(mode=mode):
                before = len(relay.heads)
                result = run_devtools_client(mode, url, host=host, headers=headers)
                self.assert_worked(result, f"{mode} from {host.client_address} via {url}")
                heads = relay.heads[before:]
                if headers:
                    # Every request the client made (Playwright: /json/version/ then the upgrade) carried it.
                    self.assertTrue(heads and all(header.lower() in head.lower() for head in heads), heads)
                report(f"{mode}: requests through the relay: "
                       + "; ".join(head.splitlines()[0] for head in heads))

    def test_3_killed_browser_is_noticed(self):
        for mode, url_of in [("puppeteer-ws", BareChromium.ws_url), ("puppeteer-browser-url", BareChromium.http_url),
                             ("playwright-cdp", BareChromium.http_url)]:
            with self.subTest(mode=mode):
                victim = BareChromium()
                try:
                    self.kill_under_client(victim, mode, url_of(victim), "loopback")
                finally:
                    victim.abandon()
        # And from another host, through a relay that closes its client side as soon as Chrome's is gone.
        with OtherHost() as host:
            victim = BareChromium()
            relay = Relay(host.host_address, victim.port)
            try:
                self.kill_under_client(victim, "playwright-cdp", victim.ws_url(relay.address, relay.port),
                                       "other host via relay", host=host)
            finally:
                relay.abandon()
                victim.abandon()

    def kill_under_client(self, victim, mode, url, where, host=None):
        with held_devtools_client(mode, url, hold_seconds=30, host=host) as held:
            time.sleep(0.5)  # let the connection settle
            killed_at = victim.kill()
            result = held.result()
        self.assertTrue(result["ok"], result)
        latency = result["disconnected_at_ms"] - killed_at
        report(f"{mode} ({where}): disconnect noticed {latency:.0f} ms after SIGKILL of the browser")
        self.assertLess(latency, 5000)

    def test_4_refused_connect_is_reported(self):
        port = closed_port()
        for mode, url in [("puppeteer-ws", f"ws://127.0.0.1:{port}/devtools/browser/none"),
                          ("puppeteer-browser-url", f"http://127.0.0.1:{port}"),
                          ("playwright-cdp", f"http://127.0.0.1:{port}")]:
            with self.subTest(mode=mode):
                result = run_devtools_client(mode, url, "--expect-error", timeout=30)
                self.assertTrue(result["ok"], result)
                self.assertEqual(result["exit_code"], 0)
                self.assertIn("ECONNREFUSED" if mode != "puppeteer-browser-url" else "Failed to fetch",
                              result["error"]["message"])
                report(f"{mode} to a closed port: {result['error']['name']}: "
                       f"{result['error']['message'].splitlines()[0]}")
        # And the other way round: a live browser with --expect-error exits 3.
        result = run_devtools_client("puppeteer-ws", self.browser.ws_url(), "--expect-error")
        self.assertEqual((result["ok"], result["exit_code"]), (False, 3), result)

    def test_5_nothing_left(self):
        """Only this run's own things: other test runs may share the machine."""
        pid = os.getpid()
        netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        self.assertNotIn(f"corral-t{pid}-", netns)
        self.assertNotIn(f"cv{pid}-", links)
        dirs = [d for d in glob.glob(os.path.join(tempfile.gettempdir(), TEMP_PREFIX + "*"))
                if d != self.browser.dir]
        self.assertEqual(dirs, [])


def check_after_all():
    """After the class's own browser is gone too: no process, no dir."""
    left = glob.glob(os.path.join(tempfile.gettempdir(), TEMP_PREFIX + "*"))
    chrome = processes_mentioning(TEMP_PREFIX)
    assert not left and not chrome, f"left behind: dirs {left}, chromium pids {chrome}"
    print("client-kit: nothing left (no netns, veth, chromium or temp dir of this run)", flush=True)


if __name__ == "__main__":
    outcome = unittest.main(exit=False, verbosity=2).result
    check_after_all()
    sys.exit(0 if outcome.wasSuccessful() else 1)
