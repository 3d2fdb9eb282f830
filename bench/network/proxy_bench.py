#!/usr/bin/python3
"""A 5 MB page through a session's proxy forwarder against the same proxy
used directly (issue 22, "Measured": goal ≤ 1.1×). Run as root, from the
repository:

  PYTHONPATH=tests/harness:tests/e2e CORRALD=build/corrald /usr/bin/python3 bench/network/proxy_bench.py [--quick]
      [--downloads 15] [--https]

On the public test host (tests/e2e/public_host.py: a namespace on
198.51.100.0/24 behind a veth pair) the network bench's server
(network_pages.py: a page, 5 MB of random bytes, every answer ending its
connection) and two Debian tinyproxy instances with the same configuration
but for the credential: one asks for a BasicAuth user and password, one does
not. Chrome cannot send a proxy credential headlessly (no prompt), so the
direct side uses the second. Three sides, each a tab on the server's page
fetching the 5 MB (performance.now() around fetch() and arrayBuffer()), in
rounds that rotate their order, the first a warm-up:

- corral-proxy: a chrome session of a root corrald (cgroupfs,
  --session-network own) opened with "proxy": the credentialed tinyproxy;
  Chrome → corrald's SOCKS5 way out in the session's namespace → HTTP
  CONNECT (with the credential) → tinyproxy → server.
- direct-proxy: the same Chromium binary, started by the bench on the host
  with corral's chrome flags and --proxy-server=http://<tinyproxy without
  credential>; Chrome → tinyproxy (a GET of an absolute URL: Chrome tunnels
  with CONNECT only for https and wss) → server.
- corral-own: a session of the same corrald without a proxy: the way out
  alone (Chrome → SOCKS5 → server), the cost of corral's side without the
  proxy hop.

With --https the server speaks TLS (network_pages.py) and every browser
gets --ignore-certificate-errors: the direct side's Chrome then tunnels
with CONNECT as corral's way out does, so that the two proxy sides differ
only by corral's forwarder. Over http they also differ by what tinyproxy
does (proxying a GET costs it less than tunnelling).

CPU read around each of a side's downloads (utime + stime, all threads, the
process's CPU clock): corrald's on the corral sides, the tinyproxy that side
uses on the proxy sides. Checked: every corral session is in a namespace of
its own, each tinyproxy logged a request for each of its side's downloads
(and the page's load), the proxied session's way out counted every byte.
Prints JSON and a table, keeps a copy in
bench/results/<start>-proxy[-quick]-<commit>.json; exits 1 if the run left
a process, namespace, cgroup or state dir behind (2 if it failed)."""
import argparse
import datetime
import json
import os
import secrets
import signal
import statistics
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH)
sys.path[:0] = [HERE, BENCH]
os.environ.setdefault("CORRALD", os.path.join(ROOT, "build", "corrald"))
from common import machine, procs  # noqa: E402
from common.daemons import Corrald  # noqa: E402
from common.stats import ratio, rotated  # noqa: E402
import network_measures as measures  # noqa: E402
from network_clients import CdpWorker  # noqa: E402
from network_pages import DOWNLOAD_BYTES, PublicPages  # noqa: E402
from network_sides import Sides, network_inode  # noqa: E402
from proxy_sides import DirectChrome, Tinyproxy  # noqa: E402
import report  # noqa: E402

SIDES = ("corral-proxy", "direct-proxy", "corral-own")
AUTH_PORT, OPEN_PORT, USER = 8888, 8889, "bench"
GOAL = 1.1
MB = 1e6


def log(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


class OneCorrald(Sides):
    """network_sides.Sides with one root corrald, --session-network own (side
    "own"): its checks of each session's namespace and of what is left."""

    def __init__(self):
        self.daemons = {"own": Corrald("cgroupfs", extra=["--session-network", "own"])}
        self.host_network = network_inode(os.getpid())
        self.session_networks = set()
        self.checked = {"own": 0}


class Bench:
    """Everything one run makes, each part kept so that close() removes what was made."""

    def __init__(self, pages):
        self.pages = pages
        self.proxies, self.corral, self.direct, self.cdp, self.sessions = {}, None, None, None, {}

    def start(self):
        credential = (USER, "pw-" + secrets.token_hex(12))
        self.proxies["auth"] = Tinyproxy(self.pages.host, AUTH_PORT, credential)
        self.proxies["open"] = Tinyproxy(self.pages.host, OPEN_PORT)
        self.corral = OneCorrald()
        args = self.pages.browser_args()
        self.sessions["corral-proxy"] = self.corral.open("own", {"kind": "chrome", "args": args,
                                                                 "proxy": self.proxies["auth"].url()})
        self.sessions["corral-own"] = self.corral.open("own", {"kind": "chrome", "args": args})
        shown = self.corral.daemons["own"].get(self.sessions["corral-proxy"]["id"])[1]["network"]
        if not shown.get("proxy") or credential[1] in json.dumps(shown):
            raise RuntimeError(f"the proxied session shows no proxy, or its password: {shown}")
        self.direct = DirectChrome(f"http://{self.pages.host.client_address}:{OPEN_PORT}", self.pages.page_url(),
                                   extra_args=args)
        urls = {side: self.corral.page_target("own", self.sessions[side], self.pages.page_url())
                for side in ("corral-proxy", "corral-own")}
        urls["direct-proxy"] = self.direct.page_target()
        self.cdp = CdpWorker(urls)
        for side in SIDES:
            measures.wait_loaded(self.cdp, side, self.pages.origin)

    def cpu(self, side):
        """{what: CPU ns so far} of the processes that carry the side's bytes, Chrome's aside;
        on corral's sides also how often corrald's threads were switched off the CPU."""
        corrald = self.corral.cpu("own")[1]
        switches = procs.context_switches(self.corral.corrald_pid("own"))
        return {"corral-proxy": {"corrald": corrald, "tinyproxy": self.proxies["auth"].cpu_ns(),
                                 "corrald_switches": switches},
                "direct-proxy": {"tinyproxy": self.proxies["open"].cpu_ns()},
                "corral-own": {"corrald": corrald, "corrald_switches": switches}}[side]

    def close(self):
        if self.cdp:
            self.cdp.stop()
        if self.direct:
            self.direct.close()
        for session in self.sessions.values():
            self.corral.close("own", session)
        self.before_stop = self.corral.leftovers_before_stop() if self.corral else {}
        if self.corral:
            self.corral.stop()
        for proxy in self.proxies.values():
            proxy.close()


def downloads(bench, count, warmup=1):
    times = {side: [] for side in SIDES}
    cpu = {side: {} for side in SIDES}
    requests_before = {name: proxy.requests() for name, proxy in bench.proxies.items()}
    egress_before = bench.corral.egress("own", bench.sessions["corral-proxy"])
    for index in range(warmup + count):
        for side in rotated(SIDES, index):
            before = bench.cpu(side)
            elapsed = measures.one_download(bench.cdp, side, bench.pages, f"{index}-{side}")
            after = bench.cpu(side)
            if index >= warmup:
                times[side].append(elapsed)
                for what in before:
                    cpu[side][what] = cpu[side].get(what, 0) + after[what] - before[what]
        log(f"round {index}: " + ", ".join(f"{s} {times[s][-1:]} ms" for s in SIDES))
    total = warmup + count
    requests = {name: proxy.requests() - requests_before[name] for name, proxy in bench.proxies.items()}
    if requests["auth"] < total or requests["open"] < total:
        raise RuntimeError(f"a proxy logged fewer requests than its side's {total} downloads: {requests}")
    egress = measures.counted_in(bench.corral, bench.sessions["corral-proxy"],
                                 egress_before["bytes_in"] + total * DOWNLOAD_BYTES)
    return figures(times, cpu, count * DOWNLOAD_BYTES / MB, requests,
                   {"bytes_in": egress["bytes_in"] - egress_before["bytes_in"],
                    "connections": egress["connections"] - egress_before["connections"],
                    "refused": egress["refused"], "proxy_refused": egress.get("proxy_refused")})


def figures(times, cpu, megabytes, requests, egress):
    ms = {side: round(statistics.median(times[side]), 2) for side in SIDES}
    per_mb = {side: {what: round(ns / 1e6 / megabytes, 3) for what, ns in cpu[side].items() if what != "corrald_switches"}
              for side in SIDES}
    switches = {side: round(cpu[side]["corrald_switches"] / megabytes, 1) for side in SIDES if "corrald_switches" in cpu[side]}
    return {"median_ms": ms,
            "mb_per_s": {side: round(DOWNLOAD_BYTES / MB / (ms[side] / 1000), 1) for side in SIDES},
            "corral_proxy_over_direct_proxy": ratio(ms["corral-proxy"], ms["direct-proxy"]),
            "corral_own_over_direct_proxy": ratio(ms["corral-own"], ms["direct-proxy"]),
            "corral_proxy_over_corral_own": ratio(ms["corral-proxy"], ms["corral-own"]),
            "cpu_ms_per_mb": per_mb,
            "corrald_context_switches_per_mb": switches,
            "forwarder_ms_per_mb": round(per_mb["corral-proxy"]["corrald"] - per_mb["corral-own"]["corrald"], 3),
            "megabytes_per_side": megabytes, "proxy_requests": requests, "proxied_session_egress": egress,
            "samples": times}


def table(result):
    d = result["download_5mb"]
    cpu = d["cpu_ms_per_mb"]
    lines = [f"{'side':14} {'5 MB ms':>9} {'MB/s':>7} {'corrald ms/MB':>14} {'tinyproxy ms/MB':>16}"]
    for side in SIDES:
        lines.append(f"{side:14} {d['median_ms'][side]:9.2f} {d['mb_per_s'][side]:7.1f} "
                     f"{cpu[side].get('corrald', ''):>14} {cpu[side].get('tinyproxy', ''):>16}")
    lines.append(f"corrald context switches per MB: {d['corrald_context_switches_per_mb']}")
    lines.append(f"corral-proxy / direct-proxy: {d['corral_proxy_over_direct_proxy']}× (goal ≤ {GOAL}×)"
                 f"; corral-proxy / corral-own: {d['corral_proxy_over_corral_own']}×")
    return "\n".join(lines)


def leftovers(bench, pages):
    after, reused = bench.corral.leftovers_after_stop() if bench.corral else ({}, [])
    after["public_host"] = pages.leftovers()
    after["tinyproxy"] = [left for proxy in bench.proxies.values() for left in proxy.leftovers()]
    after["direct_chrome"] = bench.direct.leftovers() if bench.direct else []
    before = getattr(bench, "before_stop", {})
    clean = not any(after.values()) and not any(v for left in before.values() for v in left.values())
    return {"clean": clean, "daemon_with_sessions_closed": before, "after_stop": after,
            "namespace_numbers_reused_by_others": reused}


def run(args):
    info = machine.describe(ROOT)
    info["mode"] = ("proxy-quick" if args.quick else "proxy") + ("-https" if args.https else "")
    info["started"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")  # a record a run: seconds too
    results = {"machine": info, "corrald": machine.corrald_binary(),
               "counts": {"downloads": args.downloads, "download_bytes": DOWNLOAD_BYTES}}
    busy, total = machine.cpu_jiffies()
    log(f"a public test host, two tinyproxies, a corrald, a direct chrome; load {info['loadavg_start']}")
    with PublicPages(tls=args.https) as pages:
        bench = Bench(pages)
        try:
            bench.start()
            results["sessions_checked"] = bench.corral.checked["own"]
            log(f"5 MB downloads: {args.downloads} per side (+1 warm-up)")
            results["download_5mb"] = downloads(bench, args.downloads)
        except Exception as failure:  # everything made is still removed, and what is left still looked for
            results["failure"] = f"{type(failure).__name__}: {failure}"
            log(f"the run failed: {results['failure']}\n" + traceback.format_exc())
        finally:
            bench.close()
        results["public_host"] = {"origin": pages.origin, "downloads_served": pages.served}
    busy_end, total_end = machine.cpu_jiffies()
    info["loadavg_end"] = machine.loadavg()
    info["cpu_busy_pct"] = round(100 * (busy_end - busy) / max(1, total_end - total), 1)
    results["after"] = leftovers(bench, pages)
    print(json.dumps(results, indent=2))
    if not results["after"]["clean"]:
        log(f"the run left something behind: {json.dumps(results['after'])}")
    if "failure" in results:
        return 2
    print(table(results))
    if args.save:
        log(f"results: {os.path.relpath(report.save(results, os.path.join(BENCH, 'results')), ROOT)}")
    return 0 if results["after"]["clean"] else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3 downloads a side")
    parser.add_argument("--downloads", type=int, default=15, help="5 MB downloads per side (default 15)")
    parser.add_argument("--https", action="store_true",
                        help="serve the page over TLS, so that every side tunnels through its proxy (CONNECT)")
    parser.add_argument("--no-save", dest="save", action="store_false", help="keep no copy in bench/results/")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run as root: network namespaces, cgroups, the session uids")
    if args.quick and args.downloads == parser.get_default("downloads"):
        args.downloads = 3
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
