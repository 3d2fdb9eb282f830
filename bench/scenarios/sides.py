"""One bot's browser session on each side of the close benchmark, and what
the bench sees of it from outside: its processes (members) and its dirs.

  corral-*     a corral chromedriver session; members: the session cgroup's
               cgroup.procs while it exists, plus every PID seen in it
               before the close
  seed, predecessor
               a bot in a BotHost; members: the bot's own bench cgroup, less
               the bot and nsenter
  kernel       chromedriver started by the bench in a bench cgroup of its
               own; the bench ends it with cgroup.kill (the kernel's teardown)
"""
import http.client
import os
import shutil
import subprocess
import tempfile

from baselines.bare_launch import no_new_privs
from common import cgroups, procs
from common.bot_runner import Bot
from common.bot_host import SESSION_USER
from common.chrome import CHROMEDRIVER

IDLE_TIMEOUT = "8s"  # how long a corral session whose bot died stays open
CLOSE_QUERIES = {"corral-forced": "?grace=0", "corral-graceful": "", "corral-nowait": "?grace=0&wait=0",
                 "corral": "?grace=0"}


class CorralSide:
    def __init__(self, daemon, variant, page):
        self.daemon, self.variant = daemon, variant
        self.bot = Bot.start_plain(["--variant", "corral", "--page", page, "--corral-port", str(daemon.port),
                                    "--close-query", CLOSE_QUERIES[variant], "--idle-timeout", IDLE_TIMEOUT])
        self.seen = set()
        self.ready = None

    def wait_ready(self):
        self.ready = self.bot.expect("ready")
        self.id, self.cgroup = self.ready["id"], self.ready["cgroup"]
        self.snapshot()
        return self.ready

    def snapshot(self):
        self.seen |= set(cgroups.procs(self.cgroup))
        return len(self.seen)

    def members(self):
        return {pid for pid in set(cgroups.procs(self.cgroup)) | self.seen if procs.alive(pid)}

    def dirs_left(self):
        """The session's dir, in place or set aside (<state>/removed/<id>) and not yet freed."""
        places = (self.daemon.session_dir(self.id), os.path.join(self.daemon.state_dir, "removed", self.id))
        return [path for path in places if os.path.exists(path)]

    def settle(self, timeout=60):
        """Wait until corral says the session is closed (its cleanup has finished), and for the
        moment after it in which corrald frees the dirs it set aside (what is still there after
        that counts as left)."""
        procs.wait_until(lambda: self.daemon.get_quietly(self.id) == "closed", timeout,
                         f"session {self.id} closed", interval=0.02)
        try:
            procs.wait_until(lambda: not self.dirs_left(), 5, "the session's dirs freed", interval=0.02)
        except AssertionError:  # procs.wait_until timed out
            pass

    def report(self):
        """The final close report, from GET (for wait=0 the DELETE had none)."""
        status, session = self.daemon.get(self.id)
        return session.get("report") if status == 200 else None

    def sweep(self):
        if self.daemon.get_quietly(self.id) != "closed":
            self.daemon.request("DELETE", f"/v1/sessions/{self.id}?grace=0")
        procs.kill_and_wait(list(self.members()))


class BaselineSide:
    def __init__(self, host, bench_cgroups, variant, page):
        self.host, self.variant = host, variant
        self.cgroup = bench_cgroups.make(variant)
        self.bot = Bot.start_in_host(host, ["--variant", variant, "--page", page], self.cgroup)

    def wait_ready(self):
        return self.bot.expect("ready")

    def snapshot(self):
        return len(self.members())

    def members(self):
        return {pid for pid in cgroups.procs(self.cgroup) if procs.alive(pid)} - {self.bot.pid, self.bot.process.pid}

    def dirs_left(self):
        return self.host.tmp_entries()

    def report(self):
        return None

    def sweep(self):
        cgroups.kill(self.cgroup)


class KernelSide:
    """The same chromedriver and Chromium, in a cgroup of their own; the bot
    drives them with webdriver.Remote, as it drives a corral session."""

    def __init__(self, bench_cgroups, page):
        import pwd
        user = pwd.getpwnam(SESSION_USER)
        self.variant = "kernel"
        self.cgroup = bench_cgroups.make("kernel")
        self.dir = tempfile.mkdtemp(prefix="corral-bench-kernel.")
        os.chown(self.dir, user.pw_uid, user.pw_gid)
        port = free_port()
        base = "/" + os.urandom(16).hex()  # corrald's secret --url-base, made the same way
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": self.dir, "TMPDIR": self.dir, "LANG": "C.UTF-8"}
        with cgroups.in_cgroup(self.cgroup):
            # As corrald starts it: loopback only, under a secret base; the
            # session user, no groups, no-new-privs (which Chromium's sandbox
            # set-up, and so the browser, depend on).
            self.driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}", f"--url-base={base}"],
                                           user=user.pw_uid, group=user.pw_gid, extra_groups=[], env=env,
                                           cwd=self.dir, preexec_fn=no_new_privs, stdin=subprocess.DEVNULL,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.wait_until(lambda: answers(port, base), 30, "chromedriver's /status", interval=0.02)
        self.bot = Bot.start_plain(["--variant", "remote", "--page", page, "--webdriver",
                                    f"http://127.0.0.1:{port}{base}"])

    def wait_ready(self):
        return self.bot.expect("ready")

    def snapshot(self):
        return len(self.members())

    def members(self):
        return {pid for pid in cgroups.procs(self.cgroup) if procs.alive(pid)}

    def dirs_left(self):
        return []

    def report(self):
        return None

    def teardown_ms(self):
        return cgroups.kill_and_time(self.cgroup)

    def sweep(self):
        cgroups.kill(self.cgroup)
        self.driver.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port, base=""):
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", base + "/status")
        ok = connection.getresponse().status == 200
        connection.close()
        return ok
    except OSError:
        return False
