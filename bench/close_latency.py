#!/usr/bin/env python3
"""How long ending one real headless Chromium session takes, and what it
leaves behind: corral (cgroup.kill) versus what bots do today (SIGTERM, poll,
then kill the process tree).

Variants, run interleaved round by round (the order rotates every round) so
that background load hits all of them alike:

  baseline         /usr/bin/chromium started directly with corrald's flags and
                   a fresh --user-data-dir in /tmp; close = SIGTERM to the
                   browser, waitpid poll (up to 5 s), SIGKILL every descendant
                   of the browser pid found by walking /proc, rm -rf the
                   user-data-dir.
  corral-forced    POST /v1/sessions, then DELETE /v1/sessions/{id}?grace=0.
  corral-graceful  the same DELETE without grace: the daemon's default, which
                   the test harness sets to --grace 1s.

Each session is closed once it has >= 6 processes (DevTools answers before all
helpers have started). The close is timed wall-clock from the client. One
second after it, the bench counts the session's processes still alive (any
process whose cmdline mentions the session's user-data-dir, or any process
of the session seen just before the close) and temp dirs the session left
in /tmp, then kills/removes them itself, so that it leaves nothing behind.

Python 3 stdlib only. Run as root on a host with a writable cgroup2 tree:

  sudo bench/close_latency.py [--rounds 7] [--json out.json]
"""
import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
os.environ.setdefault("CORRALD", os.path.join(ROOT, "build", "corrald"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.dont_write_bytecode = True  # write no __pycache__ into tests/e2e
import corral_harness  # noqa: E402  (needs CORRALD set first)

CHROMIUM = "/usr/bin/chromium"
# corrald's own flags (src/browser_launch.cpp, chrome_base_flags), so that the
# baseline runs the same browser; plus --no-sandbox, since the baseline runs
# it as root, as bots do (corrald runs it as corral-session, sandboxed).
CHROME_FLAGS = [
    "--headless=new", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
    "--no-first-run", "--no-default-browser-check",
    "--disable-background-timer-throttling", "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding", "--disable-features=TranslateUI", "--disable-component-update",
    "--disable-background-networking", "--disable-sync", "--disable-default-apps",
    "--disable-domain-reliability", "--disable-client-side-phishing-detection", "--metrics-recording-only",
    "--disable-gpu", "--no-sandbox",
]
TEMP_PREFIX = "corral-bench."
MIN_PROCESSES = 6
READY_TIMEOUT = 60.0
BASELINE_EXIT_WAIT = 5.0
LEFTOVER_DELAY = 1.0
VARIANTS = ("baseline", "corral-forced", "corral-graceful")


# --- /proc -------------------------------------------------------------------
def proc_stat(pid):
    """(ppid, state) of pid, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[1]), fields[0]
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return None


def all_pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def alive(pid):
    stat = proc_stat(pid)
    return stat is not None and stat[1] != "Z"


def descendants(root):
    """Live descendants of root (not root itself), by walking /proc."""
    children = {}
    for pid in all_pids():
        stat = proc_stat(pid)
        if stat and stat[1] != "Z":
            children.setdefault(stat[0], []).append(pid)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def processes_mentioning(text):
    me = os.getpid()
    return [pid for pid in all_pids() if pid != me and alive(pid) and text in cmdline(pid)]


def chromium_processes():
    """All live chromium processes on the host (anyone's)."""
    found = []
    for pid in all_pids():
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if (comm.startswith("chrom") or "crashpad" in comm) and alive(pid):
            found.append(pid)
    return found


def qemu_processes():
    found = []
    for pid in all_pids():
        line = cmdline(pid)
        if line.split(" ", 1)[0].rsplit("/", 1)[-1].startswith("qemu-system"):
            found.append(pid)
    return found


def corral_cgroups():
    root = corral_harness.CGROUP2
    return sorted(name for name in os.listdir(root) if name.startswith("corral-"))


def chromium_tmp_dirs():
    tmp = tempfile.gettempdir()
    return {name for name in os.listdir(tmp) if name.startswith((".org.chromium.", "org.chromium."))}


def kill_and_wait(pids, timeout=5.0):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.01)
    return [pid for pid in pids if alive(pid)]


def wait_for_processes(count, settle, what):
    """Wait until count() >= MIN_PROCESSES and, if settle > 0, unchanged for settle seconds."""
    wait_for(lambda: count() >= MIN_PROCESSES, READY_TIMEOUT, f">= {MIN_PROCESSES} processes in {what}")
    if settle <= 0:
        return
    deadline = time.monotonic() + READY_TIMEOUT
    last, since = count(), time.monotonic()
    while time.monotonic() - since < settle and time.monotonic() < deadline:
        time.sleep(0.02)
        now = count()
        if now != last:
            last, since = now, time.monotonic()


def last_gone_ms(pids, profile, started, returned):
    """Poll until none of pids and no process mentioning profile is alive, at most LEFTOVER_DELAY
    after the close returned; then sleep out the rest of that second (the leftover count comes
    after it). ms from the start of the close to the moment all were gone, None if never."""
    gone_ms = None
    while time.perf_counter() < returned + LEFTOVER_DELAY:
        if not any(alive(pid) for pid in pids) and not processes_mentioning(profile):
            gone_ms = round((time.perf_counter() - started) * 1000, 1)
            break
        time.sleep(0.005)
    rest = returned + LEFTOVER_DELAY - time.perf_counter()
    if rest > 0:
        time.sleep(rest)
    return gone_ms


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


# --- the machine ---------------------------------------------------------------
def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        version = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        version = f"unknown ({e})"
    try:
        with open("/proc/meminfo") as f:
            mem_kib = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kib = 0
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
    except OSError:
        commit = ""
    return {"nproc": len(os.sched_getaffinity(0)), "cpu_model": model, "kernel": platform.release(),
            "memory_gib": round(mem_kib / 1024 / 1024, 1), "chromium": version, "corrald": os.environ["CORRALD"],
            "corral_commit": commit, "cgroup2": corral_harness.CGROUP2}


# --- one session of each variant -------------------------------------------------
class Baseline:
    """Chromium started directly, closed the way bots do it today."""

    def __init__(self, poll_ms, settle):
        self.poll = poll_ms / 1000.0
        self.settle = settle
        self.open_browsers = []  # (Popen, user_data_dir) not yet cleaned, for the final sweep

    def run(self):
        tmp_before = chromium_tmp_dirs()
        profile = tempfile.mkdtemp(prefix=TEMP_PREFIX + "baseline.")
        process = subprocess.Popen([CHROMIUM, *CHROME_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.open_browsers.append((process, profile))
        wait_for(lambda: os.path.exists(os.path.join(profile, "DevToolsActivePort")), READY_TIMEOUT,
                 "DevToolsActivePort")
        wait_for_processes(lambda: 1 + len(descendants(process.pid)), self.settle, "the browser's tree")
        session = set([process.pid, *descendants(process.pid)]) | set(processes_mentioning(profile))

        started = time.perf_counter()
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + BASELINE_EXIT_WAIT
        while process.poll() is None and time.monotonic() < deadline:  # waitpid(WNOHANG)
            time.sleep(self.poll)
        exited = process.poll() is not None
        tree = [process.pid] if not exited else []
        tree += descendants(process.pid)
        for pid in tree:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not exited:
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)
        returned = time.perf_counter()
        elapsed_ms = (returned - started) * 1000
        removed_at_once = not os.path.exists(profile)
        self.open_browsers.remove((process, profile))

        gone_ms = last_gone_ms(session, profile, started, returned)
        left = sorted(set(processes_mentioning(profile)) | {pid for pid in session if alive(pid)})
        left_tmp = sorted(chromium_tmp_dirs() - tmp_before)
        if os.path.exists(profile):  # recreated by a helper still running during rm -rf
            left_tmp.append(os.path.basename(profile))
        record = {"variant": "baseline", "close_ms": round(elapsed_ms, 1), "all_gone_ms": gone_ms,
                  "processes_at_close": len(session),
                  "exited_on_sigterm": exited, "tree_walk_killed": len(tree),
                  "processes_ended": len(session) - len([pid for pid in session if pid in left]),
                  "leftover_processes": len(left), "leftover_cmdlines": [cmdline(pid)[:160] for pid in left],
                  "leftover_dirs": len(left_tmp), "leftover_dir_names": left_tmp,
                  "profile_gone_after_rm": removed_at_once, "profile_gone_1s_later": not os.path.exists(profile)}
        # The bench itself leaves nothing: kill what survived, remove what stayed.
        record["unkillable"] = kill_and_wait(left)
        for name in left_tmp:
            shutil.rmtree(os.path.join(tempfile.gettempdir(), name), ignore_errors=True)
        return record

    def sweep(self):
        for process, profile in list(self.open_browsers):
            pids = [process.pid, *descendants(process.pid), *processes_mentioning(profile)]
            kill_and_wait(pids)
            process.wait()
            shutil.rmtree(profile, ignore_errors=True)
        self.open_browsers.clear()


class Corral:
    """Sessions of one corrald (cgroupfs backend) started through the test harness."""

    def __init__(self, settle):
        self.settle = settle
        self.daemon = corral_harness.Daemon(backend="cgroupfs")
        self.open_ids = set()

    def run(self, variant):
        tmp_before = chromium_tmp_dirs()
        session = self.daemon.open({"kind": "chrome"})
        self.open_ids.add(session["id"])
        profile = os.path.join(self.daemon.state_dir, "sessions", session["id"], "profile")
        procs_file = os.path.join(session["cgroup"], "cgroup.procs")

        def members():
            with open(procs_file) as f:
                return [int(line) for line in f if line.strip()]

        wait_for_processes(lambda: len(members()), self.settle, session["cgroup"])
        before = set(members())

        started = time.perf_counter()
        report = self.daemon.close(session["id"], grace=0 if variant == "corral-forced" else None)
        returned = time.perf_counter()
        elapsed_ms = (returned - started) * 1000
        self.open_ids.discard(session["id"])

        gone_ms = last_gone_ms(before, profile, started, returned)
        left = sorted(set(processes_mentioning(profile)) | {pid for pid in before if alive(pid)})
        left_tmp = sorted(chromium_tmp_dirs() - tmp_before)
        session_dir = os.path.dirname(profile)
        if os.path.exists(session_dir):
            left_tmp.append(session_dir)
        record = {"variant": variant, "close_ms": round(elapsed_ms, 1), "all_gone_ms": gone_ms,
                  "processes_at_close": len(before),
                  "report_duration_ms": report["duration_ms"], "processes_killed": report["processes_killed"],
                  "graceful": report["graceful"], "verified_empty": report["verified_empty"],
                  "scope_removed": report["scope_removed"], "dirs_removed": report["dirs_removed"],
                  "problems": report["problems"],
                  "processes_ended": len(before) - len([pid for pid in before if pid in left]),
                  "leftover_processes": len(left), "leftover_cmdlines": [cmdline(pid)[:160] for pid in left],
                  "leftover_dirs": len(left_tmp), "leftover_dir_names": left_tmp,
                  "cgroup_left": os.path.exists(session["cgroup"])}
        record["unkillable"] = kill_and_wait(left)
        return record

    def sweep(self):
        for session_id in list(self.open_ids):
            try:
                self.daemon.close(session_id, grace=0)
            except Exception as e:  # keep sweeping; the daemon's own shutdown closes the rest
                print(f"warning: closing {session_id}: {e}", file=sys.stderr)
        self.open_ids.clear()
        self.daemon.remove()


# --- summary -------------------------------------------------------------------
def median_or_none(values):
    """Median, counting a None (never within the second) as larger than any number."""
    if not values:
        return None
    ordered = sorted(values, key=lambda v: (v is None, v or 0))
    middle = ordered[(len(ordered) - 1) // 2: len(ordered) // 2 + 1]
    if any(v is None for v in middle):
        return None
    return round(sum(middle) / len(middle), 1)


def summarize(records):
    summary = {}
    for variant in VARIANTS:
        rows = [r for r in records if r["variant"] == variant]
        if not rows:
            continue
        closes = [r["close_ms"] for r in rows]
        entry = {"n": len(rows), "close_ms_median": round(statistics.median(closes), 1),
                 "close_ms_min": min(closes), "close_ms_max": max(closes),
                 "all_gone_ms_median": median_or_none([r["all_gone_ms"] for r in rows]),
                 "processes_at_close_median": statistics.median(r["processes_at_close"] for r in rows),
                 "processes_ended_median": statistics.median(r["processes_ended"] for r in rows),
                 "leftover_processes_per_session": round(statistics.mean(r["leftover_processes"] for r in rows), 2),
                 "leftover_dirs_per_session": round(statistics.mean(r["leftover_dirs"] for r in rows), 2)}
        if variant != "baseline":
            entry["report_duration_ms_median"] = statistics.median(r["report_duration_ms"] for r in rows)
            entry["processes_killed_median"] = statistics.median(r["processes_killed"] for r in rows)
            entry["graceful_count"] = sum(1 for r in rows if r["graceful"])
            entry["all_verified_empty"] = all(r["verified_empty"] for r in rows)
        else:
            entry["exited_on_sigterm_count"] = sum(1 for r in rows if r["exited_on_sigterm"])
            entry["tree_walk_killed_median"] = statistics.median(r["tree_walk_killed"] for r in rows)
        summary[variant] = entry
    base = summary.get("baseline", {}).get("close_ms_median")
    ratios = {}
    for variant in ("corral-forced", "corral-graceful"):
        if base and variant in summary:
            ratios[f"{variant}/baseline"] = round(summary[variant]["close_ms_median"] / base, 2)
    return summary, ratios


def print_table(info, summary, ratios, host):
    print()
    print(f"machine: {info['nproc']} CPUs ({info['cpu_model']}), {info['memory_gib']} GiB, "
          f"kernel {info['kernel']}")
    print(f"browser: {info['chromium']}")
    print(f"corrald: {info['corrald']} (commit {info['corral_commit'] or '?'}), cgroupfs backend, "
          f"daemon --grace 1s (corral-graceful uses it)")
    print(f"concurrent qemu-system processes: {host['qemu_before']} before, {host['qemu_after']} after; "
          f"loadavg {host['loadavg_before']} before, {host['loadavg_after']} after")
    print()
    header = (f"{'variant':<16} {'n':>2} {'close ms':>9} {'(min-max)':>15} {'all gone':>8} {'corral ms':>9} {'procs':>5} "
              f"{'ended':>5} {'killed':>6} {'left procs':>10} {'left dirs':>9}")
    print(header)
    print("-" * len(header))
    for variant, s in summary.items():
        reported = s.get("report_duration_ms_median", "-")
        killed = s.get("processes_killed_median", s.get("tree_walk_killed_median", "-"))
        spread = f"({s['close_ms_min']:.0f}-{s['close_ms_max']:.0f})"
        gone = s["all_gone_ms_median"] if s["all_gone_ms_median"] is not None else ">1s"
        print(f"{variant:<16} {s['n']:>2} {s['close_ms_median']:>9.1f} {spread:>15} {gone!s:>8} {reported!s:>9} "
              f"{s['processes_at_close_median']!s:>5} {s['processes_ended_median']!s:>5} {killed!s:>6} "
              f"{s['leftover_processes_per_session']:>10} {s['leftover_dirs_per_session']:>9}")
    print()
    print("close ms: median client wall-clock of the close (baseline: SIGTERM..rm -rf; corral: the DELETE)")
    print("all gone: median ms from the start of the close until no process of the session was alive")
    print("corral ms: median duration_ms in corral's report; procs: processes of the session at close;")
    print("ended: of those, gone 1 s later; killed: corral processes_killed / baseline tree-walk SIGKILLs;")
    print("left procs / left dirs: per session, alive 1 s after the close / dirs left (org.chromium.* in /tmp, the user-data-dir)")
    for name, value in ratios.items():
        print(f"ratio {name} (median close ms): {value}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="sessions of each variant (default 7)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--settle-ms", type=float, default=0.0,
                        help="after >= 6 processes, also wait until the count is unchanged this long (default 0)")
    parser.add_argument("--poll-ms", type=float, default=10.0,
                        help="baseline waitpid poll interval in ms (default 10)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run as root (cgroupfs backend, --no-sandbox)")
    if not os.access(os.environ["CORRALD"], os.X_OK):
        parser.error(f"no corrald at {os.environ['CORRALD']} (set CORRALD or build with ninja -C build)")

    # SIGTERM/SIGHUP end the bench through the same cleanup as Ctrl-C.
    def stop(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)

    info = machine()
    host = {"qemu_before": len(qemu_processes()), "loadavg_before": " ".join(open("/proc/loadavg").read().split()[:3]),
            "chromium_before": len(chromium_processes()), "corral_cgroups_before": corral_cgroups(),
            "tmp_before": sorted(os.listdir(tempfile.gettempdir()))}
    print(f"{info['nproc']} CPUs, {info['cpu_model']}, kernel {info['kernel']}, {info['chromium']}")
    print(f"qemu-system processes running: {host['qemu_before']}; chromium processes before: "
          f"{host['chromium_before']}; corral-* cgroups before: {host['corral_cgroups_before']}")

    records = []
    baseline = Baseline(args.poll_ms, args.settle_ms / 1000.0)
    corral = None
    try:
        corral = Corral(args.settle_ms / 1000.0)
        for round_index in range(args.rounds):
            shift = round_index % len(VARIANTS)
            for variant in VARIANTS[shift:] + VARIANTS[:shift]:
                record = baseline.run() if variant == "baseline" else corral.run(variant)
                record["round"] = round_index + 1
                records.append(record)
                print(f"round {round_index + 1} {variant:<16} close {record['close_ms']:8.1f} ms  "
                      f"all gone {record['all_gone_ms']} ms  "
                      f"procs {record['processes_at_close']}  ended {record['processes_ended']}  "
                      f"left {record['leftover_processes']} procs, {record['leftover_dirs']} dirs"
                      + (f"  corral {record['report_duration_ms']} ms, killed {record['processes_killed']}"
                         if variant != "baseline" else f"  tree-walk killed {record['tree_walk_killed']}"),
                      flush=True)
    finally:
        baseline.sweep()
        if corral is not None:
            corral.sweep()

    host["qemu_after"] = len(qemu_processes())
    host["loadavg_after"] = " ".join(open("/proc/loadavg").read().split()[:3])
    # What the bench leaves: none of its processes, temp dirs or cgroups.
    time.sleep(0.2)
    tmp_after = sorted(os.listdir(tempfile.gettempdir()))
    new_tmp = sorted(set(tmp_after) - set(host.pop("tmp_before")))
    own_state = corral.daemon.state_dir if corral is not None else None
    own_root = corral.daemon.cgroup_root if corral is not None else None
    check = {"chromium_processes_after": len(chromium_processes()),
             "corral_cgroups_after": corral_cgroups(),
             "new_corral_cgroups": sorted(set(corral_cgroups()) - set(host["corral_cgroups_before"])),
             "daemon_cgroup_root_left": bool(own_root and os.path.exists(own_root)),
             "bench_processes_after": len(processes_mentioning(TEMP_PREFIX)) +
             (len(processes_mentioning(own_state)) if own_state else 0),
             "new_tmp_entries": new_tmp,
             "bench_tmp_entries": [n for n in tmp_after if n.startswith(TEMP_PREFIX)] +
             ([os.path.basename(own_state)] if own_state and os.path.exists(own_state) else [])}
    # Other test runs on the host make corral-test-<their pid>-* cgroups and state dirs of their own:
    # the bench answers only for its own (its pid in the name, its state dir, its temp prefix).
    check["bench_cgroups_after"] = [c for c in check["corral_cgroups_after"] if c.startswith(f"corral-test-{os.getpid()}-")]
    check["clean"] = (not check["bench_processes_after"] and not check["bench_tmp_entries"]
                      and not [n for n in new_tmp if "chromium" in n]
                      and not check["bench_cgroups_after"] and not check["daemon_cgroup_root_left"])
    summary, ratios = summarize(records)
    print_table(info, summary, ratios, host)
    print(f"\nafter the run: bench's own processes {check['bench_processes_after']}, cgroups "
          f"{check['bench_cgroups_after']}, temp dirs {check['bench_tmp_entries']}, new org.chromium.* dirs "
          f"{[n for n in new_tmp if 'chromium' in n]} -> {'CLEAN' if check['clean'] else 'NOT CLEAN'}")
    print(f"host-wide (anyone's): chromium processes {check['chromium_processes_after']} (before "
          f"{host['chromium_before']}), corral-* cgroups {check['corral_cgroups_after']} (before "
          f"{host['corral_cgroups_before']}), new /tmp entries {new_tmp}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "host": host, "config": {
                "rounds": args.rounds, "min_processes": MIN_PROCESSES, "settle_ms": args.settle_ms, "baseline_poll_ms": args.poll_ms,
                "baseline_exit_wait_s": BASELINE_EXIT_WAIT, "leftover_delay_s": LEFTOVER_DELAY,
                "daemon_grace": "1s (tests/e2e/corral_harness.py)", "chrome_flags": CHROME_FLAGS},
                "summary": summary, "ratios": ratios, "after": check, "sessions": records}, f, indent=2)
            f.write("\n")
    return 0 if check["clean"] else 1


if __name__ == "__main__":
    sys.exit(main())
