"""Measurement 6: a session's DevTools through corral against direct. One
real Chromium session, one page target, and one CDP client
(bench/cdp_client.mjs, Node and `ws`) holding two WebSockets to that page
at once: the browser's own (`devtools.local`) and corral's relay (the
target's `webSocketDebuggerUrl` from `<devtools.http>/json/list`). Rounds
alternate between them: 1,000 sequential `Runtime.evaluate` of `1+1`, and
`Page.captureScreenshot` of a page of pseudo-random pixels (a PNG over
16 MiB, one ~24 MB WebSocket message). Its corrald runs with
`--session-network shared` (bench/main.py): only a session on the host's
network has a `devtools.local` the bench can reach."""
import json
import os
import urllib.request

from common.line_client import LineClient
from common.stats import median

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIENT = os.path.join(HERE, "cdp_client.mjs")
VIA = ("direct", "corral")
# As tests/clients/devtools_client.mjs: 4200x1400 noise is a PNG of ~17.7 MB.
SHOT = {"width": 4200, "height": 1400, "seed": 20240917}
MB = 1e6


def http_json(url, method="GET", timeout=30):
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=timeout) as answer:
        return json.load(answer)


def page_urls(session):
    """A new page target and its WebSocket URL direct and through corral."""
    devtools = session["devtools"]
    target = http_json(devtools["local"]["http"].rstrip("/") + "/json/new?about:blank", method="PUT")
    listed = http_json(devtools["http"].rstrip("/") + "/json/list")
    through = next((t["webSocketDebuggerUrl"] for t in listed if t.get("id") == target["id"]), None)
    if not through:
        raise RuntimeError(f"target {target['id']} is not in corral's /json/list: {listed}")
    return target["webSocketDebuggerUrl"], through


class CdpWorker(LineClient):
    """bench/cdp_client.mjs: one JSON command a line in, one JSON answer a line out."""

    def __init__(self, direct_ws, corral_ws, bare_ws=None):
        super().__init__(CLIENT, [direct_ws, corral_ws] + ([bare_ws] if bare_ws else []))


class DevToolsProxyBench:
    def __init__(self, daemon, evals, shots):
        self.daemon, self.evals, self.shots = daemon, evals, shots
        self.session = self.daemon.open({"kind": "chrome"})
        self.worker = None
        try:
            self.direct_ws, self.corral_ws = page_urls(self.session)
            self.worker = CdpWorker(self.direct_ws, self.corral_ws)
            self.worker.ask(op="setup", **SHOT)
            self.warm_up()
        except BaseException:
            self.close()
            raise

    def warm_up(self):
        """Not counted: the first messages and the first screenshot on each connection."""
        for via in VIA:
            self.worker.ask(op="evals", via=via, count=100)
            self.worker.ask(op="shots", via=via, count=1)

    def client(self):
        """What the client was: Node and ws, and the two URLs' shapes."""
        return {**{k: v for k, v in self.worker.hello.items() if k != "ready"},
                "direct": self.direct_ws.split("/devtools/")[0], "corral": self.corral_ws.split("/cdp/")[0]}

    def round_trips(self, via):
        answer = self.worker.ask(op="evals", via=via, count=self.evals)
        return {"variant": via, **answer}

    def screenshots(self, via):
        shots = self.worker.ask(op="shots", via=via, count=self.shots)["shots"]
        for shot in shots:
            shot["mb_per_s"] = round(shot["message_bytes"] / MB / (shot["total_ms"] / 1000), 1)
            shot["wire_mb_per_s"] = round(shot["message_bytes"] / MB / (shot["transfer_ms"] / 1000), 1)
        return {"variant": via, "shots": shots, "png_bytes": shots[0]["png_bytes"],
                "mb_per_s": median([s["mb_per_s"] for s in shots]),
                "wire_mb_per_s": median([s["wire_mb_per_s"] for s in shots])}

    def close(self):
        if self.worker:
            self.worker.stop()
        self.daemon.request("DELETE", f"/v1/sessions/{self.session['id']}?grace=0")
