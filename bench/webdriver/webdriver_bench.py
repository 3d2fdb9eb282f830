#!/usr/bin/python3
"""What corral's WebDriver endpoint costs a Selenium bot (run as root, from
the repository: PYTHONPATH=tests/harness /usr/bin/python3 bench/webdriver/webdriver_bench.py [--commands 500]
[--starts 5]; --starts 0: the command rounds only).

1. One command, GET /session/{id}/title, through corral and straight to the
   session's own chromedriver (its loopback port and secret base, read from
   its command line: corral hands out neither), interleaved
   one by one, each over a kept-alive connection as Selenium's pool keeps
   it: median latency of each, the added latency and the ratio.
2. New session to first answered command: webdriver.Remote through corral,
   then driver.title, against a local webdriver.Chrome() (chromedriver
   started by Selenium on this host), interleaved; medians and p99. With
   --warm N corrald keeps N warm chromedrivers (--warm chromedriver=N;
   issue 23: goal <= 0.3x local), nobody waiting for the pool between
   starts, and the pool's hits and misses over the starts are reported.
Prints the machine and the figures as JSON."""
import argparse
import http.client
import json
import os
import statistics
import sys
import time

# bench/ for common/; corral_harness comes from the PYTHONPATH (tests/harness: see bench/README.md).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common import machine  # noqa: E402
from common.chrome import CHROMEDRIVER  # noqa: E402
from common.daemons import ROOT, Corrald  # noqa: E402
from common.stats import ratio  # noqa: E402

from corral_harness import chromedriver_of  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402


class KeptAlive:
    """GETs over one connection, opened again when the server closes it;
    base: a path every GET goes under (chromedriver's secret base)."""
    def __init__(self, port, base=""):
        self.port, self.base, self.conn = port, base, None

    def get(self, path):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        start = time.perf_counter()
        self.conn.request("GET", self.base + path, headers={"Accept": "application/json"})
        answer = self.conn.getresponse()
        answer.read()
        elapsed = (time.perf_counter() - start) * 1000  # ms
        if answer.status != 200:
            raise RuntimeError(f"GET {path}: {answer.status}")
        if answer.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return elapsed


def chromedriver_session(port, base):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", base + "/sessions")
    return json.loads(conn.getresponse().read())["value"][0]["id"]


def options():
    chrome = webdriver.ChromeOptions()
    chrome.add_argument("--headless=new")
    return chrome


def command_latency(daemon, count):
    driver = webdriver.Remote(command_executor=f"http://127.0.0.1:{daemon.port}", options=options())
    try:
        driver.get("data:text/html,<title>bench</title>")
        # The session's own chromedriver, under its secret base.
        port, base = chromedriver_of(daemon.request("GET", f"/v1/sessions/{driver.session_id}")[1])
        direct_id = chromedriver_session(port, base)
        through, direct = KeptAlive(daemon.port), KeptAlive(port, base)
        times = {"corral": [], "direct": []}
        for i in range(count):
            pair = [("corral", through, driver.session_id), ("direct", direct, direct_id)]
            for name, client, session_id in (pair if i % 2 == 0 else pair[::-1]):
                times[name].append(client.get(f"/session/{session_id}/title"))
        return times
    finally:
        driver.quit()


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def warm_counts(daemon):
    warm = daemon.request("GET", "/v1/usage")[1].get("warm", {}).get("chromedriver")
    return {key: warm[key] for key in ("hits", "misses", "discarded")} if warm else None


def new_session_to_first_command(daemon, starts):
    times = {"corral": [], "local": []}
    for i in range(starts):
        for name in (("corral", "local") if i % 2 == 0 else ("local", "corral")):
            start = time.perf_counter()
            if name == "corral":
                driver = webdriver.Remote(command_executor=f"http://127.0.0.1:{daemon.port}", options=options())
            else:
                local_options = options()
                local_options.add_argument("--no-sandbox")  # as root, with no session user
                driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=local_options)
            driver.title
            times[name].append((time.perf_counter() - start) * 1000)
            driver.quit()
    return times


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=500)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--backend", default="cgroupfs")
    parser.add_argument("--warm", type=int, default=0, help="warm chromedrivers to keep (--warm chromedriver=N)")
    args = parser.parse_args()
    described = machine.describe(ROOT)
    # The direct side reaches chromedriver's loopback port from the host: a
    # root corrald's sessions have networks of their own unless told otherwise.
    warm = ["--warm", f"chromedriver={args.warm}"] if args.warm else []
    daemon = Corrald(args.backend, extra=["--session-network", "shared", *warm])
    try:
        commands = command_latency(daemon, args.commands)
        pool_before = warm_counts(daemon)
        starts = new_session_to_first_command(daemon, args.starts) if args.starts else None
        pool_after = warm_counts(daemon)
    finally:
        daemon.stop()
    pool = {key: pool_after[key] - pool_before[key] for key in pool_before} if pool_before else None
    ms = lambda values: round(statistics.median(values), 3)  # noqa: E731
    result = {
        "machine": described,
        "command_title_ms": {"corral": ms(commands["corral"]), "direct": ms(commands["direct"]),
                             "added": round(ms(commands["corral"]) - ms(commands["direct"]), 3),
                             "ratio": ratio(ms(commands["corral"]), ms(commands["direct"])),
                             "count": args.commands},
    }
    if starts:
        result["new_session_to_first_command_ms"] = {
            "corral": ms(starts["corral"]), "local": ms(starts["local"]),
            "corral_p99": round(percentile(starts["corral"], 0.99), 1),
            "local_p99": round(percentile(starts["local"], 0.99), 1),
            "ratio": ratio(ms(starts["corral"]), ms(starts["local"])),
            "starts": args.starts, "warm": args.warm, "warm_pool": pool}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
