#!/usr/bin/python3
"""What corral's CDP relay (src/proxy/relay_hub.cpp) adds to a message
(issue 23, "The relay": goal ≤ 15 µs a message, ≥ 0.95× direct bytes/s for
a ~20 MB answer). Run as root, from the repository:

  PYTHONPATH=tests/harness CORRALD=build/corrald /usr/bin/python3 bench/relay/relay_bench.py [--quick]
      [--rounds 6] [--messages 10000] [--shots 2] [--label before]

One root corrald (cgroupfs, --session-network shared: only a session on the
host's network has a `devtools.local` the bench can reach), one real
Chromium session, one page target, and one CDP client (bench/cdp_client.mjs:
Node and `ws`, no library on top) holding two WebSockets to that page at
once: the browser's own port, corral's relay and the floor under any relay
(bench/relay/bare_relay.c: one thread, a read and a write a message, no
checks). Rounds alternate between them, the order rotating, the first
round a warm-up not counted:

- `Browser.getVersion` sent sequentially, --messages a round each way: a
  command the browser answers at once, so what differs is the path. Per
  round the median µs a message each way and what each relay adds to
  direct; corrald's context switches (all its threads, voluntary and not)
  and CPU per message on corral's side, and the bare relay's CPU on its.
- `Page.captureScreenshot` of a page of pseudo-random pixels (the devtools
  scenario's: a PNG of ~17.7 MB, one ~24 MB WebSocket message), --shots a
  round each way: MB/s of the whole command and of the wire alone (from the
  answer's first bytes at the client to its last).

Prints JSON and a table, keeps a copy in
bench/results/<start>-relay[-quick]-<commit>.json."""
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
from common import machine, procs  # noqa: E402
from common.daemons import Corrald  # noqa: E402
from common.stats import ratio, rotated  # noqa: E402
from relay.bare_relay import BareRelay  # noqa: E402
from scenarios.devtools_proxy import SHOT, CdpWorker, page_urls  # noqa: E402
import report  # noqa: E402

VIA = ("direct", "corral", "bare")
METHOD = "Browser.getVersion"
GOAL_ADDED_US, GOAL_BYTES_RATIO = 15, 0.95
MB = 1e6


def log(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def corrald_counters(pid):
    """(context switches, CPU ns) of all corrald's threads so far."""
    return procs.context_switches(pid), procs.cpu_ticks(pid) * 1e9 / os.sysconf("SC_CLK_TCK")


def message_rounds(worker, pids, rounds, messages):
    """Per counted round: each side's median µs, and each relay's switches
    and CPU per message (corrald's on corral's side, bare_relay's on bare)."""
    made = []
    for index in range(rounds + 1):
        row = {}
        for via in rotated(VIA, index):
            before = corrald_counters(pids[via]) if via in pids else None
            row[via] = worker.ask(op="calls", via=via, method=METHOD, count=messages)
            if before:
                after = corrald_counters(pids[via])
                row[f"{via}_switches_per_message"] = round((after[0] - before[0]) / messages, 2)
                row[f"{via}_cpu_us_per_message"] = round((after[1] - before[1]) / 1000 / messages, 2)
        row["corrald_switches_per_message"] = row.pop("corral_switches_per_message")
        row["corrald_cpu_us_per_message"] = row.pop("corral_cpu_us_per_message")
        row["added_us"] = round(row["corral"]["median_us"] - row["direct"]["median_us"], 1)
        row["bare_added_us"] = round(row["bare"]["median_us"] - row["direct"]["median_us"], 1)
        log(f"messages round {index}{' (warm-up)' if index == 0 else ''}: direct {row['direct']['median_us']} µs, "
            f"corral {row['corral']['median_us']} µs (+{row['added_us']}), bare {row['bare']['median_us']} µs "
            f"(+{row['bare_added_us']}); corrald {row['corrald_switches_per_message']} switches/message")
        if index:
            made.append(row)
    return made


def shot_rounds(worker, rounds, shots):
    made = {via: [] for via in VIA}
    for index in range(rounds + 1):
        for via in rotated(VIA, index):
            answer = worker.ask(op="shots", via=via, count=shots)["shots"]
            for shot in answer:
                shot["mb_per_s"] = round(shot["message_bytes"] / MB / (shot["total_ms"] / 1000), 1)
                shot["wire_mb_per_s"] = round(shot["message_bytes"] / MB / (shot["transfer_ms"] / 1000), 1)
            if index:
                made[via] += answer
        log(f"shots round {index}: " + ", ".join(f"{v} {[s['wire_mb_per_s'] for s in made[v][-shots:]]} wire MB/s"
                                                  for v in VIA))
    return made


def summary(message_rows, shots):
    med = {via: round(statistics.median(r[via]["median_us"] for r in message_rows), 1) for via in VIA}
    added = [r["added_us"] for r in message_rows]
    bare_added = [r["bare_added_us"] for r in message_rows]
    over_bare = [round(r["added_us"] - r["bare_added_us"], 1) for r in message_rows]
    mbs = {via: round(statistics.median(s["mb_per_s"] for s in shots[via]), 1) for via in VIA}
    wire = {via: round(statistics.median(s["wire_mb_per_s"] for s in shots[via]), 1) for via in VIA}
    return {
        "message_median_us": med,
        "added_us_median": round(statistics.median(added), 1),
        "added_us_per_round": added, "added_us_spread": [min(added), max(added)],
        "bare_added_us_median": round(statistics.median(bare_added), 1),
        "bare_added_us_spread": [min(bare_added), max(bare_added)],
        "corral_over_bare_us_median": round(statistics.median(over_bare), 1),
        "corral_over_bare_us_spread": [min(over_bare), max(over_bare)],
        "bare_cpu_us_per_message": statistics.median(r["bare_cpu_us_per_message"] for r in message_rows),
        "corral_over_direct": ratio(med["corral"], med["direct"]),
        "corrald_switches_per_message": statistics.median(r["corrald_switches_per_message"] for r in message_rows),
        "corrald_cpu_us_per_message": statistics.median(r["corrald_cpu_us_per_message"] for r in message_rows),
        "shot_message_bytes": shots["direct"][0]["message_bytes"],
        "shot_mb_per_s": mbs, "shot_wire_mb_per_s": wire,
        "shot_bytes_ratio": ratio(mbs["corral"], mbs["direct"]),
        "shot_wire_bytes_ratio": ratio(wire["corral"], wire["direct"]),
    }


def table(result):
    s = result["summary"]
    m = result["machine"]
    return "\n".join([
        f"{METHOD} x{result['messages']} a round, {result['rounds']} rounds (median of round medians):",
        f"  direct {s['message_median_us']['direct']} µs, corral {s['message_median_us']['corral']} µs: "
        f"+{s['added_us_median']} µs a message (rounds {s['added_us_spread'][0]} to {s['added_us_spread'][1]}; "
        f"goal ≤ {GOAL_ADDED_US}), {s['corral_over_direct']}×",
        f"  the floor, a bare relay: +{s['bare_added_us_median']} µs a message (rounds {s['bare_added_us_spread'][0]} "
        f"to {s['bare_added_us_spread'][1]}); corral above it +{s['corral_over_bare_us_median']} µs (rounds "
        f"{s['corral_over_bare_us_spread'][0]} to {s['corral_over_bare_us_spread'][1]})",
        f"  corrald: {s['corrald_switches_per_message']} context switches, "
        f"{s['corrald_cpu_us_per_message']} µs CPU a message; the bare relay {s['bare_cpu_us_per_message']} µs",
        f"screenshot, {s['shot_message_bytes'] / MB:.1f} MB a message: direct {s['shot_mb_per_s']['direct']} MB/s "
        f"(wire {s['shot_wire_mb_per_s']['direct']}), corral {s['shot_mb_per_s']['corral']} MB/s "
        f"(wire {s['shot_wire_mb_per_s']['corral']}), bare {s['shot_mb_per_s']['bare']} MB/s "
        f"(wire {s['shot_wire_mb_per_s']['bare']}): corral {s['shot_bytes_ratio']}× "
        f"(wire {s['shot_wire_bytes_ratio']}×; goal ≥ {GOAL_BYTES_RATIO})",
        f"machine: {m['cores']} x {m['cpu']}, kernel {m['kernel']}; {m['chromium']}; commit {m['commit']}"
        f"{' (dirty)' if m['tree_dirty'] else ''}; load {m['loadavg_start']} -> {m['loadavg_end']}",
    ])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 2,000 messages and 1 shot: a smoke run")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--shots", type=int, default=2)
    parser.add_argument("--label", default="", help="a word kept with the record (before, after)")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.messages, args.shots = 2, 2000, 1
    started = datetime.datetime.now(datetime.timezone.utc)
    result = {"machine": {**machine.describe(ROOT), "corrald": machine.corrald_binary(),
                          "started": started.strftime("%Y-%m-%d %H:%M:%S UTC"),
                          "mode": "relay-quick" if args.quick else "relay"},
              "label": args.label, "rounds": args.rounds, "messages": args.messages, "shots": args.shots}
    daemon = Corrald("cgroupfs", extra=["--session-network", "shared"])
    session = worker = bare = None
    try:
        session = daemon.open({"kind": "chrome"})
        direct_ws, corral_ws = page_urls(session)
        bare = BareRelay(direct_ws)
        worker = CdpWorker(direct_ws, corral_ws, bare.ws)
        result["client"] = {k: v for k, v in worker.hello.items() if k != "ready"}
        worker.ask(op="setup", **SHOT)
        for via in VIA:  # the first screenshot on each connection is slower: not counted
            worker.ask(op="shots", via=via, count=1)
        pids = {"corral": daemon.process.pid, "bare": bare.process.pid}
        result["message_rounds"] = message_rounds(worker, pids, args.rounds, args.messages)
        result["shot_rounds"] = shot_rounds(worker, args.rounds, args.shots)
        result["summary"] = summary(result["message_rounds"], result["shot_rounds"])
    finally:
        if worker:
            worker.stop()
        if bare:
            bare.stop()
        if session:
            daemon.request("DELETE", f"/v1/sessions/{session['id']}?grace=0")
        daemon.stop()
    result["machine"]["loadavg_end"] = machine.loadavg()
    result["machine"]["minutes"] = round((datetime.datetime.now(datetime.timezone.utc) - started).total_seconds() / 60, 1)
    print(json.dumps(result["summary"], indent=1))
    print(table(result))
    print("kept in", report.save(result, os.path.join(BENCH, "results")))


if __name__ == "__main__":
    main()
