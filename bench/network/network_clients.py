"""The network bench's two protocol clients: CDP (network_cdp.mjs, Node and
`ws`, one process holding a WebSocket to each session) and WebDriver (raw
HTTP over one kept-alive connection per session, as Selenium's pool keeps
it: no client library between the clock and the wire)."""
import collections
import http.client
import json
import os
import queue
import shutil
import subprocess
import threading
import time

CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "network_cdp.mjs")


class CdpWorker:
    """network_cdp.mjs: one JSON command a line in, one JSON answer a line out.
    urls: {name: the page target's WebSocket URL through corral}; prefix:
    what to run it under (`ip netns exec NAME` for a Chrome in a namespace)."""

    def __init__(self, urls, prefix=()):
        node = shutil.which("node") or "/usr/bin/node"
        self.process = subprocess.Popen([*prefix, node, CLIENT, *(f"{name}={url}" for name, url in urls.items())],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.answers, self.errors = queue.Queue(), collections.deque(maxlen=50)
        threading.Thread(target=self._pump, args=(self.process.stdout, self.answers.put, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.process.stderr, self.errors.append), daemon=True).start()
        try:
            self.hello = self._answer(60)
        except BaseException:
            self.stop()
            raise

    @staticmethod
    def _pump(stream, put, say_end=False):
        for line in stream:
            put(line.rstrip("\n"))
        if say_end:
            put(None)  # the client ended: no answer will come

    def _answer(self, timeout):
        try:
            line = self.answers.get(timeout=timeout)
        except queue.Empty:
            line = None
        if line is None:
            raise RuntimeError("network_cdp.mjs gave no answer: " + "\n".join(self.errors))
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"network_cdp.mjs: {answer['error']}")
        return answer

    def ask(self, timeout=120, **command):
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._answer(timeout)

    def calls(self, via, method, count):
        return self.ask(op="calls", via=via, method=method, count=count)["times_us"]

    def evaluate(self, via, expression, timeout=120):
        return self.ask(op="evaluate", via=via, expression=expression, timeout=timeout)["value"]

    def stop(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


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
