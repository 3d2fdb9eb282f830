#!/usr/bin/env python3
"""A real Selenium (Debian's python3-selenium) bot for corral's tests:
webdriver.Remote with ChromeOptions, get, title, screenshot, a CDP command
through chromedriver's goog/cdp/execute, quit. Prints one JSON line.

  webdriver_client.py SERVER_URL PAGE_URL [--no-quit] [--caps JSON] [--args JSON] [--binary PATH]

--caps: extra capabilities (JSON object) set on the options, e.g. corral:options.
On a WebDriverException it prints {"ok": false, "exception": class name}."""
import json
import sys

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chromium.remote_connection import ChromiumRemoteConnection


def main(argv):
    server, page = argv[1], argv[2]
    extra = json.loads(argv[argv.index("--caps") + 1]) if "--caps" in argv else {}
    args = json.loads(argv[argv.index("--args") + 1]) if "--args" in argv else ["--headless=new", "--no-sandbox"]
    options = webdriver.ChromeOptions()
    for arg in args:
        options.add_argument(arg)
    if "--binary" in argv:
        options.binary_location = argv[argv.index("--binary") + 1]
    for name, value in extra.items():
        options.set_capability(name, value)
    result = {"ok": False}
    try:
        executor = ChromiumRemoteConnection(server, vendor_prefix="goog", browser_name="chrome")
        driver = webdriver.Remote(command_executor=executor, options=options)
        result["session_id"] = driver.session_id
        result["capabilities"] = driver.capabilities
        if page != "-":
            driver.get(page)
            result["title"] = driver.title
            result["screenshot_bytes"] = len(driver.get_screenshot_as_png())
            evaluated = driver.execute("executeCdpCommand", {"cmd": "Runtime.evaluate",
                                                              "params": {"expression": "6 * 7", "returnByValue": True}})
            result["cdp_evaluate"] = evaluated["value"]["result"]["value"]
        if "--no-quit" not in argv:
            driver.quit()
        result["ok"] = True
    except WebDriverException as e:
        result.update(exception=type(e).__name__, message=(e.msg or "")[:500])
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
