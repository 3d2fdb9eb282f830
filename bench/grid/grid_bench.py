#!/usr/bin/python3
"""Selenium Grid 4 with corral hosts against Grid with plain chromedriver
nodes (issue 11). Run as root, from the repository:

  PYTHONPATH=tests/harness CORRALD=build/corrald /usr/bin/python3 bench/grid/grid_bench.py [--quick]
      [--starts 10] [--commands 300] [--duration 60] [--no-plain-throughput]
      [--warm N] [--rate 0.5] [--arrivals 200] [--bot-spacing 8]

One fleet (tests/grid's kit: network namespaces joined by veth links, the
real Grid jar): a hub; two corral hosts, each a corrald (--max-sessions 3)
with a relay node from tools/grid/relay-node-config (with --warm N:
corrald --warm chromedriver=N --max-sessions 3+N, the node's slots still
3, so that the warm members wait in places of their own); two plain hosts, each
a standard node that starts Debian's chromedriver and Chromium itself, as
root with --no-sandbox, 3 slots. Each side's nodes carry a value of their
own of `bench:side` in their stereotype (grid_bench_sides.ROUTE), and
Grid matches a request that carries it only to a slot with its value,
so a bot's value picks its side (every measured start is checked against
the node that holds its slot).

1. Session start: webdriver.Remote through the hub, then the first
   driver.title; the sides interleaved, the order alternating.
2. Command round trip: GET /session/{id}/title on an open session of each
   side, one by one in turn.
3. Where a title's time goes: the same GET sent straight to each hop of
   each side's path (hub, node, corrald, chromedriver), kept-alive.
4. Session start at a fixed arrival rate (grid_bench_arrivals.py): an
   open loop, --rate sessions/s a side, --arrivals a side, interleaved;
   p50 and p99 a side and their ratios, and the warm pools' hits and misses.
5. Sessions/s: 6 bots at once (the corral pair's 6 slots), each opening a
   session, getting a data: page and quitting, again and again for
   --duration seconds; then the same against the plain pair. The machine
   is CPU-bound then, so it also says whose CPU a session costs: the
   side's node JVMs, corralds, and sessions (chromedriver and Chromium;
   on corral's side every warm member too), and the hub's
   (grid_bench_cpu.py). With --warm, the pools are full when the clock
   starts and the CPU is read once they are full again: their refills count.
Prints the machine and the figures as JSON, keeps a copy in
bench/results/<start>-grid[-warm][-quick]-<commit>.json; exits 1 if the run
left a JVM, namespace, session, cgroup or temp dir behind.
  PYTHONPATH=tests/harness /usr/bin/python3 bench/grid/grid_bench.py --across RUN.json RUN.json ...
prints each figure's median and spread over kept runs."""
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
# corral_harness comes from the PYTHONPATH (tests/harness: see bench/README.md).
sys.path[:0] = [HERE, BENCH, os.path.join(ROOT, "tests", "grid")]
os.environ.setdefault("CORRALD", os.path.join(ROOT, "build", "corrald"))
from common import machine  # noqa: E402
from common.machine import corrald_binary, cpu_jiffies  # noqa: E402
from common.stats import ratio  # noqa: E402
from grid_bench_arrivals import fixed_rate_starts  # noqa: E402
from grid_bench_cpu import HostCpu  # noqa: E402
from grid_bench_hops import measure_hops  # noqa: E402
from grid_bench_sides import ROUTE, Sides, SIDES, leftovers, tmp_snapshot  # noqa: E402
from grid_bench_warm import wait_pools_full, warm_counts, warm_delta  # noqa: E402
from grid_fleet import GridFleet  # noqa: E402
import report  # noqa: E402

PAGE = "data:text/html,<title>grid bench</title><p>hello"
SLOTS_PER_HOST = 3
QUICK = {"starts": 2, "commands": 30, "duration": 10, "arrivals": 8}
# Two warm chromedrivers a corral host: at 0.5 arrivals/s a side over two
# hosts, a host's member is claimed every 4 s on average and refilled in
# about a cold start's time (1.2-1.6 s here), so two cover an uneven run
# of arrivals; each frozen member costs memory, not CPU.
WARM_DEFAULT = 2


def stereotype(side):
    return {"browserName": "chrome", "platformName": "linux", **ROUTE[side]}


def fleet_for(args):
    plain_hosts = ["p", "q"] if args.plain_throughput else ["p"]
    corral_args = ["--max-sessions", str(SLOTS_PER_HOST + args.warm)]
    config_args = ["--stereotype", json.dumps(stereotype("corral")), "--max-sessions", str(SLOTS_PER_HOST)]
    if args.warm:
        corral_args += ["--warm", f"chromedriver={args.warm}"]
    return GridFleet(["a", "b"], corral_args=corral_args, config_args=config_args,
                     plain_hosts=plain_hosts,
                     plain_node={"max_sessions": SLOTS_PER_HOST,
                                 # As root Chromium will not start sandboxed; Grid
                                 # adds the stereotype's args to each session's.
                                 "stereotype": {**stereotype("plain"),
                                                "goog:chromeOptions": {"args": ["--no-sandbox"]}}})


def log(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def ms(values, digits=1):
    return round(statistics.median(values), digits) if values else None


def compare(values, digits=1):
    """Medians of both sides, corral's extra and the ratio corral / plain."""
    corral, plain = ms(values["corral"], digits), ms(values["plain"], digits)
    added = round(corral - plain, digits) if corral is not None and plain is not None else None
    return {"corral": corral, "plain": plain, "added": added, "ratio": ratio(corral, plain),
            "count": len(values["corral"])}


def session_starts(sides, rounds, warmup):
    """rounds × (open + first title, then quit) per side, the order
    alternating: the JVMs' first sessions (warmup rounds) not counted."""
    times = {key: {side: [] for side in SIDES} for key in ("start", "remote", "title", "quit")}
    bots = {side: sides.bot(side) for side in SIDES}
    try:
        for index in range(warmup + rounds):
            for side in (SIDES if index % 2 == 0 else SIDES[::-1]):
                opened = bots[side].ask("open")
                sides.check_route(side, opened["session_id"])
                closed = bots[side].ask("quit")
                if index >= warmup:
                    for key, value in (("start", opened["start_ms"]), ("remote", opened["remote_ms"]),
                                       ("title", opened["title_ms"]), ("quit", closed["quit_ms"])):
                        times[key][side].append(value)
    finally:
        for bot in bots.values():
            bot.close()
    return times


def command_round_trips(sides, count, warmup=20):
    """One GET title on each side's open session in turn, count times."""
    times = {side: [] for side in SIDES}
    bots = {side: sides.bot(side) for side in SIDES}
    try:
        for side, bot in bots.items():
            sides.check_route(side, bot.ask("open")["session_id"])
        for index in range(warmup + count):
            for side in (SIDES if index % 2 == 0 else SIDES[::-1]):
                elapsed = bots[side].ask("title")["ms"]
                if index >= warmup:
                    times[side].append(elapsed)
        for bot in bots.values():
            bot.ask("quit")
    finally:
        for bot in bots.values():
            bot.close()
    return times


def sessions_per_second(sides, cpu, side, bots_count, duration):
    """bots_count bots cycling sessions at once for `duration` seconds: the
    cycles that ended within it, per second. Every bot is up (Python and
    Selenium loaded) before the clock starts."""
    before = sides.sessions_by_node()
    bots = [sides.bot(side) for _ in range(bots_count)]
    try:
        wait_pools_full(sides.fleet)  # the pools' state at the start, and again at the end
        warm_before = warm_counts(sides.fleet)
        busy, total = cpu_jiffies()
        parts = cpu.sample()
        until = time.monotonic() + duration
        for bot in bots:
            bot.send({"do": "cycles", "until": until, "url": PAGE})
        answers = [bot.answer(timeout=duration + 180) for bot in bots]
        refilled_s = wait_pools_full(sides.fleet)  # what the pools spend to be as they were counts
        busy_end, total_end = cpu_jiffies()  # after the tail: the CPU of every cycle counted
        parts_end = cpu.sample()
    finally:
        for bot in bots:
            bot.close()
    cycles = [cycle for answer in answers for cycle in answer["cycles"]]
    within = [cycle for cycle in cycles if cycle["end"] <= until]
    after = sides.sessions_by_node()
    cpu_s = (busy_end - busy) / os.sysconf("SC_CLK_TCK")
    return {"bots": bots_count, "duration_s": duration, "sessions": len(within),
            "sessions_per_s": round(len(within) / duration, 2),
            "cycle_ms": ms([c["ms"] for c in within]), "cycle_start_ms": ms([c["start_ms"] for c in within]),
            "cycle_quit_ms": ms([c["quit_ms"] for c in within]),
            "finished_after_the_end": len(cycles) - len(within),
            "cpu_busy_pct": round(100 * (busy_end - busy) / max(1, total_end - total), 1),
            "cpu_s_per_session": round(cpu_s / len(cycles), 2) if cycles else None,
            "cpu_s_per_session_by_part": cpu.per_session(parts, parts_end, sides.hosts_of(side), len(cycles)),
            "failures": [failure for answer in answers for failure in answer["failures"]],
            "sessions_by_node": {node: after[node] - before.get(node, 0) for node in after},
            "warm": warm_delta(warm_before, warm_counts(sides.fleet)), "warm_refill_wait_s": refilled_s}


def measure(fleet, args, results, cpu):
    sides = Sides(fleet)
    log(f"session starts: {args.starts} per side (+1 warm-up); warm pools full after {wait_pools_full(fleet)} s")
    warm_before = warm_counts(fleet)
    starts = session_starts(sides, args.starts, warmup=1)
    results["session_start_ms"] = {key: compare(values) for key, values in starts.items()}
    results["session_start_ms"]["warm"] = warm_delta(warm_before, warm_counts(fleet))
    sides.settle()
    log(f"command round trips: {args.commands} per side")
    results["command_title_ms"] = compare(command_round_trips(sides, args.commands), digits=3)
    sides.settle()
    log(f"a title at each hop: {args.commands} each")
    results["title_by_hop"] = measure_hops(sides, args.commands)
    sides.settle()
    log(f"fixed rate: {args.arrivals} arrivals per side at {args.rate}/s a side; "
        f"warm pools full after {wait_pools_full(fleet)} s")
    results["fixed_rate_start_ms"] = fixed_rate_starts(sides, args.rate, args.arrivals, args.bot_spacing)
    sides.settle()
    slots = SLOTS_PER_HOST * len(fleet.hosts)
    throughput = {}
    log(f"sessions/s: {slots} bots on the corral pair for {args.duration} s")
    throughput["corral"] = sessions_per_second(sides, cpu, "corral", slots, args.duration)
    sides.settle()
    if args.plain_throughput:
        log(f"sessions/s: {slots} bots on the plain pair for {args.duration} s")
        throughput["plain"] = sessions_per_second(sides, cpu, "plain", slots, args.duration)
        sides.settle()
        throughput["ratio"] = ratio(throughput["corral"]["sessions_per_s"], throughput["plain"]["sessions_per_s"])
        throughput["cpu_s_per_session_ratio"] = ratio(throughput["corral"]["cpu_s_per_session"],
                                                      throughput["plain"]["cpu_s_per_session"])
        hosts = [(throughput[side]["cpu_s_per_session_by_part"] or {}).get("hosts") for side in ("corral", "plain")]
        throughput["hosts_cpu_s_per_session_ratio"] = ratio(*hosts)
    results["throughput"] = throughput
    results["routing_checked"] = dict(sides.routed)  # every session opened for a timing


def summary_line(results):
    s, c, t = results["session_start_ms"]["start"], results["command_title_ms"], results["throughput"]
    f = results["fixed_rate_start_ms"]["start_ms"]
    plain = t.get("plain", {}).get("sessions_per_s", "not measured")
    plain_cpu = t.get("plain", {}).get("cpu_s_per_session", "not measured")
    warm = results["fixed_rate_start_ms"]["warm"]
    return (f"start {s['corral']} vs {s['plain']} ms ({s['ratio']}x), at a fixed rate p50 {f['corral']['p50']} vs "
            f"{f['plain']['p50']} ms ({f['ratio_p50']}x), p99 {f['corral']['p99']} vs {f['plain']['p99']} ms "
            f"({f['ratio_p99']}x), warm hits/misses {warm and (warm['hits'], warm['misses'])}; "
            f"title {c['corral']} vs {c['plain']} ms ({c['ratio']}x, +{c['added']} ms), "
            f"sessions/s {t['corral']['sessions_per_s']} vs {plain}, "
            f"CPU s/session {t['corral']['cpu_s_per_session']} vs {plain_cpu}")


def run(args):
    info = machine.describe(ROOT)
    info["mode"] = ("grid-warm" if args.warm else "grid") + ("-quick" if args.quick else "")
    info["started"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    counts = {"starts": args.starts, "commands": args.commands, "duration_s": args.duration,
              "slots_per_host": SLOTS_PER_HOST, "plain_throughput": args.plain_throughput,
              "warm_chromedriver_per_host": args.warm, "rate_per_side_per_s": args.rate,
              "arrivals_per_side": args.arrivals, "bot_spacing_s": args.bot_spacing}
    results = {"machine": info, "corrald": corrald_binary(), "counts": counts}
    before = tmp_snapshot()
    log(f"fleet up: hub, corral hosts a b, plain hosts; load {info['loadavg_start']}")
    fleet, cpu = fleet_for(args), None
    try:
        with fleet:
            results["fleet"] = {"corral_nodes": [h.node.uri for h in fleet.hosts.values()],
                                "plain_nodes": [h.node.uri for h in fleet.plain_hosts.values()]}
            cpu = HostCpu(fleet)
            measure(fleet, args, results, cpu)
            servers = [fleet.hub.server, *(host.node.server for host in fleet.all_hosts())]
    finally:
        if cpu:
            cpu.remove()  # once the fleet's JVMs are gone
    info["loadavg_end"] = machine.loadavg()
    results["after"] = leftovers(fleet, servers, before, cgroups=[cpu.root])
    log(summary_line(results))
    print(json.dumps(results, indent=2))
    if args.save:
        log(f"results: {os.path.relpath(report.save(results, os.path.join(BENCH, 'results')), ROOT)}")
    return 0 if results["after"]["clean"] else 1


def flatten(tree, prefix=""):
    """{"a/b/c": number} of every number in nested dicts."""
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}/{key}" if prefix else key))
        return out
    return {prefix: tree} if isinstance(tree, (int, float)) and not isinstance(tree, bool) else {}


def across(paths):
    """Every figure of kept runs: its median over them (min - max)."""
    runs = []
    for path in paths:
        with open(path) as f:
            runs.append(json.load(f))
    figures = {}
    for run_ in runs:
        picked = {key: run_.get(key) for key in ("session_start_ms", "fixed_rate_start_ms", "command_title_ms",
                                                 "title_by_hop", "throughput")}
        for name, value in flatten(picked).items():
            figures.setdefault(name, []).append(value)
    for r in runs:
        m = r["machine"]
        print(f"# {m['started']} {m['commit']}, load {m['loadavg_start']} -> {m.get('loadavg_end')}")
    width = max(map(len, figures))
    for name, values in figures.items():
        print(f"{name:{width}}  {statistics.median(values):g}  ({min(values):g} - {max(values):g})")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run: {QUICK['starts']} starts, {QUICK['commands']} commands, "
                             f"{QUICK['duration']} s of sessions/s")
    parser.add_argument("--starts", type=int, default=10, help="measured session starts per side (default 10)")
    parser.add_argument("--commands", type=int, default=300, help="title round trips per side (default 300)")
    parser.add_argument("--duration", type=int, default=60, help="seconds of each sessions/s run (default 60)")
    parser.add_argument("--warm", type=int, default=WARM_DEFAULT, metavar="N",
                        help=f"corrald --warm chromedriver=N on each corral host (default {WARM_DEFAULT}; 0: none)")
    parser.add_argument("--rate", type=float, default=0.5,
                        help="fixed arrival rate, sessions/s a side, below saturation (default 0.5)")
    parser.add_argument("--arrivals", type=int, default=200, help="fixed-rate arrivals per side (default 200)")
    parser.add_argument("--bot-spacing", type=float, default=8.0, metavar="S",
                        help="seconds between one bot's fixed-rate arrivals: bots a side = rate x S (default 8)")
    parser.add_argument("--no-plain-throughput", dest="plain_throughput", action="store_false",
                        help="sessions/s of the corral pair only (no second plain host)")
    parser.add_argument("--no-save", dest="save", action="store_false", help="keep no copy in bench/results/")
    parser.add_argument("--across", nargs="+", metavar="RUN.json", help="summarize kept runs instead")
    args = parser.parse_args()
    if args.across:
        return across(args.across)
    if os.geteuid() != 0:
        parser.error("run as root: network namespaces, cgroups, the session users")
    if args.quick:
        for key, value in QUICK.items():
            if parser.get_default(key) == getattr(args, key):
                setattr(args, key, value)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
