"""One real corrald per Daemon, with its own state dir and (cgroupfs)
cgroup root; what a test run killed by meson's timeout must clean up."""
import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import unittest

from corral_harness.api import Api, systemctl_user
from corral_harness import shared_dir
from corral_harness.cgroups import CGROUP2, remove_cgroup_tree
from corral_harness.live_helpers import abandon_helpers
from corral_harness.processes import pid_alive, wait_until
from corral_harness.users import NAMED_INSTANCE_UIDS, RUN_SESSION_UIDS
from corral_harness.way_out_tables import remove_left_way_out

BACKEND = os.environ.get("CORRAL_TEST_BACKEND", "cgroupfs")
# A root corrald (cgroupfs here; the system manager in the VM) gives every
# session network, mount and IPC namespaces of its own, so that every suite
# exercises them; systemd-user's corrald is unprivileged and shares.
SESSION_NETWORK = "own" if BACKEND == "cgroupfs" and os.geteuid() == 0 else "shared"
# Such a session gets an empty /tmp (and /var/tmp, /dev/shm, /run/lock) of
# its own, so it could not see state dirs or stub browsers made there, and
# corrald refuses them: this run's temporary files go elsewhere. A short
# path: Chrome's SingletonSocket in a session's tmp dir must fit a unix
# socket's 107 bytes (/tmp and 3 characters more at most).
OWN_NETWORK_TMPDIR = "/var/ct"
if SESSION_NETWORK == "own":
    _tmpdir_hold = shared_dir.join(OWN_NETWORK_TMPDIR)
    os.environ["TMPDIR"] = tempfile.tempdir = OWN_NETWORK_TMPDIR
    atexit.register(shared_dir.leave, OWN_NETWORK_TMPDIR, _tmpdir_hold)

    # The stub browser runs in the session's mount namespace too: a build
    # tree under /tmp (a CI clone there) is out of its sight, and corrald
    # refuses such a --browser. This run's own copy, out of those dirs.
    _stub = os.environ.get("CORRAL_STUB", "")
    if _stub.startswith(("/tmp/", "/var/tmp/", "/dev/shm/", "/run/lock/")):
        _copy = os.path.join(OWN_NETWORK_TMPDIR, f"stub_browser-{os.getpid()}")
        shutil.copy2(_stub, _copy)
        os.environ["CORRAL_STUB"] = _copy

        @atexit.register
        def _remove_stub_copy(path=_copy):
            try:
                os.unlink(path)
            except OSError:
                pass

# CORRAL_TEST_WAY_OUT=relay (or kernel): every corrald the run starts gets
# that --session-way-out unless a test names its own; unset, corrald's
# default (auto: the kernel way out for a root corrald's own networks).
# A file that tests the relay itself sets it before importing the harness.
WAY_OUT = os.environ.get("CORRAL_TEST_WAY_OUT", "")

# CORRAL_TEST_WARM=chrome=2 (the *-warm suites of tests/meson.build): every
# daemon a test starts keeps that warm pool too, unless the test names its
# own --warm or passes warm=False, so that suites written without a pool
# show that they hold with one (issue 23).
RUN_WARM = os.environ.get("CORRAL_TEST_WARM", "")

# Daemons started and not yet removed: what a test run killed by meson's
# timeout (SIGTERM) must clean up before it goes.
_LIVE_DAEMONS = []


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
                 listen="127.0.0.1:0", instance=None, beside=None, launch_prefix=(), unprivileged=False, warm=True):
        """reuse: another Daemon whose state dir and cgroup root this one takes over.
        token: run with --token-file holding this token; requests send it.
        unix_socket: listen on unix:<state dir>/api.sock instead of `listen`.
        listen: the TCP address; requests go to its host (127.0.0.1 for a wildcard) and the port it got.
        instance: run as --instance NAME (None: the default instance).
        beside: another Daemon whose --cgroup-root this one shares (cgroupfs), as
        several instances on one host do; this one then removes only its own root.
        launch_prefix: argv that execs corrald, e.g. nsenter into another host's network namespace.
        unprivileged: the prefix drops corrald's privileges (unprivileged.py): no uid pool then.
        warm: False keeps this daemon out of the run's warm pool (CORRAL_TEST_WARM)."""
        self.backend = backend
        self.launch_prefix = reuse.launch_prefix if reuse else tuple(launch_prefix)
        named_in_args = "--instance" in extra_args  # as the Grid fleet's hosts name theirs
        if named_in_args and not reuse:
            instance = extra_args[extra_args.index("--instance") + 1]
        self.instance = reuse.instance if reuse else instance  # what tells its scopes from others'
        corrald = os.environ["CORRALD"]
        self.state_dir = reuse.state_dir if reuse else tempfile.mkdtemp(prefix="corral-test-state.")
        # mkdtemp makes it 0700; the session user must pass through it (corrald checks).
        os.chmod(self.state_dir, 0o711)
        self.cgroup_root = None   # what remove() takes away: the cgroup root this daemon made, or its own part
        self.shared_root = None   # its --cgroup-root
        socket_path = os.path.join(self.state_dir, "api.sock") if unix_socket else None
        args = [*self.launch_prefix, corrald, "--listen", f"unix:{socket_path}" if socket_path else listen,
                "--state-dir", self.state_dir, "--backend", backend, "--log-level", "debug", "--grace", "1s"]
        chooses_users = "--session-uids" in extra_args or "--session-user" in extra_args or unprivileged
        if self.instance:
            if not named_in_args:
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
        if backend == "cgroupfs" and SESSION_NETWORK == "own" and "--session-network" not in extra_args:
            args += ["--session-network", "own"]
        if WAY_OUT and "--session-way-out" not in extra_args:
            args += ["--session-way-out", WAY_OUT]
        self.run_warm = bool(RUN_WARM and warm and "--warm" not in extra_args)
        if self.run_warm:
            args += ["--warm", RUN_WARM]
        args += list(extra_args)
        self.keeps_warm = "--warm" in args  # warm browsers (--warm) stay while it runs
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

    def warm_members(self):
        """Ids of the warm browsers of a running daemon with --warm: the
        session scopes no listed session owns, up to as many as /v1/usage
        says it keeps (any more are leftovers), each holding one uid."""
        if not self.keeps_warm or self.process.poll() is not None:
            return []
        listed = {os.path.basename(s["cgroup"]) for s in self.request("GET", "/v1/sessions")[1]["sessions"]}
        warm = [name for name in self.session_cgroups() if name not in listed]
        kept = sum(pool["target"] for pool in self.request("GET", "/v1/usage")[1]["warm"].values())
        return [name.removesuffix(".scope").rsplit("-", 1)[1] for name in warm[:kept]]

    def leftovers(self):
        """What is left of sessions; a running --warm daemon's warm browsers are not."""
        warm = self.warm_members()
        def ours(name):  # a scope, unit or session dir of a session, not of a warm browser
            return not any(name == i or name.endswith(f"-{i}") or name.endswith(f"-{i}.scope") for i in warm)
        left = {"cgroups": [c for c in self.session_cgroups() if ours(c)],
                "dirs": [d for d in self.session_dirs() if ours(d)], "units": [u for u in self.units() if ours(u)],
                "set_aside": self.set_aside_dirs()}
        uids = self.request("GET", "/v1/health")[1]["session_uids"] if warm else {}
        if uids.get("separate"):  # each warm browser holds one uid, and nothing else holds any once sessions are gone
            in_use = uids["in_use"]
            left["uids"] = [] if in_use == len(warm) else [f"{in_use} uids in use for {len(warm)} warm browsers"]
        return left

    def assert_nothing_left(self, pids=()):
        alive = [pid for pid in pids if pid_alive(pid)]
        # A close answers before the space of its files is freed (and its
        # uid swept); that follows within moments.
        try:
            wait_until(lambda: not any(self.leftovers().values()), 5, "set-aside session dirs removed")
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
        if self.run_warm and self.process.poll() is None:
            self._say_what_the_pool_served()
        self.stop()
        if self.cgroup_root:
            # Empty unless a test failed with sessions open: kill those too.
            remove_cgroup_tree(self.cgroup_root)
        remove_left_way_out(self.state_dir)  # a corrald killed and never restarted
        shutil.rmtree(self.state_dir, ignore_errors=True)
        self._forget()

    def _say_what_the_pool_served(self):
        """On the test's stderr (testlog.txt): that the run's pool was there, and used."""
        try:
            pools = self.request("GET", "/v1/usage")[1]["warm"]
        except Exception as failure:  # a daemon that no longer answers: its test says why
            pools = failure
        print(f"harness: corrald with --warm {RUN_WARM}: {pools}", file=sys.stderr)

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
        remove_left_way_out(self.state_dir)
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def _forget(self):
        # A reusing daemon shares this one's state dir: forget both.
        for daemon in [d for d in _LIVE_DAEMONS if d is self or d.state_dir == self.state_dir]:
            _LIVE_DAEMONS.remove(daemon)


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
    daemon_class = Daemon  # or a kind of it (unprivileged.py)

    @classmethod
    def setUpClass(cls):
        browser = os.environ["CORRAL_STUB"] if cls.use_stub else None
        cls.daemon = cls.daemon_class(*cls.daemon_args, browser=browser, **cls.daemon_options)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.remove()

    def tearDown(self):
        for session in self.daemon.request("GET", "/v1/sessions")[1]["sessions"]:
            self.daemon.close(session["id"], grace=0)
        self.daemon.assert_nothing_left()
