"""Issue 22 under corrald.service (imported by limits_suite.py, run in the
same VM): what the unit's sandbox could break and the cgroupfs suites
cannot see. The operator's lists in health and a session's narrowing in
force; a widening refused with nothing left; a byte cap over the maximum
refused; the resolver on each session's port 53 (CAP_NET_BIND_SERVICE in
the unit's bounding set); and an upstream proxy's credential, held in a
kernel key, surviving `systemctl kill -s KILL` with the session adopted,
while the journal never shows it.

The pages' traffic itself (loads, refusals, counts) is proved by the
session-egress, session-proxy and session-bytes suites on the CI host; the
VM has no test network to load from."""
import json
import time
import unittest

from guest_corral import close_or_await, install_corral, main_pid, run, service_active, start_system_service, stub_wrapper
from corral_harness import wait_until

PROXY_PASSWORD = "s3cret-under-the-unit"


def scopes():
    return run("systemctl", "list-units", "--all", "--no-legend", "corral-*.scope").stdout.strip()


class SystemServiceEgress(unittest.TestCase):
    build = None  # set by limits_suite.py

    @classmethod
    def setUpClass(cls):
        install_corral(cls.build)

    @classmethod
    def tearDownClass(cls):
        # As SystemService does: the user manager's installed unit, tested
        # next, wants the default port this service would hold.
        run("systemctl", "stop", "corrald.service", check=False)

    def test_lists_cap_resolver_and_proxy_under_the_unit(self):
        since = time.strftime("%Y-%m-%d %H:%M:%S")
        api = start_system_service("--browser", stub_wrapper("plain"), "--egress-deny", "203.0.113.0/24",
                                   "--session-dns", "192.0.2.53", "--max-network-max-bytes", "1G")
        try:
            self.refusals_leave_nothing(api)
            proxied = api.open({"egress": {"deny": ["198.51.100.0/24"]}, "network_max_bytes": "5M",
                                "proxy": f"http://alice:{PROXY_PASSWORD}@198.51.100.9:3128"})
            plain = api.open({})
            self.assertIsNotNone(api.get(plain["id"])[1]["network"]["dns"],
                                 "the resolver bound the session's port 53 under the unit")
            self.check_proxied(api.get(proxied["id"])[1]["network"])
            self.kill_and_adopt(api)
            self.check_proxied(api.get(proxied["id"])[1]["network"])
            for session in (proxied, plain):
                self.assertTrue(api.close(session["id"], grace=0)["verified_empty"])
            run("journalctl", "--flush", check=False)
            logged = run("journalctl", "--no-pager", "-o", "cat", "-u", "corrald.service", "--since", since).stdout
            self.assertNotIn(PROXY_PASSWORD, logged, "the proxy's credential is in the journal")
            self.assertNotIn("no way out after adoption", logged, "the adopted session lost its proxy's key")
        finally:
            for session in api.request("GET", "/v1/sessions")[1].get("sessions", []):
                close_or_await(api, session["id"])

    def refusals_leave_nothing(self, api):
        health = api.request("GET", "/v1/health")[1]
        self.assertIn("203.0.113.0/24", json.dumps(health["egress_policy"]), health)
        status, reply = api.request("POST", "/v1/sessions", {"egress": {"allow": ["10.0.0.0/8"]}})
        self.assertEqual(status, 400, reply)
        status, reply = api.request("POST", "/v1/sessions", {"network_max_bytes": "2G"})
        self.assertEqual(status, 422, reply)
        self.assertEqual(scopes(), "", "a refused open left a scope")

    def check_proxied(self, network):
        self.assertTrue(network["own"], network)
        self.assertEqual(network["proxy"], "http://alice:***@198.51.100.9:3128", network)
        self.assertEqual(network["max_bytes"], 5 << 20, network)
        self.assertIn("198.51.100.0/24", json.dumps(network["policy"]["session_deny"]), network)
        self.assertIsNone(network["dns"], "a proxied session has no resolver of corral's")

    def kill_and_adopt(self, api):
        old_pid = main_pid()
        run("systemctl", "kill", "--signal=KILL", "--kill-whom=main", "corrald.service")
        wait_until(lambda: main_pid() not in (0, old_pid) and service_active(), 60, "corrald to be restarted")
        wait_until(lambda: api.request("GET", "/v1/health")[0] == 200, 30, "the restarted API")
