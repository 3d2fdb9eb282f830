"""The network bench's two protocol clients: CDP (network_cdp.mjs, Node and
`ws`, one process holding a WebSocket to each session) and WebDriver (raw
HTTP over one kept-alive connection per session, as Selenium's pool keeps
it: no client library between the clock and the wire)."""
import http.client
import json
import os
import time

from common.line_client import LineClient

CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "network_cdp.mjs")


class CdpWorker(LineClient):
    """network_cdp.mjs: one JSON command a line in, one JSON answer a line out.
    urls: {name: the page target's WebSocket URL through corral}; prefix:
    what to run it under (`ip netns exec NAME` for a Chrome in a namespace)."""

    def __init__(self, urls, prefix=()):
        super().__init__(CLIENT, [f"{name}={url}" for name, url in urls.items()], prefix=prefix)

    def ask(self, timeout=120, **command):
        return super().ask(timeout, **command)

    def calls(self, via, method, count):
        return self.ask(op="calls", via=via, method=method, count=count)["times_us"]

    def evaluate(self, via, expression, timeout=120):
        return self.ask(op="evaluate", via=via, expression=expression, timeout=timeout)["value"]


class WebDriverClient:
    """A W3C WebDriver session through corrald's WebDriver endpoint (its API
    port), driven over one kept-alive connection, opened again when the
    server closes it."""

    CAPABILITIES = {"capabilities": {"alwaysMatch": {
        "browserName": "chrome", "goog:chromeOptions": {"args": ["--headless=new"]}}}}

    def __init__(self, port):
        self.port, self.conn, self.session_id = port, None, None
        self.session_id = self.send("POST", "/session", self.CAPABILITIES)[1]["value"]["sessionId"]

    def send(self, method, path, body=None):
        """(ms, parsed answer) of one command; RuntimeError unless it succeeded."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        payload = json.dumps(body) if body is not None else None
        headers = {"Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        start = time.perf_counter()
        self.conn.request(method, path, body=payload, headers=headers)
        answer = self.conn.getresponse()
        raw = answer.read()
        elapsed = (time.perf_counter() - start) * 1000
        if answer.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        if answer.status != 200:
            raise RuntimeError(f"{method} {path}: {answer.status} {raw[:300]!r}")
        return elapsed, json.loads(raw)

    def command(self, method, what, body=None):
        return self.send(method, f"/session/{self.session_id}{what}", body)

    def quit(self):
        if self.session_id:
            try:
                self.send("DELETE", f"/session/{self.session_id}")
            finally:
                self.session_id = None
        if self.conn:
            self.conn.close()
