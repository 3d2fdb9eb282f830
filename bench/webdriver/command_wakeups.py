#!/usr/bin/python3
"""Where a WebDriver command spends corrald's threads: runs N commands
(GET /session/{id}/title over one kept-alive connection) through corral and
reads, for each corrald thread, how often it was switched in
(/proc/PID/task/TID/schedstat, third field) and its voluntary context
switches, before and after. Per command: the wake-ups a command costs, and
which threads they fall on. Run as root from the repository:
PYTHONPATH=tests/harness /usr/bin/python3 bench/webdriver/command_wakeups.py [--commands 500]
(CORRALD=... for another build; --strace: also strace -c -f over the run)."""
import argparse
import collections
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common.daemons import Corrald  # noqa: E402
from selenium import webdriver  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webdriver_bench import KeptAlive, options  # noqa: E402


def thread_counts(pid):
    counts = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                switched_in = int(f.read().split()[2])
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                voluntary = int(next(line for line in f if line.startswith("voluntary_ctxt")).split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
        counts[tid] = (name, switched_in, voluntary)
    return counts


def thread_stacks(pid):
    """Each thread's innermost corral frames (gdb), to tell the server's
    threads from the relay hub's."""
    out = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt"],
                         capture_output=True, text=True).stdout
    stacks, tid = {}, None
    for line in out.splitlines():
        if line.startswith("Thread "):
            tid = line.split("LWP ")[1].split(")")[0] if "LWP " in line else None
        elif tid and "corral::" in line and tid not in stacks:
            stacks[tid] = line.split(" in ")[-1].split("(")[0][:60]
    return stacks


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=500)
    parser.add_argument("--strace", action="store_true")
    parser.add_argument("--stacks", action="store_true", help="name each thread by its gdb backtrace")
    args = parser.parse_args()
    daemon = Corrald("cgroupfs", extra=["--session-network", "shared"])
    try:
        driver = webdriver.Remote(command_executor=f"http://127.0.0.1:{daemon.port}", options=options())
        try:
            client = KeptAlive(daemon.port)
            path = f"/session/{driver.session_id}/title"
            for _ in range(50):  # the kept connections made, the caches warm
                client.get(path)
            pid = daemon.process.pid
            tracer = None
            if args.strace:
                tracer = subprocess.Popen(["strace", "-c", "-f", "-p", str(pid), "-o", "/dev/stderr"],
                                          stderr=subprocess.PIPE, text=True)
                time.sleep(1)
            idle_before = thread_counts(pid)
            time.sleep(args.commands * 0.002)  # what the threads do on their own, over about as long
            idle_after = thread_counts(pid)
            idle = {tid: [idle_after[tid][k] - was[k] for k in (1, 2)]
                    for tid, was in idle_before.items() if tid in idle_after}
            before = thread_counts(pid)
            start = time.monotonic()
            for _ in range(args.commands):
                client.get(path)
            took = time.monotonic() - start
            after = thread_counts(pid)
            stacks = thread_stacks(pid) if args.stacks else {}
            if tracer:
                tracer.terminate()
                print(tracer.communicate()[1], file=sys.stderr)
        finally:
            driver.quit()
    finally:
        daemon.stop()
    # Idle wake-ups scaled to the run's length, taken off.
    scale = took / (args.commands * 0.002)
    per_name = collections.defaultdict(lambda: [0, 0])
    for tid, (name, switched, voluntary) in after.items():
        was = before.get(tid, (name, 0, 0))
        own = idle.get(tid, [0, 0])
        label = f"{name}/{tid}" + (f" {stacks[tid]}" if tid in stacks else "")
        per_name[label][0] += switched - was[1] - own[0] * scale
        per_name[label][1] += voluntary - was[2] - own[1] * scale
    busy = {k: [round(v[0] / args.commands, 2), round(v[1] / args.commands, 2)]
            for k, v in sorted(per_name.items()) if v[0] / args.commands > 0.05}
    total = sum(v[0] for v in per_name.values()) / args.commands
    print(json.dumps({"commands": args.commands, "ms_per_command": round(took * 1000 / args.commands, 3), "switched_in_per_command": round(total, 2),
                      "per_thread [switched in, voluntary] per command": busy}, indent=2))


if __name__ == "__main__":
    main()
