"""Test support: run a real corrald, talk to it over HTTP, and prove that
nothing of a session is left on the host afterwards.

Environment (set by tests/meson.build):
  CORRALD            path of the corrald binary under test
  CORRAL_STUB        path of the stub browser
  CORRAL_TEST_BACKEND  cgroupfs (default) or systemd-user
  XDG_RUNTIME_DIR    for systemd-user: the private manager's runtime dir
"""
import http.client
import http.server
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from live_helpers import abandon_helpers

CGROUP2 = "/sys/fs/cgroup/unified" if os.path.exists("/sys/fs/cgroup/unified/cgroup.procs") else "/sys/fs/cgroup"
BACKEND = os.environ.get("CORRAL_TEST_BACKEND", "cgroupfs")

# Daemons started and not yet removed: what a test run killed by meson's
# timeout (SIGTERM) must clean up before it goes.
_LIVE_DAEMONS = []


def remove_cgroup_tree(path, timeout=5.0):
    """cgroup.kill a whole subtree, wait until it is empty, rmdir leaves first."""
    if not os.path.isdir(path):
        return
    try:
        with open(os.path.join(path, "cgroup.kill"), "w") as f:
            f.write("1")
        wait_until(lambda: "populated 0" in open(os.path.join(path, "cgroup.events")).read(), timeout,
                   f"{path} to empty")
    except (OSError, AssertionError):
        pass
    for root, _, _ in os.walk(path, topdown=False):
        try:
            os.rmdir(root)
        except OSError:
            pass


def _abandon_daemons_and_exit(signum, frame):
    """SIGTERM (meson's timeout): kill every daemon and session of this run,
    remove their state dirs and cgroups, and exit at once. os._exit, because
    client threads blocked in HTTP calls would hold up a normal exit."""
    for daemon in list(_LIVE_DAEMONS):
        try:
            daemon.abandon()
        except Exception as failure:  # clean up the rest regardless
            print(f"harness: cleaning up {daemon.state_dir} failed: {failure}", flush=True)
    abandon_helpers()  # Prometheus, tmux
    os._exit(128 + signum)


signal.signal(signal.SIGTERM, _abandon_daemons_and_exit)


def _session_user():
    """The user a root corrald runs sessions as (tools/setup creates it)."""
    try:
        return pwd.getpwnam("corral-session")
    except KeyError:
        raise SystemExit("no user corral-session on this host: run tools/setup (it runs "
                         "systemd-sysusers units/sysusers.d/corral.conf)") from None


SESSION_USER = _session_user()


PF_EXITING = 0x4  # include/linux/sched.h: the task has begun do_exit()


def pid_alive(pid):
    """True if pid exists, is not a zombie and has not begun exiting.

    cgroup.events says "populated 0" once every task of the cgroup has
    passed cgroup_exit() in do_exit(), after its memory was released and
    before it becomes a zombie: for a moment /proc still shows such a task
    running, with PF_EXITING in its flags. It runs no code any more."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state, flags = fields[0], int(fields[6])
    return state not in ("Z", "X") and not flags & PF_EXITING


def wait_until(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def process_status(pid):
    """The fields of /proc/PID/status, or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except (FileNotFoundError, ProcessLookupError):
        return None


def cmdline(pid):
    """argv of a process, or [] if it is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode("utf-8", "replace").split("\0")[:-1]
    except (FileNotFoundError, ProcessLookupError):
        return []


def credentials(pid):
    """(uids, gids, supplementary groups, NoNewPrivs) of a live process, or None.
    uids and gids are the real, effective, saved and filesystem ids."""
    status = process_status(pid)
    if status is None:
        return None
    return (status["Uid"].split(), status["Gid"].split(), status["Groups"].split(), status["NoNewPrivs"])


def expected_credentials(user):
    """What credentials() says for a process that runs as `user`, no groups, NoNewPrivs."""
    return ([str(user.pw_uid)] * 4, [str(user.pw_gid)] * 4, [], "1")


class UnnamedUser:
    """What pwd says of a user, for a uid of a --session-uids range (no
    passwd entry; corral gives it the group of the same number)."""

    def __init__(self, uid):
        self.pw_uid = self.pw_gid = uid
        self.pw_name = f"uid {uid}"


def session_user_of(session):
    """The user a session runs as: its own uid from the pool (a root
    corrald's default, corral-s00..s15, or the run's CORRAL_TEST_SESSION_UIDS),
    else the shared SESSION_USER."""
    if session.get("uid") is None:
        return SESSION_USER
    try:
        return pwd.getpwuid(session["uid"])
    except KeyError:
        return UnnamedUser(session["uid"])


def processes_in(cgroup):
    """PIDs in a cgroup and every cgroup below it."""
    pids = []
    for root, _, files in os.walk(cgroup):
        with open(os.path.join(root, "cgroup.procs")) as f:
            pids += [int(line) for line in f if line.strip()]
    return pids


def user_namespace(pid):
    """The user namespace a process is in ("user:[4026531837]"), or None if it is gone."""
    try:
        return os.readlink(f"/proc/{pid}/ns/user")
    except (FileNotFoundError, ProcessLookupError):
        return None


def chrome_sandbox_state(pids):
    """What Chrome's sandbox looks like among pids (a session's processes):
    for each renderer (--type=renderer), whether it is in a user namespace of
    its own (the namespace sandbox) and under a seccomp-bpf filter (Seccomp 2);
    and which processes were started with --no-sandbox.
    Returns {"renderers": {pid: (own_user_namespace, seccomp)}, "no_sandbox": [pid]}.
    Processes that end while this reads are left out."""
    browsers, renderers, no_sandbox = {}, [], []
    for pid in pids:
        # Chrome's helpers rewrite their title into one space-separated string.
        argv = " ".join(cmdline(pid)).split()
        if not argv:
            continue
        if "--no-sandbox" in argv:
            no_sandbox.append(pid)
        if "--type=renderer" in argv:
            renderers.append(pid)
        elif os.path.basename(argv[0]) in ("chromium", "chrome") and not any(a.startswith("--type=") for a in argv):
            browsers[pid] = user_namespace(pid)
    # The browser runs in the host's user namespace (ours) unless something
    # is very wrong; a sandboxed renderer is in neither.
    outside = set(browsers.values()) | {user_namespace("self")}
    state = {"renderers": {}, "no_sandbox": no_sandbox}
    for pid in renderers:
        namespace, status = user_namespace(pid), process_status(pid)
        if namespace and status:
            state["renderers"][pid] = (namespace not in outside, int(status["Seccomp"]))
    return state


def assert_chrome_sandboxed(pids, timeout=20):
    """Chrome's sandbox is on among pids() (called again until it holds): no
    process has --no-sandbox, there is a renderer, and every renderer is in a
    user namespace other than its browser's and under seccomp-bpf. A renderer
    the zygote has just forked applies its seccomp filter a moment later, so
    this waits for that. Returns the state."""
    def sandboxed(state):
        renderers = state["renderers"].values()
        return not state["no_sandbox"] and renderers and all(own and seccomp == 2 for own, seccomp in renderers)

    last = {}

    def settled():
        last["state"] = chrome_sandbox_state(pids())
        return sandboxed(last["state"])
    try:
        wait_until(settled, timeout, "Chrome's sandbox on every renderer")
    except AssertionError as timed_out:
        raise AssertionError(f"{timed_out}; renderers as (own user namespace, Seccomp) per pid, and the "
                             f"processes with --no-sandbox: {last['state']}") from None
    return last["state"]


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

    def __init__(self, port=None, unix_socket=None, token=None, host="127.0.0.1"):
        self.host = host  # where the API listens: loopback, or an address of an OtherHost's veth
        self.port = port
        self.unix_socket = unix_socket
        self.token = token

    @property
    def url(self):
        """The address as corralctl --url takes it."""
        return f"unix:{self.unix_socket}" if self.unix_socket else f"http://{self.host}:{self.port}"

    def log(self):
        return ""

    def connection(self, timeout=360):
        if self.unix_socket:
            return UnixHTTPConnection(self.unix_socket, timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def raw_socket(self, timeout=30):
        """A plain socket connected to the API, for bytes http.client will not send."""
        if self.unix_socket:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(self.unix_socket)
            return sock
        return socket.create_connection((self.host, self.port), timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=360, auth=True):
        """(status, parsed JSON or raw text) of one request. auth=False sends no token."""
        headers = dict(headers or {})
        if self.token and auth:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        status, _, reply = self.exchange(method, path, body, headers, timeout)
        return status, reply

    def exchange(self, method, path, body=None, headers=None, timeout=360):
        """(status, response headers, parsed JSON or raw text); headers are sent
        as given (a Host of their own included), and one given as None is not
        sent at all (a body without Content-Type)."""
        connection = self.connection(timeout)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        headers = dict(headers or {})
        if body is not None and not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"  # as every API client sends a body
        headers = {name: value for name, value in headers.items() if value is not None}
        connection.request(method, path, body=body, headers=headers)
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

    def wait_closed(self, session_id, timeout, what):
        """Wait, without renewing the lease, until the session has closed;
        then its GET (state, exit and close report)."""
        wait_until(lambda: self.get_quietly(session_id) == "closed", timeout, what)
        return self.get(session_id)[1]


# The session uids the harness gives a named instance: below systemd's
# container range, clear of the ranges test_session_uids uses.
NAMED_INSTANCE_UIDS = "400300-400315"
# A uid range of this run's own for the default instance's sessions
# (CORRAL_TEST_SESSION_UIDS=FIRST-LAST), so that two test runs on one host
# never share, and quarantine, each other's uids; unset: corral's default
# pool corral-s00..s15.
RUN_SESSION_UIDS = os.environ.get("CORRAL_TEST_SESSION_UIDS")


def instance_scope_name(instance, name):
    """True if `name` (a unit, or a cgroup directory) is a session scope of
    corrald instance `instance` (None: the default instance), as its own
    recovery would take it: corral-<id>(.scope) for the default instance,
    whose names every other instance's begin with, and corral-X-<id> for X."""
    if instance:
        return name.startswith(f"corral-{instance}-")
    return name.startswith("corral-") and not re.match(r"corral-[a-z0-9_]+(-|\.slice$)", name)


class Daemon(Api):
    """One corrald process with its own state dir (and cgroup root for cgroupfs)."""

    def __init__(self, *extra_args, browser=None, backend=BACKEND, reuse=None, token=None, unix_socket=False,
                 listen="127.0.0.1:0", instance=None, beside=None, launch_prefix=()):
        """reuse: another Daemon whose state dir and cgroup root this one takes over.
        token: run with --token-file holding this token; requests send it.
        unix_socket: listen on unix:<state dir>/api.sock instead of `listen`.
        listen: the TCP address; requests go to its host (127.0.0.1 for a wildcard) and the port it got.
        instance: run as --instance NAME (None: the default instance).
        beside: another Daemon whose --cgroup-root this one shares (cgroupfs), as
        several instances on one host do; this one then removes only its own root.
        launch_prefix: argv that execs corrald, e.g. nsenter into another host's network namespace."""
        self.backend = backend
        self.launch_prefix = reuse.launch_prefix if reuse else tuple(launch_prefix)
        self.instance = reuse.instance if reuse else instance
        corrald = os.environ["CORRALD"]
        self.state_dir = reuse.state_dir if reuse else tempfile.mkdtemp(prefix="corral-test-state.")
        # mkdtemp makes it 0700; the session user must pass through it (corrald checks).
        os.chmod(self.state_dir, 0o711)
        self.cgroup_root = None   # what remove() takes away: the cgroup root this daemon made, or its own part
        self.shared_root = None   # its --cgroup-root
        socket_path = os.path.join(self.state_dir, "api.sock") if unix_socket else None
        args = [*self.launch_prefix, corrald, "--listen", f"unix:{socket_path}" if socket_path else listen,
                "--state-dir", self.state_dir, "--backend", backend, "--log-level", "debug", "--grace", "1s"]
        chooses_users = "--session-uids" in extra_args or "--session-user" in extra_args
        if self.instance:
            args += ["--instance", self.instance]
            # The default pool (corral-s00..s15) is the default instance's.
            if not chooses_users:
                args += ["--session-uids", NAMED_INSTANCE_UIDS]
        elif RUN_SESSION_UIDS and not chooses_users:
            args += ["--session-uids", RUN_SESSION_UIDS]
        if token:
            self.token_file = os.path.join(self.state_dir, "api.token")
            with open(os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                f.write(token + "\n")
            args += ["--token-file", self.token_file]
        if backend == "cgroupfs":
            if reuse:
                self.shared_root, self.cgroup_root = reuse.shared_root, reuse.cgroup_root
            elif beside:
                self.shared_root = beside.shared_root
                self.cgroup_root = os.path.join(self.shared_root, f"corral-{self.instance}.slice") \
                    if self.instance else self.shared_root
            else:
                self.shared_root = self.cgroup_root = f"{CGROUP2}/corral-test-{os.getpid()}-{id(self) & 0xffffff:x}"
            args += ["--cgroup-root", self.shared_root]
        if browser:
            args += ["--browser", browser]
        args += list(extra_args)
        self.log_lines = []
        _LIVE_DAEMONS.append(self)
        self.process = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                        errors="replace")
        try:
            ready = self._wait_ready()
        except AssertionError:
            if not reuse:
                self.remove()  # a daemon that did not start leaves no state dir or cgroup root behind
            raise
        host = listen.rsplit(":", 1)[0].strip("[]") if not socket_path else None
        if host in ("0.0.0.0", "::", None, ""):
            host = "127.0.0.1"
        super().__init__(port=None if socket_path else int(ready), unix_socket=socket_path, token=token, host=host)

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
        return [name for name in os.listdir(root) if instance_scope_name(self.instance, name)]

    def session_dirs(self):
        sessions = os.path.join(self.state_dir, "sessions")
        return os.listdir(sessions) if os.path.isdir(sessions) else []

    def units(self):
        if not self.backend.startswith("systemd-user"):
            return []
        out = systemctl_user("list-units", "--all", "--no-legend", "--plain", "corral-*.scope").stdout
        return [unit for unit in (line.split()[0] for line in out.splitlines() if line.strip())
                if instance_scope_name(self.instance, unit)]

    def set_aside_dirs(self):
        """Session dirs a close moved out of the way, not yet removed."""
        removed = os.path.join(self.state_dir, "removed")
        return os.listdir(removed) if os.path.isdir(removed) else []

    def leftovers(self):
        return {"cgroups": self.session_cgroups(), "dirs": self.session_dirs(), "units": self.units(),
                "set_aside": self.set_aside_dirs()}

    def assert_nothing_left(self, pids=()):
        alive = [pid for pid in pids if pid_alive(pid)]
        # A close answers before the space of its files is freed; that
        # follows within moments.
        try:
            wait_until(lambda: not self.set_aside_dirs(), 5, "set-aside session dirs removed")
        except AssertionError:
            pass  # reported below with the rest
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
        if self.cgroup_root:
            # Empty unless a test failed with sessions open: kill those too.
            remove_cgroup_tree(self.cgroup_root)
        self._forget()

    def abandon(self):
        """No time for a clean stop: SIGKILL the daemon, kill its sessions
        by cgroup, remove its state dir and cgroup root."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.cgroup_root:
            remove_cgroup_tree(self.cgroup_root)
        elif self.backend.startswith("systemd-user"):
            # Kill first: a stop would give the SIGTERM-ignoring stub 90 s.
            own_slice = f"corral-{self.instance}.slice" if self.instance else ""
            slice_dir = os.path.join(CGROUP2, os.environ.get("CORRAL_TEST_USER_MANAGER_CGROUP", "/x").lstrip("/"),
                                     "corral.slice", own_slice)
            if os.path.isdir(slice_dir):
                with open(os.path.join(slice_dir, "cgroup.kill"), "w") as f:
                    f.write("1")
            try:
                systemctl_user("stop", own_slice or "corral.slice")  # unloads the emptied scopes
            except subprocess.TimeoutExpired:
                pass  # the manager itself is torn down by with-systemd-user
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def _forget(self):
        # A reusing daemon shares this one's state dir: forget both.
        for daemon in [d for d in _LIVE_DAEMONS if d is self or d.state_dir == self.state_dir]:
            _LIVE_DAEMONS.remove(daemon)


STUB_PROCESSES = 5  # the stub's main process + 3 children + the escapee


class FakeDevTools(http.server.BaseHTTPRequestHandler):
    """A stranger's server that answers /json/version like Chrome, and counts
    who asked: what a browser's DevTools file may name instead of its own port."""
    asked = 0

    def do_GET(self):
        type(self).asked += 1
        body = json.dumps({"webSocketDebuggerUrl": f"ws://127.0.0.1:{self.server.server_port}/planted"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def stub_wrapper(*stub_args):
    """A --browser program that runs the stub with extra behaviour flags."""
    handle, path = tempfile.mkstemp(prefix="corral-test-stub.", suffix=".sh")
    with os.fdopen(handle, "w") as f:
        f.write(f"#!/bin/sh\nexec {os.environ['CORRAL_STUB']} {' '.join(stub_args)} \"$@\"\n")
    os.chmod(path, 0o755)
    return path


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


def refused_start(*args, prefix=(), timeout=30, beside=None):
    """Run corrald with args (and a throw-away state dir unless args name
    one), behind the command `prefix` (e.g. setpriv); expect it to exit
    non-zero before it is ready. Its stderr. beside: a Daemon whose cgroup
    root (cgroupfs) it is given, instead of one of its own."""
    state_dir = tempfile.mkdtemp(prefix="corral-test-state.")
    os.chmod(state_dir, 0o711)
    cgroup_root = beside.shared_root if beside else f"{CGROUP2}/corral-test-{os.getpid()}-refused"
    try:
        command = [os.environ["CORRALD"], "--listen", "127.0.0.1:0", "--backend", BACKEND]
        if BACKEND == "cgroupfs":
            command += ["--cgroup-root", cgroup_root]
        if "--state-dir" not in args:
            command += ["--state-dir", state_dir]
        result = subprocess.run([*prefix, *command, *args], capture_output=True, text=True, timeout=timeout)
        assert result.returncode != 0 and "corrald ready" not in result.stderr, \
            f"corrald started with {args}:\n{result.stderr}"
        return result.stderr
    finally:
        shutil.rmtree(state_dir)
        if not beside and os.path.isdir(cgroup_root):
            os.rmdir(cgroup_root)


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
