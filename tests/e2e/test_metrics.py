"""/metrics as a real Prometheus sees it: Debian's prometheus scrapes a real
corrald running stub sessions (with the API token, as docs/operators.md
says to), and the test asks Prometheus over its HTTP API for what it
stored, and checks it against the sessions it made. Then every query of
docs/dashboard.md must return data, or none where this host lacks what the
panel needs (the memory controller, a cap, PSI)."""
import os
import re
import sys
import time
import unittest

from corral_harness import STUB_PROCESSES, DaemonTestCase, pid_file, read_pid_file
from prometheus_server import PrometheusServer

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MiB = 1 << 20
TOKEN = "metrics-test-token-0123456789abcdef"


def figure(text):
    """A measured figure, for the test log (meson keeps stderr)."""
    print(text, file=sys.stderr, flush=True)


def dashboard_queries():
    """[(panel title, needs, query)] from docs/dashboard.md: each ```promql
    block, with the "Needs:" line of its panel (memory, memory cap, PSI)."""
    with open(os.path.join(REPO, "docs", "dashboard.md")) as f:
        text = f.read()
    queries = []
    for panel in re.split(r"^### ", text, flags=re.M)[1:]:
        title = panel.splitlines()[0]
        needs = re.search(r"^Needs: (.+)\.$", panel, flags=re.M)
        for block in re.findall(r"```promql\n(.*?)```", panel, flags=re.S):
            queries.append((title, needs.group(1) if needs else None, block.strip()))
    return queries


class PrometheusTestCase(DaemonTestCase):
    """A daemon with a token and the metrics label, and a Prometheus that
    scrapes it with that token."""
    daemon_args = ("--metrics-label", "bot", "--metrics-label-values", "2", "--max-sessions", "5",
                   "--default-memory-max", "256M", "--memory-budget", "2G", "--default-tasks-max", "64")
    daemon_options = {"token": TOKEN}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.prometheus = PrometheusServer(cls.daemon.port, token_file=cls.daemon.token_file)
            cls.prometheus.wait_for('up{job="corral"}', 1)
        except BaseException:
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.prometheus.stop()
        super().tearDownClass()

    def health(self):
        return self.daemon.request("GET", "/v1/health")[1]

    def open_stub(self, bot=None):
        """Open a session and wait until all its stub processes run; also how
        long the request took, which bounds the start time corrald measured."""
        started = time.monotonic()
        session = self.daemon.open({"labels": {"bot": bot}} if bot is not None else {})
        took = time.monotonic() - started
        read_pid_file(pid_file(self.daemon, session), STUB_PROCESSES)
        return session, took

    def api_cpu_seconds(self):
        sessions = self.daemon.request("GET", "/v1/sessions")[1]["sessions"]
        return sum(s["stats"]["cpu_usage_usec"] for s in sessions if "stats" in s) / 1e6

    def by_bot(self, expr):
        return {labels.get("bot", ""): value for labels, value in self.prometheus.query(expr)}


class PrometheusScrapesSessions(PrometheusTestCase):
    def test_prometheus_holds_what_the_sessions_use(self):
        bots = ["crawler", "crawler", "checkout", "third", None]  # "third" is past the 2 values kept
        opened = [self.open_stub(bot) for bot in bots]
        refused, _ = self.daemon.request("POST", "/v1/sessions", {"labels": {"bot": "crawler"}})
        self.assertEqual(refused, 429, "the sixth session is past --max-sessions 5")

        expected = {"crawler": 2, "checkout": 1, "other": 1, "": 1}
        self.prometheus.wait_for("sum(corral_sessions_running)", 5)
        self.assertEqual(self.by_bot("corral_sessions_running"), expected)
        self.assertEqual(self.prometheus.value("count(corral_sessions_running)"), 4,
                         "one series per kept value, 'other' and no label: nothing more")
        self.prometheus.wait_for("sum(corral_sessions_processes)", 5 * STUB_PROCESSES)
        self.assertEqual(self.by_bot("corral_sessions_processes"),
                         {bot: count * STUB_PROCESSES for bot, count in expected.items()})
        self.assertEqual(self.prometheus.value('corral_session_processes_bucket{le="5"}'), 5)
        self.assertEqual(self.prometheus.value('corral_session_processes_bucket{le="2"}'), 0)
        self.assertEqual(self.prometheus.value("corral_admission_rejections_total"), 1)
        self.assertEqual(self.prometheus.value("corral_memory_budget_used_bytes"), 5 * 256 * MiB)
        self.assertEqual(self.prometheus.value("corral_admission_memory_budget_bytes"), 2048 * MiB)
        self.assertEqual(self.prometheus.value("corral_admission_max_sessions"), 5)

        # Each start time is at most what its request took, seen from here.
        self.assertEqual(self.prometheus.value('corral_browser_start_seconds_count{kind="chrome"}'), 5)
        start_sum = self.prometheus.value('corral_browser_start_seconds_sum{kind="chrome"}')
        self.assertGreater(start_sum, 0)
        self.assertLessEqual(start_sum, sum(took for _, took in opened))
        figure(f"start seconds, 5 chrome starts: Prometheus sum {start_sum:.3f} <= requests' own "
               f"{sum(took for _, took in opened):.3f}")

        self.check_cpu_between_two_api_reads()
        self.check_memory_says_nothing_or_something()
        self.check_pressure_against_the_kernel()

        # Closing the "other" session keeps its CPU in the counter and its
        # series at 0. The stub ignores SIGTERM, so the close spends its
        # grace (1.5 s, over a scrape interval) in "closing": scraped then,
        # the counter must not dip, which Prometheus would count as a reset.
        other_cpu = self.by_bot("corral_sessions_cpu_seconds_total")["other"]
        self.daemon.close(opened[3][0]["id"], grace=1.5)
        self.prometheus.wait_for('corral_sessions_closed_total{reason="client"}', 1)
        self.prometheus.wait_for('corral_sessions_running{bot="other"}', 0)
        self.assertGreaterEqual(self.by_bot("corral_sessions_cpu_seconds_total")["other"], other_cpu)
        self.assertEqual(self.prometheus.value("sum(resets(corral_sessions_cpu_seconds_total[10m]))"), 0)
        self.assertEqual(self.prometheus.value("corral_close_duration_seconds_count"), 1)
        self.assertEqual(self.prometheus.value("corral_health_degraded"), 0)

    def check_cpu_between_two_api_reads(self):
        """A scrape that began after one read of the sessions' CPU and ended
        before a second one holds a value between the two."""
        before = self.api_cpu_seconds()
        self.prometheus.wait_for_scrape_after(time.time())
        scraped = self.prometheus.value("sum(corral_sessions_cpu_seconds_total)")
        after = self.api_cpu_seconds()
        self.assertGreater(before, 0)
        self.assertLessEqual(before, scraped + 1e-6)
        self.assertLessEqual(scraped, after + 1e-6)
        figure(f"CPU seconds of 5 sessions: API {before:.6f} <= Prometheus {scraped:.6f} <= API {after:.6f}")
        self.assertEqual(self.prometheus.value("corral_session_cpu_seconds_count"), 5)

    def check_memory_says_nothing_or_something(self):
        if not self.health()["controllers"]["memory"]:
            # A hybrid host: no memory.current, so no series at all, never a 0.
            for name in ("corral_sessions_memory_bytes", "corral_session_memory_bytes_count",
                         "corral_session_memory_peak_bytes_count", "corral_all_sessions_memory_bytes"):
                self.assertEqual(self.prometheus.query(name), [], f"{name} without a memory controller")
            return
        self.assertGreater(self.prometheus.value("sum(corral_sessions_memory_bytes)"), 0)
        self.assertEqual(self.prometheus.value("corral_session_memory_bytes_count"), 5)

    def check_pressure_against_the_kernel(self):
        """Each PSI "some" total Prometheus holds lies between two reads of
        the kernel's file around its scrape; no series where there is no PSI."""
        root = self.health()["cgroup_root"]

        def kernel_total(resource):
            with open(os.path.join(root, f"{resource}.pressure")) as f:
                return int(re.search(r"^some .* total=(\d+)$", f.read(), flags=re.M).group(1)) / 1e6
        for resource in ("memory", "cpu"):
            expr = f'corral_all_sessions_pressure_seconds_total{{resource="{resource}",stall="some"}}'
            try:
                before = kernel_total(resource)
            except OSError:
                self.assertEqual(self.prometheus.query(expr), [], f"no {resource} PSI here: no series")
                continue
            self.prometheus.wait_for_scrape_after(time.time())
            scraped = self.prometheus.value(expr)
            after = kernel_total(resource)
            self.assertIsNotNone(scraped, expr)
            self.assertLessEqual(before, scraped + 1e-6)
            self.assertLessEqual(scraped, after + 1e-6)
            figure(f"{resource} PSI some: kernel {before:.6f} <= Prometheus {scraped:.6f} <= kernel {after:.6f} s")

    def test_usage_endpoint_gives_the_totals_top_shows(self):
        self.open_stub("crawler"), self.open_stub(None)
        live_cpu = self.api_cpu_seconds()
        status, usage = self.daemon.request("GET", "/v1/usage")
        self.assertEqual(status, 200)
        self.assertEqual(usage["open_sessions"], 2)
        health = self.health()
        # What a router may count on: 5 sessions, unless the uid pool is smaller.
        pool = health["session_uids"]["size"] or 5
        self.assertEqual(usage["admission"], {"max_sessions": 5, "memory_budget": 2048 * MiB,
                                              "memory_budget_used": 2 * 256 * MiB, "queued": 0,
                                              "always_admitted": min(5, pool)})
        self.assertEqual(usage["session_defaults"]["memory_max"], 256 * MiB)
        self.assertEqual(usage["all_sessions"]["cgroup"], health["cgroup_root"])
        self.assertEqual(usage["controllers"], health["controllers"])
        # The parent cgroup's CPU counts every session it ever held.
        self.assertGreaterEqual(usage["all_sessions"]["cpu_usage_usec"] / 1e6, live_cpu)
        if not health["controllers"]["memory"]:
            self.assertIsNone(usage["all_sessions"]["memory_current"], "no memory controller: null, not 0")
        self.assertEqual(self.daemon.request("POST", "/v1/usage", {})[0], 405)
        self.assertEqual(self.daemon.request("GET", "/v1/usage", auth=False)[0], 401)


class DashboardQueries(PrometheusTestCase):
    def host_has(self, need):
        health = self.health()
        root = health["cgroup_root"]
        if need == "memory":
            return health["controllers"]["memory"]
        if need == "memory cap":
            try:
                with open(os.path.join(root, "memory.max")) as f:
                    return f.read().strip() != "max"
            except OSError:
                return False
        if need == "PSI":
            try:
                with open(os.path.join(root, "memory.pressure")) as f:
                    return "some" in f.read()
            except OSError:
                return False
        self.fail(f"docs/dashboard.md names an unknown need: {need}")

    def test_every_dashboard_query_returns_data(self):
        # Something for every panel: opens (one refused), a close, by two bots.
        sessions = [self.open_stub(bot)[0] for bot in ("crawler", "checkout", "crawler", None, "crawler")]
        self.assertEqual(self.daemon.request("POST", "/v1/sessions", {})[0], 429)
        self.daemon.close(sessions[0]["id"], grace=0)
        self.prometheus.wait_for('corral_sessions_closed_total{reason="client"}', 1)
        # Two scrapes after the last change, so that every rate() has its two samples.
        self.prometheus.wait_for_scrape_after(time.time())
        self.prometheus.wait_for_scrape_after(time.time())

        queries = dashboard_queries()
        self.assertGreaterEqual(len(queries), 20, "docs/dashboard.md lost its queries")
        answered = absent = 0
        for title, need, query in queries:
            with self.subTest(panel=title, query=query):
                result = self.prometheus.query(query)
                if need and not self.host_has(need):
                    self.assertEqual(result, [], f"'{title}' needs {need}, which this host lacks")
                    absent += 1
                else:
                    self.assertNotEqual(result, [], f"'{title}': {query} returned no data")
                    answered += 1
        figure(f"dashboard: {answered} queries returned data, {absent} returned none for want of "
               f"what their panel needs, of {len(queries)}")


if __name__ == "__main__":
    unittest.main()
