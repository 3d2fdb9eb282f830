#!/usr/bin/python3
"""Open -> ready from a warm pool against a cold start (issue 23, "Measured":
goal p50 <= 20 ms and <= 0.05x cold), and what a frozen warm browser costs
while it waits. Run as root, from the repository:

  PYTHONPATH=tests/harness /usr/bin/python3 bench/warm/warm_bench.py [--rounds 15]

Two root corralds side by side (cgroupfs, the defaults: sessions in networks
of their own), the same Chromium: "warm" with --warm chrome=2, "cold"
without. Rounds alternate which goes first; each round opens a plain chrome
session on each (POST /v1/sessions until its 201, which corrald sends once
the browser answers DevTools), then closes it at once. A warm round starts
only once the pool is full again, so that every warm open is a claim
(checked: the pool's hit count rises by one each round); refill times are
the pool's own (/v1/usage). Then the members' CPU (cgroup2 cpu.stat) over
a minute while frozen (issue 23: a frozen member's CPU over a minute, and
its memory). Prints a table; keeps a copy in
bench/results/<start>-warm-<commit>.json; exits 1 if a daemon left anything."""
import argparse
import datetime
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH)
sys.path[:0] = [BENCH]
os.environ.setdefault("CORRALD", os.path.join(ROOT, "build", "corrald"))
from common import machine  # noqa: E402
from common import procs  # noqa: E402
from common.daemons import Corrald  # noqa: E402
from common.stats import ratio, rotated  # noqa: E402
import report  # noqa: E402

POOL = 2
SIDES = ("warm", "cold")


def log(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def warm_status(daemon):
    return daemon.request("GET", "/v1/usage")[1]["warm"]["chrome"]


def wait_for_full_pool(daemon, timeout=60):
    deadline = time.monotonic() + timeout
    while warm_status(daemon)["ready"] < POOL:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the pool did not refill: {warm_status(daemon)}")
        time.sleep(0.05)


def open_and_close(daemon):
    started = time.perf_counter()
    session = daemon.open({"kind": "chrome"})
    elapsed = (time.perf_counter() - started) * 1000
    daemon.close(session["id"], grace=0)
    return elapsed


def one_round(daemons, side):
    if side == "warm":
        wait_for_full_pool(daemons["warm"])
        hits = warm_status(daemons["warm"])["hits"]
        elapsed = open_and_close(daemons["warm"])
        if warm_status(daemons["warm"])["hits"] != hits + 1:
            raise RuntimeError(f"a warm round was not a claim: {warm_status(daemons['warm'])}")
        return elapsed
    return open_and_close(daemons["cold"])


def frozen_cpu(daemon, seconds=60):
    """µs of CPU the pool's members used over `seconds`, and their memory, from cgroup2."""
    wait_for_full_pool(daemon)
    root = daemon.request("GET", "/v1/health")[1]["cgroup_root"]
    members = [os.path.join(root, name) for name in os.listdir(root) if name.startswith("corral-")]

    def read(path, key):
        with open(path) as f:
            return next(int(line.split()[1]) for line in f if line.startswith(key + " "))
    before = {m: read(os.path.join(m, "cpu.stat"), "usage_usec") for m in members}
    time.sleep(seconds)
    used = {m: read(os.path.join(m, "cpu.stat"), "usage_usec") - before[m] for m in members}
    frozen = [open(os.path.join(m, "cgroup.events")).read().count("frozen 1") == 1 for m in members]
    memory = [procs_memory_mib(m) for m in members]
    return {"members": len(members), "frozen": all(frozen), "seconds": seconds, "cpu_usec": sorted(used.values()),
            "memory_mib": sorted(memory)}


def procs_memory_mib(cgroup):
    """A member's memory: its processes' proportional set size (the hybrid host's
    cgroup2 tree has no memory controller, so no memory.current), in MiB."""
    with open(os.path.join(cgroup, "cgroup.procs")) as f:
        pids = [int(line) for line in f if line.strip()]
    return round(sum(procs.pss_kib(pid) for pid in pids) / 1024, 1)


def left_by(daemon):
    """What corrald left once it stopped on its own (SIGTERM: it closes its
    sessions and warm browsers), looked at before Corrald.stop() removes the
    rest by force."""
    daemon.process.terminate()
    daemon.process.wait(60)
    root = daemon.cgroup_root
    cgroup_list = [n for n in os.listdir(root) if n.startswith("corral-")] if os.path.isdir(root) else []
    processes = procs.processes_mentioning(daemon.state_dir)
    daemon.stop()
    return {"cgroups": cgroup_list, "processes": processes}


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    info = machine.describe(ROOT)
    info.update(mode="warm", started=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
                loadavg_start=machine.loadavg())
    daemons = {"warm": Corrald("cgroupfs", extra=["--warm", f"chrome={POOL}"]), "cold": Corrald("cgroupfs")}
    results = {"machine": info, "rounds": args.rounds, "pool": POOL}
    try:
        times = {side: [] for side in SIDES}
        one_round(daemons, "warm"), one_round(daemons, "cold")  # a warm-up each
        for index in range(args.rounds):
            for side in rotated(SIDES, index):
                times[side].append(round(one_round(daemons, side), 1))
            log(f"round {index + 1}: warm {times['warm'][-1]} ms, cold {times['cold'][-1]} ms")
        results["open_ready_ms"] = {side: {"p50": statistics.median(times[side]), "p99": percentile(times[side], 0.99),
                                           "samples": times[side]} for side in SIDES}
        results["warm_over_cold"] = ratio(statistics.median(times["warm"]), statistics.median(times["cold"]))
        results["pool"] = warm_status(daemons["warm"])
        results["frozen_members"] = frozen_cpu(daemons["warm"])
        results["claim_phases"] = [line.split("opened warm: ")[1] for line in daemons["warm"].log_tail
                                   if "opened warm" in line][-5:]
    finally:
        results["left"] = {side: left_by(daemon) for side, daemon in daemons.items()}
    clean = all(not any(left.values()) for left in results["left"].values())
    info["loadavg_end"] = machine.loadavg()
    o = results["open_ready_ms"]
    print(json.dumps(results, indent=1))
    print(f"open -> ready, {args.rounds} rounds: warm p50 {o['warm']['p50']} ms (p99 {o['warm']['p99']}), cold p50 "
          f"{o['cold']['p50']} ms (p99 {o['cold']['p99']}): {results['warm_over_cold']}x "
          f"(goal p50 <= 20 ms and <= 0.05x); refill {results['pool'].get('last_refill_ms')} ms; frozen members "
          f"{results['frozen_members']}")
    for line in results.get("claim_phases", []):
        log(f"a claim, as corrald logged it: {line}")
    log(f"results: {os.path.relpath(report.save(results, os.path.join(BENCH, 'results')), ROOT)}")
    if not clean:
        log(f"left behind: {results['left']}")
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
