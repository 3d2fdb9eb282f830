#!/usr/bin/python3
"""Sessions with networks of their own against sessions on the host's
network (issue 21, "Measured"). Run as root, from the repository:

  PYTHONPATH=tests/harness:tests/e2e CORRALD=build/corrald /usr/bin/python3 bench/network/network_bench.py [--quick]
      [--opens 15] [--downloads 15] [--cdp 500] [--webdriver 200] [--with-pasta] [--with-veth]

Two root corralds at once (cgroupfs, each with its own state dir, cgroup
root and session uid range), one with `--session-network own`, one with
`--session-network shared`; every session the bench opens is checked to be
in a namespace of its own, or in the host's, as its side says. The sides
take turns round by round; every figure is a median of its side's rounds.

1. Open → ready: POST /v1/sessions kind=chrome until its 201, and on until
   corral's relayed /json/version answers (goal: own at most +10 ms; also
   the median of the rounds' own-minus-shared differences).
2. 5 MB from the public test server (tests/e2e/public_host.py: a namespace
   on 198.51.100.0/24 behind a veth pair, a public address to corral's
   policy), fetched by a page of that server in one chrome session per
   side and timed in the page (performance.now() around fetch() and
   arrayBuffer()): the own session's through corrald's way out (SOCKS5),
   the shared session's straight over the host's veth (goal ≤ 1.1×). And
   the way out's CPU: corrald's utime + stime over its side's downloads,
   per MB.
   With --with-pasta, a third side in the same rounds: a Chromium in a
   namespace of the bench's own with pasta as its way out
   (network_pasta.py), the same fetch from the same server, pasta's CPU
   per MB, and how long until the namespace reaches the server.
   With --with-veth, one more side in the same rounds: a Chromium in a
   namespace of the bench's own whose way out is a veth pair the kernel
   forwards (IPv4 forwarding on the bench's two veth ends only), with a
   masquerade and a policy in `table inet corral_bench_veth`
   (network_veth.py): its time, "namespace + veth ready" and its holes.
   Every side's machine CPU (/proc/stat, all cores, softirq apart) over
   its downloads, per MB: the kernel's forwarding has no process to charge
   (meaningful only on an idle machine).
3. CDP round trip through corral: sequential Browser.getVersion on each
   session's page target, µs from send to answer (goal: own no worse).
4. A WebDriver command through corral: GET /session/{id}/title, sequential
   (goal in the issue: ≤ 1.06× direct chromedriver; a session of its own
   has no chromedriver the host can reach, so the baseline is the shared
   session's command through corral, which bench/webdriver compares with
   direct chromedriver).
Prints the figures as JSON and a table, keeps a copy in
bench/results/<start>-network[-quick]-<commit>.json; exits 1 if the run
left a process, namespace, cgroup or state dir behind (2 if it failed)."""
import argparse
import datetime
import json
import os
import shutil
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH)
# corral_harness and public_host come from the PYTHONPATH (tests/harness:tests/e2e: see bench/README.md).
sys.path[:0] = [HERE, BENCH]
os.environ.setdefault("CORRALD", os.path.join(ROOT, "build", "corrald"))
from common import machine  # noqa: E402
import network_measures as measures  # noqa: E402
from network_clients import CdpWorker  # noqa: E402
from network_pages import DOWNLOAD_BYTES, PublicPages  # noqa: E402
from network_pasta import PastaSide  # noqa: E402
from network_sides import SIDES, Sides  # noqa: E402
from network_veth import VethSide  # noqa: E402
import report  # noqa: E402

QUICK = {"opens": 2, "downloads": 3, "cdp": 100, "webdriver": 30}
OPEN_GOAL_MS, DOWNLOAD_GOAL, CDP_GOAL, WEBDRIVER_GOAL = 10, 1.1, 1.0, 1.06


def log(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def measure_pages(sides, pages, args, results, extras=()):
    """One chrome session per side, a tab of each on the public server's
    page, one CDP client on both tabs: the downloads, then the round trips.
    extras (a PastaSide, a VethSide: not yet started): their Chromes take part
    in the downloads."""
    sessions, cdp = {}, None
    try:
        for side in SIDES:
            sessions[side] = sides.open(side)
        cdp = CdpWorker({side: sides.page_target(side, sessions[side], pages.page_url()) for side in SIDES})
        results["cdp_client"] = {k: v for k, v in cdp.hello.items() if k != "ready"}
        for side in SIDES:
            measures.wait_loaded(cdp, side, pages.origin)
        for extra in extras:
            log(f"{extra.label}: a namespace, its way out, a Chromium in it")
            extra.__enter__()
            extra.wait_loaded()
        log(f"5 MB downloads: {args.downloads} per side (+1 warm-up)")
        results["download_5mb_ms"] = measures.downloads(sides, cdp, pages, sessions, args.downloads, extras=extras)
        for extra in extras:
            extra.close()
        log(f"CDP round trips: {args.cdp} per side")
        results["cdp_round_trip_us"] = measures.cdp_round_trips(cdp, args.cdp)
    finally:
        for extra in extras:
            extra.close()
        if cdp:
            cdp.stop()
        for side, session in sessions.items():
            sides.close(side, session)


def measure(sides, pages, args, results, extras):
    log(f"open → ready: {args.opens} per side (+1 warm-up)")
    results["open_ready_ms"] = measures.open_ready(sides, args.opens)
    measure_pages(sides, pages, args, results, extras)
    log(f"WebDriver title: {args.webdriver} per side")
    results["webdriver_title_ms"] = measures.webdriver_commands(sides, args.webdriver)
    results["sessions_checked"] = dict(sides.checked)


def goals(results):
    """Issue 21's goals, met or not, from the medians of this run."""
    opened, got = results["open_ready_ms"]["ready_ms"], results["download_5mb_ms"]
    cdp, wd = results["cdp_round_trip_us"], results["webdriver_title_ms"]
    return [
        {"goal": "open → ready, own vs shared", "target": f"≤ +{OPEN_GOAL_MS} ms",
         "measured": f"{opened['added']:+} ms (rounds' own-minus-shared: median {opened['paired_added']:+} ms)",
         "met": opened["added"] <= OPEN_GOAL_MS},
        {"goal": "5 MB page, own (way out) vs shared (host's network)", "target": f"≤ {DOWNLOAD_GOAL}×",
         "measured": f"{got['ratio']}×", "met": got["ratio"] <= DOWNLOAD_GOAL},
        {"goal": "CDP round trip through corral, own vs shared", "target": "no worse",
         "measured": f"{cdp['added']:+} µs ({cdp['ratio']}×)", "met": cdp["ratio"] <= CDP_GOAL},
        {"goal": "WebDriver title through corral, own vs shared (not direct: see the docstring)",
         "target": f"≤ {WEBDRIVER_GOAL}×", "measured": f"{wd['ratio']}×", "met": wd["ratio"] <= WEBDRIVER_GOAL},
    ]


def table(results):
    o, c = results["open_ready_ms"], results["download_5mb_ms"]
    p, w = results["cdp_round_trip_us"], results["webdriver_title_ms"]
    cpu = c["corrald_cpu"]["ms_per_mb"]
    rows = [("", "own", "shared", "added", "ratio"),
            ("open → 201 (ms)", o["created_ms"]["own"], o["created_ms"]["shared"], o["created_ms"]["added"],
             o["created_ms"]["ratio"]),
            ("open → ready (ms)", o["ready_ms"]["own"], o["ready_ms"]["shared"], o["ready_ms"]["added"],
             o["ready_ms"]["ratio"]),
            ("· 201 → /json/version (ms)", o["json_version_ms"]["own"], o["json_version_ms"]["shared"],
             o["json_version_ms"]["added"], o["json_version_ms"]["ratio"]),
            ("5 MB fetch (ms)", c["own"], c["shared"], c["added"], c["ratio"]),
            ("5 MB fetch (MB/s)", c["mb_per_s"]["own"], c["mb_per_s"]["shared"], "", ""),
            ("corrald CPU (ms/MB)", cpu["own"], cpu["shared"], c["corrald_cpu"]["way_out_ms_per_mb"], ""),
            ("CDP getVersion (µs)", p["own"], p["shared"], p["added"], p["ratio"]),
            ("WebDriver title (ms)", w["own"], w["shared"], w["added"], w["ratio"])]
    rows += extra_rows(c)
    widths = [max(len(str(row[i])) for row in rows) for i in range(5)]
    lines = ["  ".join(str(cell).rjust(widths[i]) if i else str(cell).ljust(widths[i]) for i, cell in enumerate(row))
             for row in rows]
    for goal in results["goals"]:
        lines.append(f"{'met' if goal['met'] else 'NOT met'}: {goal['goal']}: {goal['measured']} (goal {goal['target']})")
    return "\n".join(lines)


def extra_rows(c):
    """The table's rows of the pasta and veth sides, and every side's machine CPU."""
    rows = []
    if "pasta" in c:
        t = c["pasta"]
        rows += [("5 MB fetch, pasta (ms)", t["ms"], c["shared"], "vs own", t["vs_own"]),
                 ("· pasta vs shared", "", "", "", t["vs_shared"]),
                 ("pasta CPU (ms/MB)", t["pasta_cpu_ms_per_mb"], "", "", ""),
                 ("namespace + lo (ms)", t["ready"]["namespace_lo_ms"], "", "", ""),
                 ("namespace + pasta ready (ms)", t["ready"]["pasta_ready_ms"], "", "", "")]
    if "veth" in c:
        v = c["veth"]
        rows += [("5 MB fetch, veth (ms)", v["ms"], c["shared"], "vs own", v["vs_own"]),
                 ("· veth vs shared", "", "", "", v["vs_shared"]),
                 ("namespace + veth ready (ms)", v["ready"]["veth_ready_ms"], "", "", "")]
    for side, busy in c["machine_cpu"]["busy_ms_per_mb"].items():
        rows.append((f"machine CPU, {side} (ms/MB)", busy, "", "softirq", c["machine_cpu"]["softirq_ms_per_mb"][side]))
    return rows


def run(args):
    info = machine.describe(ROOT)
    info["mode"] = "network-quick" if args.quick else "network"
    info["started"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    counts = {"opens": args.opens, "downloads": args.downloads, "download_bytes": DOWNLOAD_BYTES,
              "cdp": args.cdp, "webdriver": args.webdriver}
    results = {"machine": info, "corrald": machine.corrald_binary(), "counts": counts}
    busy, total = machine.cpu_jiffies()
    log(f"two corralds (own, shared) and a public test host; load {info['loadavg_start']}")
    sides, before_stop, extras = None, {}, []
    with PublicPages() as pages:
        try:
            extras = ([PastaSide(pages)] if args.with_pasta else []) + ([VethSide(pages)] if args.with_veth else [])
            # The kernel way out (the default) leaves by the public host's veth, as the internet's uplink here.
            own_extra = ["--session-way-out", args.own_way_out] + (
                ["--session-way-out-uplink", pages.host.host_link] if args.own_way_out == "kernel" else [])
            results["own_way_out"] = args.own_way_out
            sides = Sides(own_extra)
            measure(sides, pages, args, results, extras)
            results["goals"] = goals(results)
            before_stop = sides.leftovers_before_stop()
        except Exception as failure:  # the daemons still go, and what they left is still looked for
            results["failure"] = f"{type(failure).__name__}: {failure}"
            log(f"the run failed: {results['failure']}\n" + traceback.format_exc())
        finally:
            if sides:
                sides.stop()
        results["public_host"] = {"origin": pages.origin, "downloads_served": pages.served}
    busy_end, total_end = machine.cpu_jiffies()
    info["loadavg_end"] = machine.loadavg()
    info["cpu_busy_pct"] = round(100 * (busy_end - busy) / max(1, total_end - total), 1)
    after, reused = sides.leftovers_after_stop() if sides else ({}, [])
    after["public_host"] = pages.leftovers()
    for extra in extras:
        after[extra.label] = extra.leftovers()
    clean = not any(after.values()) and not any(v for left in before_stop.values() for v in left.values())
    results["after"] = {"clean": clean, "daemons_with_sessions_closed": before_stop, "after_stop": after,
                        "namespace_numbers_reused_by_others": reused}
    print(json.dumps(results, indent=2))
    if not clean:
        log(f"the run left something behind: {json.dumps(results['after'])}")
    if "failure" in results:
        return 2
    print(table(results))
    if args.save:
        log(f"results: {os.path.relpath(report.save(results, os.path.join(BENCH, 'results')), ROOT)}")
    return 0 if clean else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: " + ", ".join(f"{v} {k}" for k, v in QUICK.items()))
    parser.add_argument("--opens", type=int, default=15, help="measured opens per side (default 15)")
    parser.add_argument("--downloads", type=int, default=15, help="5 MB downloads per side (default 15)")
    parser.add_argument("--cdp", type=int, default=500, help="Browser.getVersion per side (default 500)")
    parser.add_argument("--webdriver", type=int, default=200, help="WebDriver titles per side (default 200)")
    parser.add_argument("--with-pasta", action="store_true",
                        help="a third side: a Chromium in a namespace with pasta as its way out (needs passt)")
    parser.add_argument("--with-veth", action="store_true",
                        help="a side whose namespace's way out is a veth pair the kernel forwards, under nftables")
    parser.add_argument("--own-way-out", choices=("kernel", "relay"), default="kernel",
                        help="the own corrald's --session-way-out (default kernel, corrald's own default where "
                             "it can be; relay: the egress relay, docs/network.md)")
    parser.add_argument("--no-save", dest="save", action="store_false", help="keep no copy in bench/results/")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run as root: network namespaces, cgroups, the session uids")
    if args.with_pasta and not shutil.which("pasta"):
        parser.error("--with-pasta needs pasta (apt-get install passt)")
    if args.with_veth and not shutil.which("nft"):
        parser.error("--with-veth needs nft (apt-get install nftables)")
    if args.quick:
        for key, value in QUICK.items():
            if parser.get_default(key) == getattr(args, key):
                setattr(args, key, value)
    # A SIGTERM ends the run through its finally blocks: the daemons, their
    # sessions and the public host are removed as after an error.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
