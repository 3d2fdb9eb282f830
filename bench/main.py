#!/usr/bin/python3
"""corral's benchmarks (issue 12), side by side in one run: run through bench/run.

Every measurement runs its variants interleaved, one of each per round with
the order rotating, so that load from other work on the host hits all of
them alike; every figure is a median and every comparison a ratio within
this run. See docs/benchmarks.md for what each measures."""
import argparse
import datetime
import json
import os
import shutil
import signal
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cleanliness  # noqa: E402
import doc  # noqa: E402
import report  # noqa: E402
from common import cgroups, machine  # noqa: E402
from common.chrome import PageServer  # noqa: E402
from common.daemons import ROOT, STUB, Corrald  # noqa: E402
from common.stats import rotated  # noqa: E402
from scenarios import api_crowd, close, devtools_proxy, open_ready, scope_overhead, soak, throughput  # noqa: E402

MODES = {
    # The leak checks with the smallest counts (CI): the figures mean little.
    "smoke": {"normal": 1, "killed": 1, "two": 1, "open": 1, "scope": 2, "throughput": 16,
              "soak": 120, "soak_arena1": 40, "soak_systemd": 40},
    "quick": {"normal": 7, "killed": 1, "two": 1, "open": 9, "scope": 30, "throughput": 200,
              "soak": 1000, "soak_systemd": 200, "cdp_rounds": 9, "cdp_evals": 1000, "shot_rounds": 4, "shots": 3,
              "api_rounds": 9, "api_requests": 200, "api_idle": 1000, "api_trickle": 300},
    "full": {"normal": 15, "killed": 3, "two": 3, "open": 15, "scope": 60, "throughput": 500,
             "soak": 10000, "soak_arena1": 10000, "soak_systemd": 2000, "cdp_rounds": 15, "cdp_evals": 1000,
             "shot_rounds": 6, "shots": 4, "api_rounds": 15, "api_requests": 200, "api_idle": 1000,
             "api_trickle": 300},
}
# --smoke is the leak check: one round of a ratio says nothing, and the
# crowd of 1,000 connections would only make CI's run longer.
DEVTOOLS_SKIPPED = ("skipped in --smoke: it is the leak check, and one round of a latency ratio says nothing; "
                    "run --quick or --full (or --only devtools)")
# The same soak again with one malloc arena: tells glibc's per-thread arenas
# (corrald has ~80 threads) apart from memory corrald itself keeps.
ARENA1 = "cgroupfs, MALLOC_ARENA_MAX=1"
SHARED_UID = "cgroupfs, --session-user corral-session"
# The soak's daemons close a vanished bot's session with this grace instead
# of the default 2 s: corrald's closer thread ends expired sessions one after
# another, and the stub ignores SIGTERM, so each would hold the next for 2 s.
SOAK_GRACE = "100ms"


def log(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def interleaved(rounds, variants, run, label):
    """rounds x every variant, order rotating; one record per run."""
    records = []
    for index in range(rounds):
        for variant in rotated(variants, index):
            record = run(variant)
            record["round"] = index + 1
            records.append(record)
            log(f"{label} round {index + 1} {variant}: " + report.one_line(record))
    return records


class Bench:
    def __init__(self, mode, work):
        self.counts, self.work = MODES[mode], work
        self.cgroups = cgroups.BenchCgroups()
        self.page = PageServer()
        self.systemd = bool(os.environ.get("XDG_RUNTIME_DIR")) and shutil.which("systemd-run")
        self.daemons = []

    def daemon(self, backend, browser=None, extra=(), env=None):
        made = Corrald(backend, browser=browser, extra=extra, env=env)
        self.daemons.append(made)
        return made

    def close_scenarios(self):
        chrome = self.daemon("cgroupfs")
        bench = close.CloseBench(self.cgroups, chrome, self.page)
        return {"normal": interleaved(self.counts["normal"], close.NORMAL_VARIANTS, bench.normal, "close normal"),
                "killed": interleaved(self.counts["killed"], close.KILLED_VARIANTS, bench.killed, "close killed"),
                "two": interleaved(self.counts["two"], close.TWO_VARIANTS, bench.two, "close two bots")}

    def open_ready(self):
        bench = open_ready.OpenReadyBench(self.cgroups, self.daemons[0])
        return interleaved(self.counts["open"], open_ready.VARIANTS, bench.run, "open")

    def stub_daemons(self):
        found = {"cgroupfs": self.daemon("cgroupfs", browser=STUB)}
        if self.systemd:
            found["systemd-user"] = self.daemon("systemd-user", browser=STUB)
        return found

    def shared_uid_daemon(self):
        """cgroupfs with every session as one user, as before session uids: what the uid pool costs."""
        return self.daemon("cgroupfs", browser=STUB, extra=("--session-user", "corral-session"))

    def scope_overhead(self, stubs):
        variants = [v for v in scope_overhead.VARIANTS
                    if self.systemd or v not in ("corral-systemd-user", "systemd-run")]
        bench = scope_overhead.ScopeOverheadBench(stubs)
        return interleaved(self.counts["scope"], variants, bench.run, "scope")

    def throughput(self, stubs):
        records = []
        for level in throughput.LEVELS:
            for backend in stubs:  # the backends alternate at every level
                record = throughput.cycles_per_second(stubs[backend], level, self.counts["throughput"])
                record["backend"] = backend
                records.append(record)
                log(f"throughput {backend} x{level}: {record['cycles_per_s']} cycles/s, "
                    f"{record['failures']} failed")
        return records

    def soak(self):
        script = os.path.join(self.work, "soak-browser.sh")
        with open(script, "w") as f:
            f.write(soak.dispatch_script())
        os.chmod(script, 0o755)
        runs = {}
        # name: (backend, cycles, environment)
        plan = {"cgroupfs": ("cgroupfs", self.counts["soak"], {})}
        if self.counts.get("soak_arena1"):
            plan[ARENA1] = ("cgroupfs", self.counts["soak_arena1"], {"MALLOC_ARENA_MAX": "1"})
        if self.systemd:
            plan["systemd-user"] = ("systemd-user", self.counts["soak_systemd"], {})
        for name, (backend, cycles, env) in plan.items():
            daemon = self.daemon(backend, browser=script, extra=("--grace", SOAK_GRACE), env=env)
            runs[name] = soak.Soak(daemon).run(
                cycles, progress=lambda s, b=name: log(f"soak {b} cycle {s['cycle']}: RSS {s['rss_kib']} KiB, "
                                                          f"fds {s['fds']}, threads {s['threads']}, {s['elapsed_s']} s"))
            log(f"soak {name}: left {runs[name]['left']}, closed {runs[name]['closed_by_reason']}")
            daemon.stop()
            self.daemons.remove(daemon)
        return runs

    def devtools(self):
        """6: a session's DevTools through corral against direct; the API beside a crowd of connections."""
        c = self.counts
        # Chromium as corrald finds it: /usr/bin/chromium, as everywhere here. Shared network: this
        # compares corral's relay with the browser's own port (`devtools.local`), which a session in
        # a network of its own (a root corrald's default since issue 21) does not have: nothing on the
        # host reaches it. bench/network/network_bench.py compares own with shared through corral.
        daemon = self.daemon("cgroupfs", extra=("--session-network", "shared"))
        found = {"fd_limit": api_crowd.raise_fd_limit()}
        cdp = devtools_proxy.DevToolsProxyBench(daemon, c["cdp_evals"], c["shots"])
        try:
            found["client"] = cdp.client()
            found["round_trips"] = interleaved(c["cdp_rounds"], devtools_proxy.VIA, cdp.round_trips, "cdp 1+1")
            found["screenshots"] = interleaved(c["shot_rounds"], devtools_proxy.VIA, cdp.screenshots, "cdp screenshot")
        finally:
            cdp.close()
        crowd = api_crowd.ApiCrowdBench(daemon, c["api_requests"], {"idle": c["api_idle"], "trickle": c["api_trickle"]})
        found["api"] = interleaved(c["api_rounds"], api_crowd.VARIANTS, crowd.run, "api health")
        return found

    def tear_down(self):
        for daemon in self.daemons:
            daemon.stop()
        self.cgroups.remove_all()
        self.page.stop()


def run_issue_12(bench, results):
    """Measurements 1-5."""
    results["close"] = bench.close_scenarios()
    results["open"] = bench.open_ready()
    stubs = bench.stub_daemons()
    results["scope"] = bench.scope_overhead(stubs)
    results["throughput"] = bench.throughput({**stubs, SHARED_UID: bench.shared_uid_daemon()})
    results["soak"] = bench.soak()


def write_doc(results):
    import plots  # matplotlib: only for the page (the smoke mode needs neither)
    plots.draw(results, os.path.join(ROOT, "docs", "benchmarks"))
    doc.write_doc(results, os.path.join(ROOT, "docs", "benchmarks.md"), os.path.join(HERE, "results"))
    log("wrote docs/benchmarks.md")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick", help="a few minutes (default)")
    mode.add_argument("--full", dest="mode", action="store_const", const="full", help="every count of the issue")
    mode.add_argument("--smoke", dest="mode", action="store_const", const="smoke",
                      help="every scenario once, for the leak checks (CI); implies --no-doc")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md and its plots")
    parser.add_argument("--doc-from", metavar="RESULTS_JSON",
                        help="only write docs/benchmarks.md and its plots again from a kept run (after editing notes.md)")
    parser.add_argument("--only", choices=("devtools", "open"),
                        help="only this section (devtools: DevTools through corral, the API beside a crowd; open: "
                        "open -> ready against a bare launch): prints its figures; keeps no record and writes no doc")
    parser.add_argument("--leak-check", action="store_true",
                        help="CI: the quick mode's leak checks only (no timings judged); exit 1 on a leak")
    args = parser.parse_args()
    args.mode = args.mode or "quick"
    args.no_doc = args.no_doc or args.mode == "smoke" or bool(args.only)
    if args.doc_from:
        with open(args.doc_from) as f:
            write_doc(json.load(f))
        return 0
    if os.geteuid() != 0:
        parser.error("run as root (bench/run): cgroups, the session user, namespaces")

    def stop(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)

    started = time.time()
    info = machine.describe(ROOT)
    info["mode"] = args.mode
    info["started"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    before = cleanliness.snapshot()
    log(f"{args.mode} mode on {info['cores']} x {info['cpu']}, kernel {info['kernel']}, {info['chromium']}, "
        f"commit {info['commit']}, load {info['loadavg_start']}")
    work = tempfile.mkdtemp(prefix="corral-bench-work.")
    os.chmod(work, 0o755)
    results = {"machine": info, "counts": MODES[args.mode]}
    bench = Bench(args.mode, work)
    try:
        if not args.only:
            run_issue_12(bench, results)
        if args.only == "open":
            bench.daemon("cgroupfs")  # open_ready's daemon: a root corrald's defaults, sessions in their own network
            results["open"] = bench.open_ready()
        elif args.mode == "smoke":
            log(f"devtools: {DEVTOOLS_SKIPPED}")
            results["devtools"] = {"skipped": DEVTOOLS_SKIPPED}
        else:
            results["devtools"] = bench.devtools()
    finally:
        bench.tear_down()
        shutil.rmtree(work, ignore_errors=True)
    time.sleep(0.3)
    results["after"] = cleanliness.check(before)
    info["loadavg_end"] = machine.loadavg()
    info["minutes"] = round((time.time() - started) / 60, 1)

    if args.only == "open":
        print(report.open_text(results["open"], results["machine"]))
    elif args.only:
        print(report.devtools_text(report.devtools_summary(results["devtools"]), results["machine"]))
    if args.only:
        log(f"after the run: {'CLEAN' if results['after']['clean'] else 'NOT CLEAN'} {results['after']['left']}")
        return 0 if results["after"]["clean"] else 1
    summary = report.summarize(results)
    results["summary"] = summary
    print(report.text_table(results))
    if args.mode != "smoke":  # smoke figures mean little: keep them out of the record
        path = report.save(results, os.path.join(HERE, "results"))
        log(f"results: {os.path.relpath(path, ROOT)}")
    if not args.no_doc:
        write_doc(results)
    after = results["after"]
    log(f"after the run: {'CLEAN' if after['clean'] else 'NOT CLEAN'} {after['left'] if not after['clean'] else ''}")
    if args.leak_check:
        return 0 if after["clean"] and report.corral_left_nothing(summary) and report.soak_failed_nothing(summary) else 1
    return 0 if after["clean"] else 1


if __name__ == "__main__":
    sys.exit(main())
