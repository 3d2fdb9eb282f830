"""A real Prometheus (Debian's, from tools/setup) for a test: on a free
loopback port, with its own config and storage in a temp dir, scraping only
the loopback targets it is given, stopped and removed afterwards."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import urllib.parse
import urllib.request

from corral_harness import wait_until
from corral_harness.live_helpers import track_helper, untrack_helper


def free_loopback_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrometheusServer:
    SCRAPE_INTERVAL = 1  # seconds: the test waits for scrapes, never for a time

    def __init__(self, target_port, token_file=None, job="corral"):
        binary = shutil.which("prometheus")
        assert binary, "prometheus is not installed: run tools/setup (it installs Debian's prometheus)"
        self.dir = tempfile.mkdtemp(prefix="corral-test-prometheus.")
        self.port = free_loopback_port()
        scrape = {"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}],
                  "scrape_interval": f"{self.SCRAPE_INTERVAL}s", "scrape_timeout": f"{self.SCRAPE_INTERVAL}s"}
        if token_file:
            scrape["authorization"] = {"type": "Bearer", "credentials_file": token_file}
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            json.dump({"global": {"evaluation_interval": "1s"}, "scrape_configs": [scrape]}, f)  # JSON is YAML
        self.log_path = os.path.join(self.dir, "prometheus.log")
        track_helper(self)
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [binary, f"--config.file={config}", f"--storage.tsdb.path={self.dir}/data",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                stdout=log, stderr=log)
        try:
            wait_until(self._ready, 60, "prometheus to be ready")
        except AssertionError:
            self.abandon()
            raise

    def __repr__(self):
        return f"prometheus on 127.0.0.1:{self.port} ({self.dir})"

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def _ready(self):
        assert self.process.poll() is None, f"prometheus exited:\n{self.log()}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    def query(self, expr):
        """The result vector of an instant query now: [(labels, value)], value a float."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=30) as response:
            body = json.load(response)
        assert body["status"] == "success", f"{expr}: {body}"
        data = body["data"]
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        return [(item["metric"], float(item["value"][1])) for item in data["result"]]

    def value(self, expr):
        """The one value of a query that must give exactly one, or None when it gives none."""
        result = self.query(expr)
        assert len(result) <= 1, f"{expr} gave {result}"
        return result[0][1] if result else None

    def wait_for(self, expr, expected, timeout=60):
        """Wait until the query's one value is `expected`."""
        wait_until(lambda: self.value(expr) == expected, timeout, f"{expr} == {expected} (last: {self.query(expr)})")

    def wait_for_scrape_after(self, moment, job="corral"):
        """Wait until Prometheus holds a scrape that began after `moment` (time.time())."""
        wait_until(lambda: (self.value(f'timestamp(up{{job="{job}"}})') or 0) > moment, 60,
                   f"a scrape after {moment}")

    def stop(self):
        """Stop prometheus (SIGTERM, then SIGKILL) and remove its files."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        untrack_helper(self)

    def abandon(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        untrack_helper(self)

