#!/usr/bin/python3
"""The Selenium bot of bench/grid/grid_bench.py: Debian's python3-selenium talking
only to the Grid's hub, timing itself, driven one JSON line at a time.

  grid_bench_bot.py HUB_URL CAPABILITIES_JSON

It prints {"ready": true} once Selenium is imported (so that no timing
includes Python's start), then answers each line on stdin with one line:
  {"do": "open"}              -> {"ok", "session_id", "remote_ms", "title_ms", "start_ms"}
  {"do": "title"}             -> {"ok", "ms"}           one GET /session/{id}/title
  {"do": "quit"}              -> {"ok", "quit_ms"}
  {"do": "cycles", "until": T, "url": U}
                              -> {"ok", "cycles": [{"end", "ms", "start_ms", "quit_ms"}], "failures"}
     open → get U → quit, again and again until time.monotonic() passes T
     (CLOCK_MONOTONIC: one clock for every process of the machine).
  {"do": "arrivals", "at": [T, ...]}
                              -> {"ok", "starts": [{"at", "late_ms", "remote_ms", "title_ms", "start_ms",
                                                     "quit_ms"}], "failures"}
     at each T (monotonic), or as soon as the session before it has quit
     if that is later (late_ms says by how much): open, first title, quit.
A WebDriverException becomes {"ok": false, "exception", "message"}."""
import json
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import WebDriverException


def ms_since(start):
    return (time.perf_counter() - start) * 1000


class Bot:
    def __init__(self, hub, capabilities):
        self.hub, self.capabilities, self.driver = hub, capabilities, None

    def options(self):
        options = webdriver.ChromeOptions()
        options.add_argument("--headless=new")
        for name, value in self.capabilities.items():
            options.set_capability(name, value)
        return options

    def open(self):
        """What a bot waits for before its first answer: the new session
        through the hub, then its first command."""
        options = self.options()  # built before the clock starts, as a bot's would be
        start = time.perf_counter()
        self.driver = webdriver.Remote(command_executor=self.hub, options=options)
        remote_ms = ms_since(start)
        self.driver.title
        start_ms = ms_since(start)
        return {"session_id": self.driver.session_id, "remote_ms": remote_ms,
                "title_ms": start_ms - remote_ms, "start_ms": start_ms}

    def title(self):
        start = time.perf_counter()
        self.driver.title
        return {"ms": ms_since(start)}

    def quit(self):
        start = time.perf_counter()
        driver, self.driver = self.driver, None
        driver.quit()
        return {"quit_ms": ms_since(start)}

    def cycles(self, until, url):
        """Sessions one after another, as a crawler's worker runs them; a
        failed one is recorded and the loop goes on."""
        done, failures = [], []
        while time.monotonic() < until:
            start = time.perf_counter()
            try:
                opened = self.open()
                self.driver.get(url)
                closed = self.quit()
                done.append({"end": time.monotonic(), "ms": ms_since(start), "start_ms": opened["start_ms"],
                             "quit_ms": closed["quit_ms"]})
            except WebDriverException as e:
                failures.append({"at": time.monotonic(), **failure(e)})
                self.abandon()
        return {"cycles": done, "failures": failures}

    def arrivals(self, times):
        """An open-loop schedule's share of this bot: each start at its time,
        whether or not the sessions of the other bots have ended."""
        starts, failures = [], []
        for at in times:
            time.sleep(max(0.0, at - time.monotonic()))
            late_ms = max(0.0, (time.monotonic() - at) * 1000)
            try:
                opened = self.open()
                closed = self.quit()
                starts.append({"at": at, "late_ms": late_ms, **opened, **closed})
            except WebDriverException as e:
                failures.append({"at": at, **failure(e)})
                self.abandon()
        return {"starts": starts, "failures": failures}

    def abandon(self):
        if self.driver is not None:
            try:
                self.driver.quit()
            except WebDriverException:
                pass
            self.driver = None

    def serve(self, command):
        if command["do"] == "cycles":
            return self.cycles(command["until"], command["url"])
        if command["do"] == "arrivals":
            return self.arrivals(command["at"])
        return {"open": self.open, "title": self.title, "quit": self.quit}[command["do"]]()


def failure(exception):
    return {"ok": False, "exception": type(exception).__name__,
            "message": (getattr(exception, "msg", None) or str(exception))[:1000]}


def main(argv):
    bot = Bot(argv[1], json.loads(argv[2]))
    print(json.dumps({"ready": True}), flush=True)
    try:
        for line in sys.stdin:
            try:
                answer = {"ok": True, **bot.serve(json.loads(line))}
            except WebDriverException as e:
                answer = failure(e)
            print(json.dumps(answer), flush=True)
    finally:
        bot.abandon()  # stdin closed with a session open: quit it, leave the slot free
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
