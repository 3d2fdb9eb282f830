"""What the proxy bench runs beside corral: tinyproxy (Debian's) on the
public test host, and a Chromium started by the bench on the host that uses
one of them directly (`--proxy-server`). Both removed on close, and both say
what of them is left (leftovers())."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

from network_ns_chrome import CHROME_FLAGS, stop_group
from network_sides import cpu_ns


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


class Tinyproxy:
    """A tinyproxy in the public host's namespace on its address, `port`;
    with `credential` ((user, password)) it asks for it (BasicAuth). Its
    process is tinyproxy itself (`ip netns exec` execs it; -d keeps it in
    the foreground), one thread a connection, so its CPU clock holds every
    connection's work, ended threads' too."""

    def __init__(self, host, port, credential=None):
        self.host, self.port, self.credential = host, port, credential
        self.address = host.client_address
        self.dir = tempfile.mkdtemp(prefix="corral-proxy-bench-tinyproxy.")
        os.chmod(self.dir, 0o777)  # tinyproxy writes its log as nobody
        self.log_path = os.path.join(self.dir, "tinyproxy.log")
        conf = os.path.join(self.dir, "tinyproxy.conf")
        auth = f"BasicAuth {credential[0]} {credential[1]}\n" if credential else ""
        with open(conf, "w") as f:
            f.write(f"User nobody\nGroup nogroup\nPort {port}\nListen {self.address}\nTimeout 60\n"
                    f"MaxClients 64\nLogLevel Info\nLogFile \"{self.log_path}\"\nDisableViaHeader Yes\n{auth}")
        self.process = host.popen(["tinyproxy", "-d", "-c", conf], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while "listening" not in _read(self.log_path).lower():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"tinyproxy on {port} did not start: {_read(self.log_path)[-2000:]}")
            time.sleep(0.05)

    def url(self):
        user = f"{self.credential[0]}:{self.credential[1]}@" if self.credential else ""
        return f"http://{user}{self.address}:{self.port}"

    def requests(self):
        """How many requests (CONNECT or GET) it has logged."""
        return _read(self.log_path).count("Request (file descriptor")

    def cpu_ns(self):
        return cpu_ns(self.process.pid)

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def leftovers(self):
        left = [f"tinyproxy {self.process.pid}"] if self.process.poll() is None else []
        return left + ([self.dir] if os.path.exists(self.dir) else [])


class DirectChrome:
    """A Chromium on the host (the machine's namespace, which reaches the
    public host over its veth) with corral's chrome flags and
    `--proxy-server=proxy`, its one tab on `page_url`; root, so
    --no-sandbox, as corral's chrome runs with --session-user root."""

    def __init__(self, proxy, page_url, extra_args=(), timeout=30):
        self.dir = tempfile.mkdtemp(prefix="corral-proxy-bench-chrome.")
        self.page_url = page_url
        profile = os.path.join(self.dir, "profile")
        chromium = shutil.which("chromium") or "/usr/bin/chromium"
        self.process = subprocess.Popen(
            [chromium, f"--user-data-dir={profile}", *CHROME_FLAGS, *extra_args, f"--proxy-server={proxy}", page_url],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "chrome.log"), "w"), start_new_session=True,
            env={**os.environ, "TMPDIR": self.dir, "HOME": self.dir})
        active = os.path.join(profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while not _read(active).strip():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("direct chrome gave no DevTools port: " + _read(os.path.join(self.dir, "chrome.log")))
            time.sleep(0.05)
        self.port = int(_read(active).split()[0])

    def page_target(self, timeout=30):
        """The WebSocket URL of its tab on page_url."""
        deadline = time.monotonic() + timeout
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=5) as answer:
                targets = json.load(answer)
            for target in targets:
                if target.get("type") == "page" and target.get("url", "").startswith(self.page_url):
                    return target["webSocketDebuggerUrl"]
            if time.monotonic() > deadline:
                raise RuntimeError(f"direct chrome: no tab on {self.page_url}: {targets}")
            time.sleep(0.05)

    def close(self):
        stop_group(self.process)
        shutil.rmtree(self.dir, ignore_errors=True)

    def leftovers(self):
        left = [f"chrome {self.process.pid}"] if self.process.poll() is None else []
        return left + ([self.dir] if os.path.exists(self.dir) else [])
