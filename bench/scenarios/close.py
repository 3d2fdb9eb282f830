"""Measurement 1: close -> nothing left, real Chromium driven by the same
Selenium bot on every side, timed from outside.

Scenarios, each run for every variant, interleaved round by round:
  normal   the bot closes as it does (the seed: leaving its `with` block;
           corral: one DELETE); timed from the bot's "closing" until the
           bench sees no process of the session, polling every 5 ms.
  killed   the bot is SIGKILLed instead: nobody closes anything. corral
           reaps the session when its idle timeout runs out; the seed's
           cleanup never runs.
  two      two bots of the same variant at once, the second started 0.3 s
           after the first; the first closes; is the second's browser
           still there?
"""
import threading
import time

from common import procs
from common.bot_host import BotHost
from scenarios.sides import IDLE_TIMEOUT, BaselineSide, CorralSide, KernelSide

NORMAL_VARIANTS = ("corral-forced", "corral-graceful", "corral-nowait", "seed", "predecessor", "kernel")
KILLED_VARIANTS = ("corral", "seed", "predecessor")
TWO_VARIANTS = ("corral-forced", "corral-graceful", "seed", "predecessor")
POLL_S = 0.005
GONE_TIMEOUT = 20.0
LEFTOVER_AFTER_S = 1.0  # leftovers are counted this long after the close began (normal, two)
ABANDONED_WINDOW_S = 5.0  # how long the bench watches a baseline whose bot was killed
SECOND_BOT_DELAY_S = 0.3


class CloseBench:
    def __init__(self, bench_cgroups, corral, page):
        self.cgroups, self.corral, self.page = bench_cgroups, corral, page

    # --- making sides ----------------------------------------------------------
    def _host(self, variant):
        return BotHost(self.cgroups, variant) if variant in ("seed", "predecessor") else None

    def _side(self, variant, host):
        if variant == "kernel":
            return KernelSide(self.cgroups, self.page.url)
        if host:
            return BaselineSide(host, self.cgroups, variant, self.page.url)
        return CorralSide(self.corral, variant, self.page.url)

    # --- the scenarios -----------------------------------------------------------
    def normal(self, variant):
        host = self._host(variant)
        side = None
        try:
            side = self._side(variant, host)
            side.wait_ready()
            return self._close_and_watch(side, variant)
        finally:
            self._finish(side, host)

    def killed(self, variant):
        host = self._host(variant)
        side = None
        try:
            side = self._side("corral-forced" if variant == "corral" else variant, host)
            side.wait_ready()
            at_kill = side.snapshot()
            killed_at = time.monotonic()
            side.bot.kill()
            window = GONE_TIMEOUT + seconds(IDLE_TIMEOUT) if variant == "corral" else ABANDONED_WINDOW_S
            gone_ms = wait_gone(side, killed_at, window)
            if variant == "corral":
                side.settle()
            left = side.members()
            record = {"scenario": "killed", "variant": variant, "processes_at_kill": at_kill,
                      "gone_ms": gone_ms, "watched_s": window,
                      "left_processes": len(left), "left_comms": sorted(procs.comm(p) for p in left),
                      "left_dirs": len(side.dirs_left()), "left_dir_names": side.dirs_left()}
            if variant == "corral":
                record["report"] = side.report()
            return record
        finally:
            self._finish(side, host)

    def two(self, variant):
        host = self._host(variant)
        first = second = None
        try:
            first = self._side(variant, host)
            time.sleep(SECOND_BOT_DELAY_S)
            second = self._side(variant, host)
            first.wait_ready()
            second.wait_ready()
            second.snapshot()
            record = self._close_and_watch(first, variant, scenario="two")
            second.bot.send("check")
            check = second.bot.expect("check", timeout=120)
            record["neighbour_alive"] = check["ok"]
            record["neighbour_error"] = check.get("error")
            record["first_tracked"] = len(first.bot.events[0].get("tracked_pids", []))
            record["second_processes"] = second.snapshot()
            second.bot.send("close")
            second.bot.expect("closing")
            closed_at = time.monotonic()
            second.bot.expect("closed", timeout=120)
            second.bot.reap()
            wait_gone(second, closed_at, GONE_TIMEOUT)
            time.sleep(LEFTOVER_AFTER_S)
            left = first.members() | second.members()
            dirs = set(first.dirs_left()) | set(second.dirs_left())
            record.update({"left_processes": len(left), "left_dirs": len(dirs), "left_dir_names": sorted(dirs)})
            return record
        finally:
            self._finish(second, None)
            self._finish(first, host)

    # --- shared steps --------------------------------------------------------------
    def _close_and_watch(self, side, variant, scenario="normal"):
        """Close, time until nothing of the session is left, count what is left."""
        at_close = side.snapshot()
        if variant == "kernel":
            closing_t = time.monotonic()
            # The bench watches for "gone" while the kernel tears down, as it
            # does during every other close: the same load on both.
            watch = {}
            watcher = threading.Thread(target=lambda: watch.update(ms=wait_gone(side, closing_t, GONE_TIMEOUT)))
            watcher.start()
            teardown_ms = side.teardown_ms()
            watcher.join()
            wait_ms = round(teardown_ms, 1) if teardown_ms is not None else None
            gone_ms = watch["ms"]
        else:
            side.bot.send("close")
            closing_t = side.bot.expect("closing")["t"]
            gone_ms = wait_gone(side, closing_t, GONE_TIMEOUT)
        if variant == "kernel":
            side.bot.send("exit")
            closed = {}
        else:
            closed = side.bot.expect("closed", timeout=120)
            wait_ms = round((closed["t"] - closing_t) * 1000, 1)
        side.bot.reap()
        if variant.startswith("corral"):
            side.settle()
        rest = closing_t + LEFTOVER_AFTER_S - time.monotonic()
        if rest > 0 and scenario == "normal":
            time.sleep(rest)
        left = side.members() if scenario == "normal" else set()
        record = {"scenario": scenario, "variant": variant, "processes_at_close": at_close,
                  "bot_wait_ms": wait_ms, "gone_ms": gone_ms,
                  "left_processes": len(left), "left_comms": sorted(procs.comm(p) for p in left),
                  "left_dirs": len(side.dirs_left()) if scenario == "normal" else None,
                  "left_dir_names": side.dirs_left() if scenario == "normal" else None}
        if variant.startswith("corral"):
            reply = closed.get("reply") or {}
            record["http_status"] = closed.get("status")
            record["report"] = reply if closed.get("status") == 200 else side.report()
        if variant == "seed":
            record["seed_tracked"] = closed.get("tracked")
            record["seed_verified_clean"] = closed.get("verified_clean")
        return record

    def _finish(self, side, host):
        """Whatever the run did, leave nothing: the bench cleans up after every baseline that leaks."""
        if side is not None:
            if side.bot.process.poll() is None:
                side.bot.kill()
            side.sweep()
        if host is not None:
            host.close()


def wait_gone(side, since, timeout):
    """ms from `since` until no member of the side is alive; None if that did not happen within timeout."""
    deadline = since + timeout
    while time.monotonic() < deadline:
        if not side.members():
            return round((time.monotonic() - since) * 1000, 1)
        time.sleep(POLL_S)
    return None


def seconds(text):
    return float(text.rstrip("s"))
