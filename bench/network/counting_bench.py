#!/usr/bin/python3
"""What counting and capping a session's bytes costs on a 100 MB download
(issue 22, "Measured": goal ≤ 2 %). Run as root, from the repository:

  PYTHONPATH=tests/harness:tests/e2e CORRALD=build/corrald /usr/bin/python3 bench/network/counting_bench.py
      [--downloads 9] [--megabytes 100]

One root corrald (cgroupfs, --session-network own) and two chrome sessions
in it: "uncapped" (no network_max_bytes) and "capped" (network_max_bytes
1T, which no download reaches, so that every relay turn does the cap's
work: two more relaxed atomic loads, a comparison, a turn length). Both
count: the relay's count is one relaxed atomic add per splice turn (at most
256 KiB), which corral has no build without, so the honest comparison in
one binary is cap against no cap; the count itself is ~400 adds per 100 MB
(figured below beside the measured times).

Each round, each session (in turn, alternating which goes first) opens a
tab on a page of the public test server (tests/e2e/public_host.py: a
namespace on 198.51.100.0/24), which fetches 100 MB of random bytes and
reports the time performance.now() saw around fetch() and arrayBuffer();
corrald's CPU (utime + stime, all threads, in ns) is read around each
download, which runs alone. The first round is a warm-up. Prints JSON and
a table of medians; keeps a copy in bench/results/<start>-counting-<commit>.json."""
import argparse
import datetime
import http.server
import json
import os
import queue
import signal
import statistics
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH)
sys.path[:0] = [HERE, BENCH]
os.environ.setdefault("CORRALD", os.path.join(ROOT, "build", "corrald"))
from common import machine  # noqa: E402
from common.daemons import Corrald  # noqa: E402
from network_sides import cpu_ns, relayed_path  # noqa: E402
from public_host import PublicHost, http_server_on, listening_socket_in  # noqa: E402
import report  # noqa: E402

SIDES = {"uncapped": None, "capped": 1 << 40}
TURN = 256 * 1024  # kTurn in src/egress/egress_connection.cpp
PAGE = """<!doctype html><title>counting bench</title><script>
const start = performance.now();
fetch(decodeURIComponent(location.hash.slice(1)), {cache: 'no-store'})
  .then(r => r.arrayBuffer())
  .then(b => ({ms: performance.now() - start, bytes: b.byteLength}), e => ({failed: e.message}))
  .then(result => fetch('/report', {method: 'POST', body: JSON.stringify(result)}));
</script>"""


def log(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


class Server:
    """The page, N random bytes at /bytes?n=N, and the pages' reports."""

    def __init__(self, host):
        block = os.urandom(1 << 20)
        reports = self.reports = queue.Queue()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path, _, query = self.path.partition("?")
                if path != "/bytes":
                    return self.answer(PAGE.encode(), "text/html")
                length = int(urllib.parse.parse_qs(query)["n"][0])
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(length))
                self.end_headers()
                for offset in range(0, length, len(block)):
                    self.wfile.write(block[:min(len(block), length - offset)])

            def do_POST(self):
                reports.put(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.answer(b"", "text/plain")

            def answer(self, body, kind):
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http_server_on(listening_socket_in(host.name, host.client_address), Handler)
        self.origin = f"http://{host.client_address}:{self.server.server_port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def one_download(daemon, session, server, length, index):
    """(page ms, corrald CPU ms) of one download of `length` bytes, alone."""
    target = f"{server.origin}/bytes?n={length}&round={index}"
    page = f"{server.origin}/#" + urllib.parse.quote(target)
    before = cpu_ns(daemon.process.pid)
    status, tab = daemon.request("PUT", relayed_path(session, "/json/new?" + page))
    if status != 200:
        raise RuntimeError(f"/json/new answered {status} {tab}")
    result = server.reports.get(timeout=300)
    cpu_ms = (cpu_ns(daemon.process.pid) - before) / 1e6
    daemon.request("GET", relayed_path(session, f"/json/close/{tab['id']}"))
    if result.get("bytes") != length:
        raise RuntimeError(f"the page got {result}")
    return result["ms"], cpu_ms


def measure(daemon, sessions, server, args):
    length = args.megabytes * 1_000_000
    times = {side: {"page_ms": [], "corrald_cpu_ms": []} for side in SIDES}
    for index in range(args.downloads + 1):
        order = list(SIDES) if index % 2 == 0 else list(reversed(SIDES))
        for side in order:
            page_ms, cpu_ms = one_download(daemon, sessions[side], server, length, index)
            if index == 0:
                continue  # the warm-up
            times[side]["page_ms"].append(round(page_ms, 1))
            times[side]["corrald_cpu_ms"].append(round(cpu_ms, 1))
        log(f"round {index}: " + ", ".join(f"{s} {times[s]['page_ms'][-1:]} ms" for s in SIDES))
    return times


def figures(times, sessions_counted, args):
    medians = {side: {key: statistics.median(values) for key, values in measured.items()}
               for side, measured in times.items()}
    ratio = {key: round(medians["capped"][key] / medians["uncapped"][key], 3) for key in ("page_ms", "corrald_cpu_ms")}
    turns = args.megabytes * 1_000_000 / TURN
    return {"medians": medians, "capped_over_uncapped": ratio, "turns_per_download_at_least": round(turns),
            "samples": times, "counted": sessions_counted}


def table(result):
    m, r = result["medians"], result["capped_over_uncapped"]
    lines = [f"{'':10} {'page ms':>9} {'MB/s':>7} {'corrald CPU ms':>15}"]
    for side in SIDES:
        mbps = result["megabytes"] / (m[side]["page_ms"] / 1000)
        lines.append(f"{side:10} {m[side]['page_ms']:9.1f} {mbps:7.1f} {m[side]['corrald_cpu_ms']:15.1f}")
    lines.append(f"{'capped/un':10} {r['page_ms']:9.3f} {'':7} {r['corrald_cpu_ms']:15.3f}")
    return "\n".join(lines)


def run(args):
    info = machine.describe(ROOT)
    info["mode"] = "counting"
    info["started"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    busy, total = machine.cpu_jiffies()
    host, server, daemon = PublicHost().__enter__(), None, None
    try:
        server = Server(host)
        daemon = Corrald("cgroupfs", extra=["--session-network", "own"])
        sessions = {}
        for side, cap in SIDES.items():
            body = {"kind": "chrome", **({"network_max_bytes": cap} if cap else {})}
            sessions[side] = daemon.open(body)
            if not sessions[side]["network"]["own"] or sessions[side]["network"]["max_bytes"] != cap:
                raise RuntimeError(f"the {side} session is not what the bench needs: {sessions[side]['network']}")
        times = measure(daemon, sessions, server, args)
        counted = {side: daemon.get(sessions[side]["id"])[1]["stats"]["network_bytes_in"] for side in SIDES}
        for session in sessions.values():
            daemon.request("DELETE", f"/v1/sessions/{session['id']}?grace=0")
    finally:
        if daemon:
            daemon.stop()
        if server:
            server.close()
        host.abandon()
    busy_end, total_end = machine.cpu_jiffies()
    info["loadavg_end"] = machine.loadavg()
    info["cpu_busy_pct"] = round(100 * (busy_end - busy) / max(1, total_end - total), 1)
    result = {"machine": info, "megabytes": args.megabytes, "downloads": args.downloads,
              **figures(times, counted, args)}
    print(json.dumps(result, indent=2))
    print(table(result))
    if args.save:
        log(f"results: {os.path.relpath(report.save(result, os.path.join(BENCH, 'results')), ROOT)}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--downloads", type=int, default=9, help="measured downloads per side (default 9)")
    parser.add_argument("--megabytes", type=int, default=100, help="size of each download, in MB (default 100)")
    parser.add_argument("--no-save", dest="save", action="store_false", help="keep no copy in bench/results/")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run as root: network namespaces, cgroups, the session uids")
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
