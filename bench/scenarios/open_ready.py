"""Measurement 2: open -> ready. A corral chrome session (POST until the 201,
which corrald sends once DevTools answers) against the same Chromium with
corrald's flags launched directly as the same user, until DevTools answers."""
import os
import time

from baselines.bare_launch import BareLaunch
from common import procs
from common.chrome import CHROMIUM, CORRALD_CHROME_FLAGS

VARIANTS = ("corral", "bare")


class OpenReadyBench:
    def __init__(self, bench_cgroups, corral):
        self.cgroups, self.corral = bench_cgroups, corral

    def run(self, variant):
        return self._corral() if variant == "corral" else self._bare()

    def _corral(self):
        started = time.perf_counter()
        session = self.corral.open({"kind": "chrome"})
        ready_ms = (time.perf_counter() - started) * 1000
        self.corral.request("DELETE", f"/v1/sessions/{session['id']}?grace=0")
        # corrald frees the closed profile just after it answers: let that
        # finish, so it does not slow down whichever launch comes next.
        removed = os.path.join(self.corral.state_dir, "removed")
        procs.wait_until(lambda: not os.path.isdir(removed) or not os.listdir(removed), 10, "the profile freed")
        return {"variant": "corral", "ready_ms": round(ready_ms, 1)}

    def _bare(self):
        bare = BareLaunch(self.cgroups, "open-bare")
        try:
            argv = [CHROMIUM, *CORRALD_CHROME_FLAGS, f"--user-data-dir={bare.profile}", "about:blank"]
            return {"variant": "bare", "ready_ms": round(bare.launch_until_ready(argv), 1)}
        finally:
            bare.kill_and_remove()
