"""A program launched directly: fork/exec by the bench, no daemon, no scope
(a bench cgroup only holds it for the cleanup; joining it is not timed).
It runs as corrald runs a browser: the session user, no supplementary
groups, PR_SET_NO_NEW_PRIVS, corrald's environment. Ready when it has
written DevToolsActivePort and /json/version answers: what corrald waits
for before it answers an open."""
import ctypes
import http.client
import os
import pwd
import shutil
import subprocess
import tempfile
import time

from common import cgroups, procs
from common.bot_host import SESSION_USER

POLL_S = 0.002  # corrald waits with inotify; 2 ms polling costs the bare side at most that
PR_SET_NO_NEW_PRIVS = 38


def no_new_privs():
    """In the child before exec, as corrald's gated child does. It matters for
    the figures: without it this Chromium takes longer to start."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def session_dirs(prefix):
    """profile/, tmp/, home/ owned by the session user, as corrald makes them."""
    user = pwd.getpwnam(SESSION_USER)
    top = tempfile.mkdtemp(prefix=prefix)
    os.chmod(top, 0o711)
    for name in ("profile", "tmp", "home"):
        os.mkdir(os.path.join(top, name), 0o700)
        os.chown(os.path.join(top, name), user.pw_uid, user.pw_gid)
    return top, user


def session_env(top):
    """corrald's session_environment (src/launch/browser_command.cpp)."""
    home = os.path.join(top, "home")
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": os.path.join(top, "tmp"),
            "XDG_CONFIG_HOME": os.path.join(home, ".config"), "XDG_CACHE_HOME": os.path.join(home, ".cache"),
            "LANG": "C.UTF-8"}


def devtools_answers(profile):
    """True once DevToolsActivePort names a port whose /json/version answers 200."""
    try:
        with open(os.path.join(profile, "DevToolsActivePort")) as f:
            port = int(f.readline())
    except (FileNotFoundError, ValueError):
        return False
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/json/version")
        ok = connection.getresponse().status == 200
        connection.close()
        return ok
    except OSError:
        return False


class BareLaunch:
    """argv(profile) run as the session user; ready() times the launch."""

    def __init__(self, bench_cgroups, name):
        self.cgroup = bench_cgroups.make(name)
        self.top, self.user = session_dirs("corral-bench-bare.")
        self.profile = os.path.join(self.top, "profile")
        self.process = None

    def launch_until_ready(self, argv, timeout=60):
        """ms from fork until DevTools answers."""
        with cgroups.in_cgroup(self.cgroup):
            started = time.perf_counter()
            self.process = subprocess.Popen(argv, user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[],
                                            env=session_env(self.top), cwd=os.path.join(self.top, "tmp"), preexec_fn=no_new_privs,
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)
        procs.wait_until(lambda: devtools_answers(self.profile), timeout, "DevTools", interval=POLL_S)
        return (time.perf_counter() - started) * 1000

    def kill_and_remove(self):
        cgroups.kill(self.cgroup)
        if self.process is not None:
            self.process.wait(10)
        shutil.rmtree(self.top, ignore_errors=True)
