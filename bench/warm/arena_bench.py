#!/usr/bin/python3
"""BrowserArena's round through corral with a warm pool against a local
puppeteer.launch (issue 23, "Measured": goal <= 0.5x, over 500 rounds so
that refills count). Run as root, from the repository:

  PYTHONPATH=tests/harness:tests/e2e /usr/bin/python3 bench/warm/arena_bench.py [--rounds 500]

The round, as the BrowserArena leaderboard times it: create a browser,
connect, goto a page, release; sequential, one after another, no pause
(docs: ../shared/reference/peers.md). puppeteer-core 25 (tests/clients) in
one Node process (arena_round.mjs) for three sides, their order rotating
each round:

- local: puppeteer.launch of the same Chromium (root, so --no-sandbox),
  goto, browser.close().
- corral-api: a root corrald (cgroupfs, sessions in networks of their own,
  --warm chrome=4): POST /v1/sessions, puppeteer.connect to the session's
  devtools.ws, goto, disconnect, DELETE ?wait=0.
- corral-launch: the same corrald's connect-to-launch (--launch-on-connect):
  puppeteer.connect to ws://corral/devtools/browser, goto, browser.close().

Both corral sides claim from the one pool, which refills in the background
while the rounds go on: nothing waits for it, so a round that finds it empty
starts cold, as a bot's would. The page is the network bench's, on the
public test host (tests/e2e/public_host.py), which the host and every
session reach. Prints p50 and p99 per side and phase, the pool's hits and
misses; keeps a copy in bench/results/<start>-arena-<commit>.json; exits 1
if anything was left behind (a process, cgroup, state or temp dir)."""
import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH)
sys.path[:0] = [HERE, BENCH, os.path.join(BENCH, "network")]
os.environ.setdefault("CORRALD", os.path.join(ROOT, "build", "corrald"))
from common import machine, procs  # noqa: E402
from common.daemons import Corrald  # noqa: E402
from common.stats import ratio, rotated  # noqa: E402
from network_pages import PublicPages  # noqa: E402
import report  # noqa: E402
from warm_bench import left_by  # noqa: E402

POOL = 4
SIDES = ("local", "corral-api", "corral-launch")
GOAL = 0.5
# What corral gives its own sessions' Chrome that a local launch must have
# here too (a closed network; root), beside puppeteer's defaults.
LOCAL_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
              "--disable-domain-reliability", "--disable-client-side-phishing-detection", "--no-first-run"]


def log(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


class RoundClient:
    """arena_round.mjs, one command a line; its temp files (puppeteer's
    profiles) in a directory of its own, removed on close."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="corral-arena-bench.")
        self.process = subprocess.Popen(["node", os.path.join(HERE, "arena_round.mjs")], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": self.tmp})

    def round(self, command):
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline() or '{"error": "arena_round.mjs ended"}')
        if "error" in answer:
            raise RuntimeError(f"{command['side']}: {answer['error']}")
        return answer

    def close(self):
        self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def leftovers(self):
        return ([self.tmp] if os.path.exists(self.tmp) else []) + procs.processes_mentioning(self.tmp)


def commands(daemon, page):
    http = f"http://127.0.0.1:{daemon.port}"
    return {"local": {"side": "local", "page": page, "chromium": shutil.which("chromium") or "/usr/bin/chromium",
                      "args": LOCAL_ARGS},
            "corral-api": {"side": "corral-api", "page": page, "corral": http},
            "corral-launch": {"side": "corral-launch", "page": page, "corral": http.replace("http", "ws", 1)}}


def summary(samples):
    phases = {}
    for phase in ("ms", "create_ms", "connect_ms", "goto_ms", "release_ms"):
        values = [s[phase] for s in samples]
        phases[phase] = {"p50": round(statistics.median(values), 1), "p99": round(percentile(values, 0.99), 1)}
    return phases


def run_rounds(client, daemon, page, rounds):
    sent = commands(daemon, page)
    samples = {side: [] for side in SIDES}
    for side in SIDES:
        client.round(sent[side])  # a warm-up each: Node's and the page's first time
    usage_before = daemon.request("GET", "/v1/usage")[1]["warm"]["chrome"]
    for index in range(rounds):
        for side in rotated(SIDES, index):
            samples[side].append(client.round(sent[side]))
        if (index + 1) % 25 == 0:
            log(f"round {index + 1}: " + ", ".join(f"{s} p50 {statistics.median(x['ms'] for x in samples[s]):.0f} ms"
                                                  for s in SIDES))
    usage = daemon.request("GET", "/v1/usage")[1]["warm"]["chrome"]
    pool = {"hits": usage["hits"] - usage_before["hits"], "misses": usage["misses"] - usage_before["misses"],
            "discarded": usage["discarded"] - usage_before["discarded"], "last_refill_ms": usage["last_refill_ms"]}
    return samples, pool


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--no-save", dest="save", action="store_false", help="keep no copy in bench/results/")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run as root: network namespaces, cgroups, the session uids")
    info = machine.describe(ROOT)
    info.update(mode="arena", started=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"))
    results = {"machine": info, "rounds": args.rounds, "pool": POOL}
    daemon = client = None
    with PublicPages() as pages:
        try:
            daemon = Corrald("cgroupfs", extra=["--session-network", "own", "--warm", f"chrome={POOL}",
                                                "--launch-on-connect"])
            client = RoundClient()
            samples, results["pool_during_rounds"] = run_rounds(client, daemon, pages.page_url(), args.rounds)
            results["round_ms"] = {side: summary(samples[side]) for side in SIDES}
            results["samples_ms"] = {side: [s["ms"] for s in samples[side]] for side in SIDES}
            local = results["round_ms"]["local"]["ms"]["p50"]
            results["over_local"] = {side: ratio(results["round_ms"][side]["ms"]["p50"], local) for side in SIDES[1:]}
        except Exception as failure:  # everything made is still removed, and what is left still looked for
            results["failure"] = f"{type(failure).__name__}: {failure}"
            log(f"the run failed: {results['failure']}")
        finally:
            left = {}
            if client:
                client.close()
                left["client"] = client.leftovers()
            if daemon:
                left["corrald"] = left_by(daemon)
    left["public_host"] = pages.leftovers()  # once the with-block removed it
    results["left"] = left
    info["loadavg_end"] = machine.loadavg()
    print(json.dumps({k: v for k, v in results.items() if k != "samples_ms"}, indent=1))
    if "failure" in results:
        return 2
    for side in SIDES:
        r = results["round_ms"][side]
        print(f"{side:14} round p50 {r['ms']['p50']:7.1f} ms (p99 {r['ms']['p99']:7.1f}); create {r['create_ms']['p50']}, "
              f"connect {r['connect_ms']['p50']}, goto {r['goto_ms']['p50']}, release {r['release_ms']['p50']}")
    print(f"over local (p50): {results['over_local']} (goal <= {GOAL}x); pool: {results['pool_during_rounds']}")
    if args.save:
        log(f"results: {os.path.relpath(report.save(results, os.path.join(BENCH, 'results')), ROOT)}")
    clean = not any(left["client"]) and not any(left["corrald"].values()) and not left["public_host"]
    if not clean:
        log(f"the run left something behind: {json.dumps(left)}")
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
