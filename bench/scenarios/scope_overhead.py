"""Measurement 3: what a scope costs. One operation = open + close of the
stub browser (tests/stub: forks 3 children and a setsid escapee, ignores
SIGTERM, plays DevTools), ready when DevTools answers, closed when every
process is gone and its dirs removed:

  corral-cgroupfs      POST /v1/sessions + DELETE ?grace=0, cgroupfs backend
  corral-systemd-user  the same through the systemd user manager
  bare                 fork/exec by the bench, SIGKILL of every PID the stub
                       lists (the escapee too), rm -rf; no cgroup at all
  systemd-run          systemd-run --user --scope, systemctl --user stop
"""
import os
import shutil
import subprocess
import time

from baselines.bare_launch import POLL_S, devtools_answers, no_new_privs, session_dirs, session_env
from baselines.systemd_run import SystemdRunScope
from common import procs
from common.daemons import STUB

VARIANTS = ("corral-cgroupfs", "corral-systemd-user", "bare", "systemd-run")


class ScopeOverheadBench:
    def __init__(self, daemons):
        self.daemons = daemons  # {"cgroupfs": Corrald, "systemd-user": Corrald}, both running the stub

    def run(self, variant):
        started = time.perf_counter()
        if variant.startswith("corral-"):
            daemon = self.daemons[variant[len("corral-"):]]
            session = daemon.open({})
            daemon.request("DELETE", f"/v1/sessions/{session['id']}?grace=0")
        else:
            self._by_hand(variant)
        return {"variant": variant, "op_ms": round((time.perf_counter() - started) * 1000, 2)}

    def _by_hand(self, variant):
        top, user = session_dirs("corral-bench-stub.")
        profile = os.path.join(top, "profile")
        argv = [STUB, f"--user-data-dir={profile}", "--remote-debugging-port=0"]
        try:
            if variant == "bare":
                process = subprocess.Popen(argv, user=user.pw_uid, group=user.pw_gid, extra_groups=[],
                                           env=session_env(top), cwd=os.path.join(top, "tmp"),
                                           preexec_fn=no_new_privs, stdin=subprocess.DEVNULL,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                procs.wait_until(lambda: devtools_answers(profile), 30, "the stub's DevTools", interval=POLL_S)
                with open(os.path.join(profile, "stub.pids")) as f:
                    left = procs.kill_and_wait([int(line) for line in f if line.strip()])
                process.wait(10)
                assert not left, f"bare stub: {left} still alive"
            else:
                scope = SystemdRunScope(argv, user.pw_uid, user.pw_gid)
                procs.wait_until(lambda: devtools_answers(profile), 30, "the stub's DevTools", interval=POLL_S)
                scope.stop()
        finally:
            shutil.rmtree(top, ignore_errors=True)
            procs.kill_and_wait(procs.processes_mentioning(top))
