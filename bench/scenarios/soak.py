"""Measurement 5: a long run of stub sessions through one corrald, mixing
every way a session ends, then what is left and how the daemon grew.

Each block of 20 cycles has
  14 normal   open, DELETE ?grace=0
   2 vanish   open with idle_timeout 1s and never touched again: the bot
              is gone; corral reaps the session when the lease runs out
   2 crash    the stub's main process raises SIGSEGV 0.3 s after start
   2 exit     the stub's main process exits 0.3 s after start, leaving its
              children and its setsid escapee running: the escaping browser
The stub's behaviour is picked by a --lang value the wrapper script reads
(client args pass corrald's allowlist; --lang is on it).

At checkpoints (cycle 100, then every 1,000, and the end) the clients
pause until no session is open, and the bench reads the daemon's RSS and
open fds. At the end: processes, cgroups, units, session dirs left, and the
close reasons corrald counted (/metrics).
"""
import itertools
import os
import re
import threading
import time

from common import procs
from common.daemons import STUB

MIX = ["normal"] * 14 + ["vanish"] * 2 + ["crash"] * 2 + ["exit"] * 2
BODIES = {"normal": {}, "vanish": {"idle_timeout": "1s"}, "crash": {"args": ["--lang=x-crash"]},
          "exit": {"args": ["--lang=x-exit"]}}


def dispatch_script():
    """The daemon's --browser: the stub, told by --lang what to do."""
    return (f"#!/bin/sh\ncase \" $* \" in\n"
            f"  *\" --lang=x-crash \"*) exec {STUB} --crash-after 0.3 \"$@\" ;;\n"
            f"  *\" --lang=x-exit \"*) exec {STUB} --exit-after 0.3 \"$@\" ;;\n"
            f"  *) exec {STUB} \"$@\" ;;\nesac\n")


def checkpoints(cycles):
    points = [100] + list(range(1000, cycles, 1000)) if cycles > 100 else []
    return [p for p in points if p < cycles] + [cycles]


class Soak:
    def __init__(self, daemon, concurrency=4):
        self.daemon, self.concurrency = daemon, concurrency
        self.failures = []
        self.lock = threading.Lock()

    def cycle(self, index):
        kind = MIX[index % len(MIX)]
        # As a bot would: wait for room rather than fail when every session uid is busy.
        status, session = self.daemon.request("POST", "/v1/sessions?wait=30s", BODIES[kind])
        if status != 201:
            self._fail(f"{kind}: open {status} {str(session)[:120]}")
            return
        if kind == "normal":
            status, report = self.daemon.request("DELETE", f"/v1/sessions/{session['id']}?grace=0")
            if status != 200 or not report.get("verified_empty"):
                self._fail(f"normal: close {status}")

    def _fail(self, what):
        with self.lock:
            self.failures.append(what)

    def segment(self, start, end):
        counter = itertools.count(start)
        lock = threading.Lock()

        def client():
            while True:
                with lock:
                    index = next(counter)
                if index >= end:
                    return
                self.cycle(index)
        threads = [threading.Thread(target=client) for _ in range(self.concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def drain(self, timeout=120):
        """Wait until no session is open (vanished bots reaped, crashed browsers cleaned) and the
        dirs closes set aside are freed (corrald does that just after it answers)."""
        procs.wait_until(lambda: not self.daemon.request("GET", "/v1/sessions")[1]["sessions"], timeout,
                         "every soak session to close", interval=0.1)
        removed = os.path.join(self.daemon.state_dir, "removed")
        try:
            procs.wait_until(lambda: not os.path.isdir(removed) or not os.listdir(removed), 10,
                             "set-aside dirs freed", interval=0.05)
        except AssertionError:  # procs.wait_until timed out
            pass  # what is still there is counted as left over

    def sample(self, cycle, started):
        pid = self.daemon.process.pid
        return {"cycle": cycle, "rss_kib": procs.rss_kib(pid), "fds": procs.fd_count(pid),
                "threads": procs.thread_count(pid),
                "elapsed_s": round(time.perf_counter() - started, 1)}

    def run(self, cycles, progress=None):
        started = time.perf_counter()
        self.drain()
        samples = [self.sample(0, started)]
        done = 0
        for point in checkpoints(cycles):
            self.segment(done, point)
            done = point
            self.drain()
            samples.append(self.sample(point, started))
            if progress:
                progress(samples[-1])
        elapsed = time.perf_counter() - started
        return {"cycles": cycles, "concurrency": self.concurrency, "seconds": round(elapsed, 1),
                "cycles_per_s": round(cycles / elapsed, 1), "mix": {k: MIX.count(k) for k in BODIES},
                "samples": samples, "failures": len(self.failures), "failure_examples": self.failures[:5],
                "left": self.daemon.leftovers(), "closed_by_reason": self.closed_by_reason(),
                "rss_growth": rss_growth(samples)}

    def closed_by_reason(self):
        status, text = self.daemon.request("GET", "/metrics")
        return {m.group(1): int(float(m.group(2)))
                for m in re.finditer(r'corral_sessions_closed_total\{reason="([^"]+)"\} (\S+)', text)}


def rss_growth(samples):
    """RSS at cycle 100 and at the end; growth per 1,000 cycles and per 10,000 (KiB)."""
    at_100 = next((s for s in samples if s["cycle"] == 100), None)
    last = samples[-1]
    if not at_100 or last["cycle"] <= 100:
        return None
    per_1000 = (last["rss_kib"] - at_100["rss_kib"]) / ((last["cycle"] - 100) / 1000)
    growth = {"rss_kib_at_100": at_100["rss_kib"], "rss_kib_at_end": last["rss_kib"], "cycles_at_end": last["cycle"],
              "growth_kib_per_1000": round(per_1000, 1), "growth_kib_per_10000": round(per_1000 * 10, 1),
              "fds_at_100": at_100["fds"], "fds_at_end": last["fds"],
              "threads_at_100": at_100.get("threads"), "threads_at_end": last.get("threads")}
    # corrald keeps the last 256 closed sessions for GET, and its worker
    # threads each warm up their own malloc arena: RSS grows by design
    # until both are done. Growth over the second half of the run is what a
    # leak would show.
    half = min((s for s in samples if s["cycle"] >= last["cycle"] / 2), key=lambda s: s["cycle"], default=None)
    if half and last["cycle"] - half["cycle"] >= 500:
        late = (last["rss_kib"] - half["rss_kib"]) / ((last["cycle"] - half["cycle"]) / 10000)
        growth.update({"rss_kib_at_half": half["rss_kib"], "cycles_at_half": half["cycle"],
                       "growth_kib_per_10000_second_half": round(late, 1)})
    return growth
