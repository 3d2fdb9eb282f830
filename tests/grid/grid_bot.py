#!/usr/bin/env python3
"""A Selenium bot that talks only to the Grid (Debian's python3-selenium,
webdriver.Remote at the hub), driven by a test one JSON line at a time.

  grid_bot.py HUB_URL CAPABILITIES_JSON

It opens a session and prints {"ok": true, "session_id", "capabilities"} or
{"ok": false, "exception", "message"}; then for each line {"do": ...} on
stdin it prints one answer:
  {"do": "get", "url": U}   -> {"ok", "title"}
  {"do": "title"}           -> {"ok", "title"}
  {"do": "cdp", "expression": E} -> {"ok", "value"}  (execute_cdp_cmd Runtime.evaluate)
  {"do": "quit"}            -> {"ok"} and exits
A WebDriverException becomes {"ok": false, "exception": name, "message": ...}."""
import json
import sys

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chromium.remote_connection import ChromiumRemoteConnection
from selenium.webdriver.chromium.webdriver import ChromiumDriver


def open_session(hub, capabilities):
    options = webdriver.ChromeOptions()
    options.add_argument("--headless=new")
    for name, value in capabilities.items():
        options.set_capability(name, value)
    # Chrome's own commands (goog/cdp/execute) need the Chromium executor.
    executor = ChromiumRemoteConnection(hub, vendor_prefix="goog", browser_name="chrome")
    return webdriver.Remote(command_executor=executor, options=options)


def execute_cdp_cmd(driver, cmd, params):
    """Selenium's own execute_cdp_cmd, which webdriver.Remote lacks (it is
    ChromiumDriver's): it needs only the Chromium executor's command."""
    return ChromiumDriver.execute_cdp_cmd(driver, cmd, params)


def serve(driver, command):
    if command["do"] == "get":
        driver.get(command["url"])
        return {"title": driver.title}
    if command["do"] == "title":
        return {"title": driver.title}
    if command["do"] == "cdp":
        evaluated = execute_cdp_cmd(driver, "Runtime.evaluate", {"expression": command["expression"], "returnByValue": True})
        return {"value": evaluated["result"]["value"]}
    if command["do"] == "quit":
        driver.quit()
        return {}
    raise ValueError(f"unknown command {command['do']}")


def failure(exception):
    return {"ok": False, "exception": type(exception).__name__, "message": (getattr(exception, "msg", None)
                                                                             or str(exception))[:2000]}


def main(argv):
    hub, capabilities = argv[1], json.loads(argv[2])
    try:
        driver = open_session(hub, capabilities)
    except WebDriverException as e:
        print(json.dumps(failure(e)), flush=True)
        return 1
    print(json.dumps({"ok": True, "session_id": driver.session_id, "capabilities": driver.capabilities}),
          flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        try:
            answer = {"ok": True, **serve(driver, command)}
        except WebDriverException as e:
            answer = failure(e)
        print(json.dumps(answer), flush=True)
        if command["do"] == "quit":
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
