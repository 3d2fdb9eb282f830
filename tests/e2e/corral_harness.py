"""Test support: run a real corrald, talk to it over HTTP, and prove that
nothing of a session is left on the host afterwards.

Environment (set by tests/meson.build):
  CORRALD            path of the corrald binary under test
  CORRAL_STUB        path of the stub browser
  CORRAL_TEST_BACKEND  cgroupfs (default) or systemd-user
  XDG_RUNTIME_DIR    for systemd-user: the private manager's runtime dir
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

CGROUP2 = "/sys/fs/cgroup/unified" if os.path.exists("/sys/fs/cgroup/unified/cgroup.procs") else "/sys/fs/cgroup"
BACKEND = os.environ.get("CORRAL_TEST_BACKEND", "cgroupfs")


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_until(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def systemctl_user(*args):
    return subprocess.run(["systemctl", "--user", *args], capture_output=True, text=True, timeout=30)


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix socket (corrald --listen unix:PATH)."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class Api:
    """A client of a running corrald's HTTP API, on a TCP port or a unix
    socket; with a token, every request carries it unless told otherwise."""

    def __init__(self, port=None, unix_socket=None, token=None):
        self.port = port
        self.unix_socket = unix_socket
        self.token = token

    @property
    def url(self):
        """The address as corralctl --url takes it."""
        return f"unix:{self.unix_socket}" if self.unix_socket else f"http://127.0.0.1:{self.port}"

    def log(self):
        return ""

    def connection(self, timeout=360):
        if self.unix_socket:
            return UnixHTTPConnection(self.unix_socket, timeout)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def raw_socket(self, timeout=30):
        """A plain socket connected to the API, for bytes http.client will not send."""
        if self.unix_socket:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(self.unix_socket)
            return sock
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=360, auth=True):
        """(status, parsed JSON or raw text) of one request. auth=False sends no token."""
        headers = dict(headers or {})
        if self.token and auth:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        status, _, reply = self.exchange(method, path, body, headers, timeout)
        return status, reply

    def exchange(self, method, path, body=None, headers=None, timeout=360):
        """(status, response headers, parsed JSON or raw text); headers are sent as given."""
        connection = self.connection(timeout)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        raw = response.read().decode("utf-8", "replace")
        connection.close()
        try:
            return response.status, response.headers, json.loads(raw)
        except ValueError:
            return response.status, response.headers, raw

    def open(self, body=None, expect=201):
        status, reply = self.request("POST", "/v1/sessions", body if body is not None else {})
        assert status == expect, f"open: {status} {reply}\n{self.log()[-3000:]}"
        return reply

    def close(self, session_id, grace=None, expect=200):
        path = f"/v1/sessions/{session_id}" + (f"?grace={grace}" if grace is not None else "")
        status, reply = self.request("DELETE", path)
        assert status == expect, f"close: {status} {reply}"
        return reply

    def get(self, session_id):
        return self.request("GET", f"/v1/sessions/{session_id}")

    def get_quietly(self, session_id):
        """The session's state, read without renewing its lease (from the list)."""
        for session in self.request("GET", "/v1/sessions")[1]["sessions"]:
            if session["id"] == session_id:
                return session["state"]
        return "closed"


class Daemon(Api):
    """One corrald process with its own state dir (and cgroup root for cgroupfs)."""

    def __init__(self, *extra_args, browser=None, backend=BACKEND, reuse=None, token=None, unix_socket=False,
                 listen="127.0.0.1:0"):
        """reuse: another Daemon whose state dir and cgroup root this one takes over.
        token: run with --token-file holding this token; requests send it.
        unix_socket: listen on unix:<state dir>/api.sock instead of `listen`.
        listen: the TCP address; requests go to 127.0.0.1 and the port it got."""
        self.backend = backend
        self.state_dir = reuse.state_dir if reuse else tempfile.mkdtemp(prefix="corral-test-state.")
        self.cgroup_root = None
        socket_path = os.path.join(self.state_dir, "api.sock") if unix_socket else None
        args = [os.environ["CORRALD"], "--listen", f"unix:{socket_path}" if socket_path else listen,
                "--state-dir", self.state_dir, "--backend", backend, "--log-level", "debug", "--grace", "1s"]
        if token:
            self.token_file = os.path.join(self.state_dir, "api.token")
            with open(os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                f.write(token + "\n")
            args += ["--token-file", self.token_file]
        if backend == "cgroupfs":
            self.cgroup_root = reuse.cgroup_root if reuse else \
                f"{CGROUP2}/corral-test-{os.getpid()}-{id(self) & 0xffffff:x}"
            args += ["--cgroup-root", self.cgroup_root]
        if browser:
            args += ["--browser", browser]
        args += list(extra_args)
        self.log_lines = []
        self.process = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        ready = self._wait_ready()
        super().__init__(port=None if socket_path else int(ready), unix_socket=socket_path, token=token)

    def _wait_ready(self):
        """What follows 'corrald ready on': the TCP port, or the unix socket's path."""
        ready = threading.Event()
        found = {}

        def pump():
            for line in self.process.stderr:
                self.log_lines.append(line.rstrip())
                match = re.search(r"corrald ready on (?:http://[^\s]+:(\d+)|unix:(\S+))", line)
                if match:
                    found["where"] = match.group(1) or match.group(2)
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(30) or "where" not in found:
            self.process.kill()
            raise AssertionError("corrald did not start:\n" + "\n".join(self.log_lines))
        return found["where"]

    def log(self):
        return "\n".join(self.log_lines)

    # --- what the host holds --------------------------------------------
    def session_cgroups(self):
        """Session cgroups (corral-*) that exist under the sessions root."""
        status, health = self.request("GET", "/v1/health")
        root = health["cgroup_root"]
        if not os.path.isdir(root):
            return []
        return [name for name in os.listdir(root) if name.startswith("corral-")]

    def session_dirs(self):
        sessions = os.path.join(self.state_dir, "sessions")
        return os.listdir(sessions) if os.path.isdir(sessions) else []

    def units(self):
        if not self.backend.startswith("systemd-user"):
            return []
        out = systemctl_user("list-units", "--all", "--no-legend", "--plain", "corral-*.scope").stdout
        return [line.split()[0] for line in out.splitlines() if line.strip()]

    def leftovers(self):
        return {"cgroups": self.session_cgroups(), "dirs": self.session_dirs(), "units": self.units()}

    def assert_nothing_left(self, pids=()):
        alive = [pid for pid in pids if pid_alive(pid)]
        left = self.leftovers()
        assert not alive and not any(left.values()), f"leaked: pids {alive}, {left}"

    # --- shutdown ----------------------------------------------------------
    def stop(self, sig=signal.SIGTERM):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stderr.close()
        return self.process.returncode

    def remove(self):
        """Stop the daemon and remove what the test itself made (state dir, cgroup root)."""
        self.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)
        if self.cgroup_root and os.path.isdir(self.cgroup_root):
            os.rmdir(self.cgroup_root)


STUB_PROCESSES = 5  # the stub's main process + 3 children + the escapee


def pid_file(daemon, session):
    """Where the stub browser of a session lists its PIDs (in its profile dir)."""
    return os.path.join(daemon.state_dir, "sessions", session["id"], "profile", "stub.pids")


def read_pid_file(path, count=None, timeout=10.0):
    """PIDs the stub browser wrote, once the file is complete."""
    wait_until(lambda: os.path.exists(path), timeout, f"pid file {path}")
    with open(path) as f:
        pids = [int(line) for line in f if line.strip()]
    if count is not None:
        assert len(pids) == count, f"expected {count} pids, got {pids}"
    return pids


class DaemonTestCase(unittest.TestCase):
    """A fresh daemon per test class; every test must leave nothing behind."""
    daemon_args = ()
    daemon_options = {}  # keyword arguments of Daemon: token=..., unix_socket=True
    use_stub = True

    @classmethod
    def setUpClass(cls):
        browser = os.environ["CORRAL_STUB"] if cls.use_stub else None
        cls.daemon = Daemon(*cls.daemon_args, browser=browser, **cls.daemon_options)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.remove()

    def tearDown(self):
        for session in self.daemon.request("GET", "/v1/sessions")[1]["sessions"]:
            self.daemon.close(session["id"], grace=0)
        self.daemon.assert_nothing_left()
