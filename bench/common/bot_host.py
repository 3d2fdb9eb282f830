"""A private little host for the baseline bots (seed, predecessor).

The seed finds "its" browser by scanning every process on the host, so on a
shared machine it would see, and kill, browsers of other people's tests.
Each baseline round therefore gets a PID namespace with its own /proc (what
psutil reads) and its own /tmp (a bench dir bound over it, where Chromium
makes its temp profiles), like a host of its own. Its init is a reaper that
never exits, so processes a bot abandons live on, reparented to it, exactly
as on a host whose PID 1 reaps them. The host and each bot sit in cgroups
of the bench, so the bench can count from outside what a bot left and end
it all with cgroup.kill.
"""
import os
import pwd
import shutil
import subprocess
import tempfile

from common import cgroups, procs

# PID 1 of the namespace: reap every orphan, never exit.
REAPER = """
import os, time
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.05)
"""

SESSION_USER = "corral-session"
BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODE = "bench-code"  # the bot's code, copied into the host's /tmp (see copy_bot_code)


class BotHost:
    def __init__(self, bench_cgroups, name):
        self.cgroups = bench_cgroups
        self.tmp = tempfile.mkdtemp(prefix="corral-bench-host.")
        os.chmod(self.tmp, 0o1777)  # it is /tmp inside
        self.bot = self.copy_bot_code()
        self.user = pwd.getpwnam(SESSION_USER)
        self.cgroup = bench_cgroups.make(name + "-init")
        with cgroups.in_cgroup(self.cgroup):
            self.unshare = subprocess.Popen(
                ["unshare", "--pid", "--fork", "--mount", "--propagation", "private", "--mount-proc", "--",
                 "/bin/sh", "-c", 'mount --bind "$0" /tmp && exec /usr/bin/python3 -c "$1"', self.tmp, REAPER],
                stdin=subprocess.DEVNULL)
        self.init_pid = procs.wait_until(lambda: next(iter(procs.children(self.unshare.pid)), None), 10,
                                         "the namespace's init")
        procs.wait_until(lambda: "python3" in procs.cmdline(self.init_pid), 10, "the reaper")

    def copy_bot_code(self):
        """The private /tmp hides whatever lies under the real /tmp, a checkout
        too (CI clones there): the bots run from a copy inside it. Its path in
        the namespace."""
        target = os.path.join(self.tmp, CODE)
        os.mkdir(target, 0o755)
        shutil.copy(os.path.join(BENCH, "bot.py"), target)
        for package in ("common", "baselines"):
            shutil.copytree(os.path.join(BENCH, package), os.path.join(target, package),
                            ignore=shutil.ignore_patterns("__pycache__"))
        return f"/tmp/{CODE}/bot.py"

    def spawn(self, argv, cgroup, env):
        """Start argv inside the namespace as the session user, in `cgroup`, with
        exactly env; pipes on stdin and stdout. Returns (nsenter's Popen, the
        program's host pid)."""
        home = f"/tmp/home-{os.path.basename(cgroup)}"
        os.makedirs(os.path.join(self.tmp, os.path.basename(home)))
        os.chown(os.path.join(self.tmp, os.path.basename(home)), self.user.pw_uid, self.user.pw_gid)
        command = ["nsenter", "-t", str(self.init_pid), "-p", "-m", "--wd=/tmp", "--",
                   "setpriv", f"--reuid={self.user.pw_uid}", f"--regid={self.user.pw_gid}", "--clear-groups", "--",
                   "env", "-i", f"HOME={home}", "TMPDIR=/tmp", "PATH=/usr/bin:/bin", "LANG=C.UTF-8",
                   *[f"{k}={v}" for k, v in env.items()], *argv]
        with cgroups.in_cgroup(cgroup):
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        program = procs.wait_until(lambda: next(iter(procs.children(process.pid)), None), 10, "the bot")
        return process, program

    def tmp_entries(self):
        """What the bots left in their /tmp (homes excepted)."""
        return sorted(name for name in os.listdir(self.tmp) if not name.startswith("home-") and name != CODE)

    def close(self):
        cgroups.kill(self.cgroup)  # the init: the kernel ends the whole namespace with it
        if self.unshare.poll() is None:
            self.unshare.wait(10)
        shutil.rmtree(self.tmp, ignore_errors=True)
