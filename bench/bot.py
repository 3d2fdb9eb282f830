#!/usr/bin/python3
"""The Selenium bot every side of the close benchmark runs: open a browser,
load the page, say "ready", then obey the benchmark line by line on stdin:

  check   ask the browser for the page title again (is it still alive?)
  close   end the browser the way this variant does; say when it started
          and when it returned ("the bot's wait")
  exit    leave without closing anything (the bench ends the browser)

Variants:
  seed         ChromeWithProperCleanup (baselines/seed_cleanup.py)
  predecessor  driver.quit() plus a fixed 1 s wait (baselines/predecessor.py)
  corral       a corral chromedriver session (POST /v1/sessions), driven with
               webdriver.Remote; close is DELETE with --close-query
  remote       webdriver.Remote to a chromedriver the bench started itself

It answers with one JSON object per line on stdout. Times are
time.monotonic(), which the bench shares (CLOCK_MONOTONIC is per host).
"""
import argparse
import http.client
import json
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.remote.remote_connection import RemoteConnection  # noqa: E402

from common.chrome import BOT_FLAGS, CHROMIUM  # noqa: E402


COMMAND_TIMEOUT_S = 30


def say(event, **fields):
    print(json.dumps({"event": event, "t": time.monotonic(), **fields}), flush=True)


def chrome_options():
    options = Options()
    options.binary_location = CHROMIUM
    for flag in BOT_FLAGS:
        options.add_argument(flag)
    return options


class CorralClient:
    """Just enough HTTP for the bot's side of corral's API."""

    def __init__(self, port):
        self.port = port

    def call(self, method, path, body=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        connection.request(method, path, body=json.dumps(body) if body is not None else None,
                           headers={"Content-Type": "application/json"} if body is not None else {})
        response = connection.getresponse()
        raw = response.read()
        connection.close()
        return response.status, json.loads(raw or b"null")


def open_seed(args):
    from baselines.seed_cleanup import ChromeWithProperCleanup
    manager = ChromeWithProperCleanup(chrome_options(), headless=True, cleanup_timeout=5)
    driver = manager.__enter__()

    def close():
        manager.__exit__(None, None, None)
        return {"tracked": len(manager.spawned_pids), "verified_clean": manager.verified_clean}
    return driver, close, {"tracked_pids": sorted(manager.spawned_pids)}


def open_predecessor(args):
    from baselines.predecessor import ChromeWithFullCleanup
    manager = ChromeWithFullCleanup(chrome_options())
    driver = manager.__enter__()

    def close():
        manager.__exit__(None, None, None)
        return {}
    return driver, close, {}


def open_corral(args):
    client = CorralClient(args.corral_port)
    status, session = client.call("POST", "/v1/sessions",
                                  {"kind": "chromedriver", "idle_timeout": args.idle_timeout})
    if status != 201:
        raise SystemExit(f"open: {status} {session}")
    driver = webdriver.Remote(command_executor=session["webdriver"], options=chrome_options())
    path = f"/v1/sessions/{session['id']}"

    def close():
        status, reply = client.call("DELETE", path + args.close_query)
        return {"status": status, "reply": reply}

    def keepalive():
        client.call("POST", path + "/keepalive")
    return driver, close, {"id": session["id"], "cgroup": session["cgroup"], "keepalive": keepalive}


def open_remote(args):
    driver = webdriver.Remote(command_executor=args.webdriver, options=chrome_options())
    return driver, None, {}


OPENERS = {"seed": open_seed, "predecessor": open_predecessor, "corral": open_corral, "remote": open_remote}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", choices=sorted(OPENERS), required=True)
    parser.add_argument("--page", required=True)
    parser.add_argument("--corral-port", type=int)
    parser.add_argument("--close-query", default="", help="e.g. ?grace=0 or ?wait=0")
    parser.add_argument("--idle-timeout", default="10s")
    parser.add_argument("--webdriver")
    args = parser.parse_args()

    # A browser killed under its driver can leave a WebDriver call waiting
    # for a long time; the bench wants an answer ("it is gone") instead.
    RemoteConnection.set_timeout(COMMAND_TIMEOUT_S)
    driver, close, info = OPENERS[args.variant](args)
    keepalive = info.pop("keepalive", lambda: None)
    driver.get(args.page)
    keepalive()
    say("ready", title=driver.title, **info)
    for line in sys.stdin:
        command = line.strip()
        keepalive()
        if command == "check":
            try:
                say("check", ok=True, title=driver.title)
            except Exception as failure:  # the browser is gone: that is the answer
                say("check", ok=False, error=str(failure).splitlines()[0][:200])
        elif command == "close":
            say("closing")
            result = close()
            say("closed", **result)
            return
        elif command == "exit":
            return


if __name__ == "__main__":
    main()
