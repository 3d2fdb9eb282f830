"""corrald as the benchmark runs it: the built binary with its own defaults
(grace 2 s, log level info), a state dir and (cgroupfs) a cgroup root of
its own, on a loopback port. HTTP goes through the e2e harness's Api."""
import collections
import itertools
import os
import re
import shutil
import subprocess
import tempfile
import threading

from common import cgroups, procs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import corral_harness

CORRALD = os.environ.get("CORRALD", os.path.join(ROOT, "build", "corrald"))

# Each daemon of the bench gets a session uid range of its own. The default
# pool (corral-s00..s15) is shared by every default corrald on the host, and
# one sweeps the pool's uids when it starts: other people's test daemons
# here would end the bench's sessions, and the bench's theirs.
UID_BASE, UID_STEP, UID_COUNT = 401000, 1000, 256
_daemons_made = itertools.count()
STUB = os.environ.get("CORRAL_STUB", os.path.join(ROOT, "build", "tests", "stub_browser"))


class Corrald(corral_harness.Api):
    def __init__(self, backend, browser=None, extra=(), env=None):
        self.backend = backend
        self.state_dir = tempfile.mkdtemp(prefix="corral-bench-state.")
        os.chmod(self.state_dir, 0o711)  # the session user passes through it
        self.cgroup_root = None
        number = next(_daemons_made)
        first = UID_BASE + UID_STEP * number
        self.session_uids = f"{first}-{first + UID_COUNT - 1}"
        args = [CORRALD, "--listen", "127.0.0.1:0", "--state-dir", self.state_dir, "--backend", backend, *extra]
        if "--session-user" not in extra:
            args += ["--session-uids", self.session_uids]
        # The bots load their page from a server on the host's 127.0.0.1, as
        # the baselines do; a session in a network of its own (a root
        # corrald's default) reaches it only where the operator allows it.
        if "--session-network" not in extra:
            args += ["--egress-allow", "127.0.0.1"]
        self.instance = None
        if backend != "cgroupfs":
            # One user manager takes one corrald per instance name.
            self.instance = f"bench{os.getpid()}x{number}"
            args += ["--instance", self.instance]
        if backend == "cgroupfs":
            self.cgroup_root = os.path.join(cgroups.CGROUP2, f"corral-bench-{os.getpid()}-{id(self) & 0xffffff:x}")
            args += ["--cgroup-root", self.cgroup_root]
        if browser:
            args += ["--browser", browser]
        self.log_tail = collections.deque(maxlen=200)
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                        errors="replace", env={**os.environ, **(env or {})})
        try:
            port = self._wait_ready()
        except RuntimeError:
            self.stop()  # a daemon that did not start leaves no state dir or cgroup root
            raise
        super().__init__(port=port)

    def _wait_ready(self):
        ready, found = threading.Event(), {}

        def pump():  # drain stderr for the daemon's whole life, keep the tail
            for line in self.process.stderr:
                self.log_tail.append(line.rstrip())
                match = re.search(r"corrald ready on http://[^\s]+:(\d+)", line)
                if match:
                    found["port"] = int(match.group(1))
                    ready.set()
            ready.set()
        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(60) or "port" not in found:
            self.process.kill()
            raise RuntimeError("corrald did not start:\n" + self.log())
        return found["port"]

    def log(self):
        return "\n".join(self.log_tail)

    def session_dir(self, session_id):
        return os.path.join(self.state_dir, "sessions", session_id)

    # --- what it leaves -----------------------------------------------------
    def leftovers(self):
        """Session cgroups, units, session dirs and processes of this daemon that still exist."""
        root = self.request("GET", "/v1/health")[1]["cgroup_root"]
        cgroup_list = [n for n in os.listdir(root) if n.startswith("corral-")] if os.path.isdir(root) else []
        units = []
        if self.backend == "systemd-user":
            out = corral_harness.systemctl_user("list-units", "--all", "--no-legend", "--plain",
                                                "corral-*.scope").stdout
            units = [line.split()[0] for line in out.splitlines() if line.strip()]
        dirs = []
        for place in ("sessions", "removed"):  # in place, or set aside by a close and not yet freed
            path = os.path.join(self.state_dir, place)
            dirs += os.listdir(path) if os.path.isdir(path) else []
        processes = [p for p in procs.processes_mentioning(self.state_dir) if p != self.process.pid]
        return {"processes": len(processes), "cgroups": len(cgroup_list),
                "units": len(units), "dirs": len(dirs)}

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()  # corrald closes every session before it exits
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.state_dir, ignore_errors=True)
        if self.cgroup_root:
            cgroups.remove(self.cgroup_root)
        if self.instance:  # the instance's own slice outlives its corrald; it is the bench's to remove
            corral_harness.systemctl_user("stop", f"corral-{self.instance}.slice")


def stub_wrapper(directory, name, *stub_args):
    """A --browser program that runs the stub with extra behaviour flags (as
    tests/e2e/test_stub_sessions.py does), readable by the session user."""
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\nexec {STUB} {' '.join(stub_args)} \"$@\"\n")
    os.chmod(path, 0o755)
    return path
