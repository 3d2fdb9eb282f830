"""--session-way-out kernel (docs/network.md, "The kernel way out"): a root
corrald with --session-network own gives each chrome session a veth pair the
kernel forwards, under a table of its own (`table inet corral_way_out`, or
another name its state dir keeps), instead of the egress relay.

What is checked: a page on the public test host loads (by a name, through
the session's resolver and --session-dns, so DNS works without the proxy);
the host's 127.0.0.1, the host's own addresses (its eth0, the public veth's
host end, the session's own gateway), a private address and 169.254.169.254
are refused, and the servers there see no request; the session's bytes are
counted, and so are its refusals, by reason; nothing is left after a close
(the veth, its counters) nor after a clean stop (the table; the uplink's
forwarding, which corrald turned on, off again); two corralds at once each
have a table and /30s of their own, and the first to stop leaves the
uplink's forwarding on for the other; and a corrald that cannot have it
refuses to start.

Root only (cgroupfs): registered for cgroupfs alone (tests/meson.build)."""
import ipaddress
import json
import os
import signal
import socket
import subprocess
import time
import unittest
import urllib.parse

from corral_harness import BACKEND, NAMED_INSTANCE_UIDS, Daemon, DaemonTestCase, in_network_of, refused_start, wait_until
from dns_server import DnsServer
from other_host import OtherHost
from public_host import PublicHost, RecordingServer, listening_socket, serve_in
from test_session_egress import METADATA, PROBE, host_eth0_address
from corral_harness.way_out_tables import way_out_tables

PUBLIC_NAME = "page.corral-kernel.test"
LOOPBACK_NAME = "loopback.corral-kernel.test"


def table_of(daemon):
    """The name of `daemon`'s table, as its state dir keeps it."""
    with open(os.path.join(daemon.state_dir, "kernel-way-out-table")) as f:
        return f.read().strip()


def nft_table(table):
    """`nft list table inet TABLE`, or None when there is none."""
    listed = subprocess.run(["nft", "list", "table", "inet", table], capture_output=True, text=True)
    return listed.stdout if listed.returncode == 0 else None


def device_address(device):
    shown = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", device], capture_output=True, text=True)
    if shown.returncode != 0 or not shown.stdout.split():
        return None
    return shown.stdout.split()[3].split("/")[0]


def forwarding(device):
    with open(f"/proc/sys/net/ipv4/conf/{device}/forwarding") as f:
        return f.read().strip()


def session_devices():
    shown = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return [line.split()[1].rstrip(":").split("@")[0] for line in shown.splitlines()
            if line.split()[1].startswith("cw")]


class KernelWayOutHosts(DaemonTestCase):
    """The public host (the uplink corrald is told of), its DNS server, and the targets to refuse."""
    use_stub = False
    extra_args = ()

    @classmethod
    def setUpClass(cls):
        cls.public = PublicHost().__enter__()
        cls.addClassCleanup(cls.public.__exit__, None, None, None)
        cls.pages = cls.public.serve({"/probe.html": PROBE})
        cls.addClassCleanup(cls.pages.close)
        cls.dns = DnsServer(cls.public, {PUBLIC_NAME: cls.public.client_address, LOOPBACK_NAME: "127.0.0.1"})
        cls.addClassCleanup(cls.dns.close)
        # Off, as an uplink of a host that does not route is: what corrald turns on and off again.
        with open(f"/proc/sys/net/ipv4/conf/{cls.public.host_link}/forwarding", "w") as f:
            f.write("0")
        cls.forwarding_before = forwarding(cls.public.host_link)
        cls.daemon_args = ("--session-network", "own", "--session-way-out", "kernel",
                           "--session-way-out-uplink", cls.public.host_link, "--session-dns", cls.dns.address, *cls.extra_args)
        try:
            super().setUpClass()
        except BaseException:
            cls.doClassCleanups()
            raise

    def relayed(self, session, path):
        return urllib.parse.urlsplit(session["devtools"]["http"]).path.rstrip("/") + path

    def open_tab(self, session, url):
        status, _ = self.daemon.request("PUT", self.relayed(session, "/json/new?" + url), auth=False)
        self.assertEqual(status, 200)


@unittest.skipIf(BACKEND != "cgroupfs", "a root corrald on cgroupfs only")
class PagesThroughTheKernel(KernelWayOutHosts):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.make_targets()
        except BaseException:
            cls.daemon.remove()  # tearDownClass does not run after a failed setUpClass
            cls.doClassCleanups()
            raise

    @classmethod
    def make_targets(cls):
        cls.private = OtherHost().__enter__()  # 10.213.0.0/16
        cls.addClassCleanup(cls.private.__exit__, None, None, None)
        cls.metadata = OtherHost(pool=METADATA).__enter__()
        cls.addClassCleanup(cls.metadata.__exit__, None, None, None)
        # A public host by a device where the host forwards already (not an uplink corrald guards).
        cls.routing_host = PublicHost().__enter__()
        cls.addClassCleanup(cls.routing_host.__exit__, None, None, None)
        cls.everywhere = RecordingServer(listening_socket("0.0.0.0"))  # every host address, the gateways too
        cls.targets = {
            "loopback": RecordingServer(listening_socket("127.0.0.1")),
            "private": serve_in(cls.private),
            "metadata": serve_in(cls.metadata, address="169.254.169.254"),
        }
        for server in [cls.everywhere, *cls.targets.values()]:
            cls.addClassCleanup(server.close)

    def target_urls(self, gateway):
        urls = {name: server.url + "/secret" for name, server in self.targets.items()}
        urls["the public veth's host end"] = f"http://{self.public.host_address}:{self.everywhere.port}/secret"
        urls["its own gateway"] = f"http://{gateway}:{self.everywhere.port}/secret"
        eth0 = host_eth0_address()
        if eth0:
            urls["the host's own address"] = f"http://{eth0}:{self.everywhere.port}/secret"
        return urls

    def test_a_page_loads_by_name_and_reaches_nothing_local_or_private(self):
        session = self.daemon.open({"kind": "chrome"})
        device = "cw" + session["id"]
        gateway = device_address(device)
        self.assertIsNotNone(gateway, f"no {device} on the host: {session_devices()}")
        urls = self.target_urls(gateway)
        with in_network_of(session["pid"]):  # with no proxy, the one thing between a page and its own loopback
            own_loopback = RecordingServer(listening_socket("127.0.0.1"))
        self.addCleanup(own_loopback.close)
        urls["its own loopback"] = own_loopback.url + "/secret"
        urls["a name of 127.0.0.1"] = f"http://{LOOPBACK_NAME}:{own_loopback.port}/by-name"
        page = f"http://{PUBLIC_NAME}:{self.pages.port}/probe.html#" + urllib.parse.quote(json.dumps(list(urls.values())))
        self.open_tab(session, page)
        seen = self.pages.reports.get(timeout=60)
        print(f"\nthe page saw: {json.dumps(seen, indent=1)}")
        self.assertIn(PUBLIC_NAME, [q[1] for q in self.dns.questions])  # through its resolver, not a proxy
        for name, url in urls.items():
            self.assertTrue(seen[url].startswith("failed"), f"{name}: {seen[url]}")
            self.open_tab(session, url)  # navigations, not only fetch
        time.sleep(3)
        for name, server in [("everywhere", self.everywhere), ("its own loopback", own_loopback),
                             *self.targets.items()]:
            self.assertEqual(server.hits, [], f"{name} was reached from the session")
        egress = self.daemon.get(session["id"])[1]["network"]["egress"]
        print(f"its counts: {egress}")
        self.assertGreater(egress["bytes_in"], 1000, egress)
        self.assertGreater(egress["bytes_out"], 100, egress)
        health = self.daemon.request("GET", "/v1/health")[1]
        self.assertEqual((health["session_way_out"], health["session_way_out_table"]), ("kernel", table_of(self.daemon)))
        # Each refused connection counted, under the reason the relay gives it.
        for reason in ("local", "private", "link-local"):
            self.assertGreater(egress["refused"][reason], 0, egress)
        print("\n".join(line for line in self.daemon.log_lines if "kernel way out" in line))  # set-up times

    def test_nothing_opens_a_connection_into_a_session(self):
        """A session's process listening on every address of its namespace is
        still out of reach: from this host, as root, and from a public host
        that routes the pool through this one, by a device where this host
        forwards (the policy would let the answers out: only the rule on
        what enters a session stops it)."""
        session = self.daemon.open({"kind": "chrome"})
        gateway = device_address("cw" + session["id"])
        inside = str(ipaddress.ip_address(gateway) + 1)
        with in_network_of(session["pid"]):
            listener = RecordingServer(listening_socket("0.0.0.0"))
        self.addCleanup(listener.close)
        with self.assertRaises(OSError):
            socket.create_connection((inside, listener.port), timeout=5).close()
        subnet = str(ipaddress.ip_interface(f"{gateway}/30").network)
        self.routing_host.run(["ip", "route", "add", subnet, "via", self.routing_host.host_address], timeout=10,
                              check=True)
        tried = self.routing_host.run(["curl", "-sS", "-m", "5", f"http://{inside}:{listener.port}/from-another-host"],
                                 timeout=20)
        self.assertNotEqual(tried.returncode, 0, tried.stdout)
        self.routing_host.run(["ip", "route", "del", subnet], timeout=10)
        self.assertEqual(listener.hits, [])

    def test_no_session_reaches_anothers_device(self):
        """Session A's namespace, as root even, reaches neither B's address
        nor B's gateway's port: the pool is private, and a session's device
        is no way to another's."""
        first, second = self.daemon.open({"kind": "chrome"}), self.daemon.open({"kind": "chrome"})
        inside_second = str(ipaddress.ip_address(device_address("cw" + second["id"])) + 1)
        with in_network_of(second["pid"]):
            listener = RecordingServer(listening_socket("0.0.0.0"))
        self.addCleanup(listener.close)
        with in_network_of(first["pid"]):
            with self.assertRaises(OSError):
                socket.create_connection((inside_second, listener.port), timeout=5).close()
        self.assertEqual(listener.hits, [])
        refused = self.daemon.get(first["id"])[1]["network"]["egress"]["refused"]
        wait_until(lambda: self.daemon.get(first["id"])[1]["network"]["egress"]["refused"]["private"] > 0,
                   timeout=5, what=f"the refusal counted: {refused}")

    def test_a_close_leaves_no_device_and_no_counters(self):
        session = self.daemon.open({"kind": "chrome"})
        device = "cw" + session["id"]
        self.assertIn(device, session_devices())
        table = table_of(self.daemon)
        self.assertIn(f"{device}_out", nft_table(table))
        self.daemon.close(session["id"], grace=0)
        # The session's files (and its device with them) go just after the answer.
        self.assertTrue(wait_until(lambda: device not in session_devices(), timeout=10), session_devices())
        self.assertNotIn(device, nft_table(table))

    def test_a_session_asking_for_its_own_lists_gets_the_relay(self):
        allowed = self.public.client_address + "/32"
        session = self.daemon.open({"kind": "chrome", "egress": {"allow": [allowed]}})
        self.assertNotIn("cw" + session["id"], session_devices())
        self.assertIn(f"session {session['id']}: the egress relay, not the kernel way out: egress lists of its own",
                      "".join(self.daemon.log_lines))


@unittest.skipIf(BACKEND != "cgroupfs", "a root corrald on cgroupfs only")
class ACleanStop(KernelWayOutHosts):
    def test_a_clean_stop_removes_the_table_and_restores_forwarding(self):
        table = table_of(self.daemon)
        self.assertIsNotNone(nft_table(table))
        self.assertEqual(forwarding(self.public.host_link), "1")
        session = self.daemon.open({"kind": "chrome"})
        self.assertIn("cw" + session["id"], session_devices())
        self.assertEqual(self.daemon.stop(), 0)
        self.assertIsNone(nft_table(table))
        self.assertEqual(forwarding(self.public.host_link), self.forwarding_before)
        self.assertNotIn("cw" + session["id"], session_devices())

    @classmethod
    def tearDownClass(cls):
        cls.daemon.remove()  # stopped already: what the test made

    def tearDown(self):
        pass  # the daemon is stopped; the test checked what is left


@unittest.skipIf(BACKEND != "cgroupfs", "a root corrald on cgroupfs only")
class AnOperatorsAllow(KernelWayOutHosts):
    @classmethod
    def setUpClass(cls):
        cls.private = OtherHost().__enter__()  # 10.213.0.0/16
        cls.addClassCleanup(cls.private.__exit__, None, None, None)
        cls.allowed = serve_in(cls.private)
        cls.addClassCleanup(cls.allowed.close)
        cls.everywhere = RecordingServer(listening_socket("0.0.0.0"))
        cls.addClassCleanup(cls.everywhere.close)
        # The allowed range takes in the host's end of that veth too: the host stays refused all the same.
        cls.range = str(ipaddress.ip_interface(f"{cls.private.client_address}/30").network)
        # Not an uplink: out by any device, its answers in where the host forwards (OtherHost turns that on).
        cls.extra_args = ("--egress-allow", cls.range)
        super().setUpClass()

    def test_an_allowed_private_range_is_reached_and_the_host_in_it_is_not(self):
        self.assertIn(self.range, nft_table(table_of(self.daemon)))
        session = self.daemon.open({"kind": "chrome"})
        self.open_tab(session, self.allowed.url + "/allowed")
        wait_until(lambda: "/allowed" in self.allowed.hits, timeout=30, what="the allowed private server")
        self.open_tab(session, f"http://{self.private.host_address}:{self.everywhere.port}/the-host")
        time.sleep(3)
        self.assertEqual(self.everywhere.hits, [])


@unittest.skipIf(BACKEND != "cgroupfs", "a root corrald on cgroupfs only")
class ACrash(KernelWayOutHosts):
    first = None  # the corrald killed; the class's daemon is then the one that adopted

    def test_after_kill_9_the_next_run_keeps_the_table_and_gives_the_session_its_device_back(self):
        session = self.daemon.open({"kind": "chrome"})
        device = "cw" + session["id"]
        table = table_of(self.daemon)
        self.daemon.stop(signal.SIGKILL)
        self.assertIsNotNone(nft_table(table))
        self.assertIn(device, session_devices())
        self.assertEqual(forwarding(self.public.host_link), "1")
        type(self).first = self.daemon
        type(self).daemon = self.daemon = Daemon(*self.daemon_args, reuse=self.first)
        self.assertIn(f"table inet {table} (an earlier run's, kept)", "\n".join(self.daemon.log_lines))
        adopted = self.daemon.get(session["id"])[1]
        self.assertEqual(adopted["state"], "running", adopted)
        self.open_tab(adopted, self.pages.url + "/after-the-crash")
        wait_until(lambda: "/after-the-crash" in self.pages.hits, timeout=30, what="the adopted session's page")
        # Counts are read at most every 50 ms (one nft listing for all sessions): waited for, not raced.
        wait_until(lambda: self.daemon.get(session["id"])[1]["network"]["egress"]["bytes_in"] > 0, timeout=5,
                   what="the adopted session's bytes counted")
        self.daemon.close(session["id"], grace=0)
        wait_until(lambda: device not in session_devices(), timeout=10, what=f"{device} removed")
        self.assertEqual(self.daemon.stop(), 0)
        self.assertIsNone(nft_table(table))
        self.assertEqual(forwarding(self.public.host_link), self.forwarding_before)  # the table's guard said so

    def tearDown(self):
        pass  # the test closed its session and stopped the second corrald

    @classmethod
    def tearDownClass(cls):
        cls.daemon.remove()
        if cls.first:
            cls.first.remove()


@unittest.skipIf(BACKEND != "cgroupfs", "a root corrald on cgroupfs only")
class TwoCorraldsAtOnce(KernelWayOutHosts):
    """Instances, or test runs: each its own table, its own /30s, and the uplink's forwarding kept for the last."""

    def test_each_has_its_table_and_subnets_and_the_last_to_stop_restores_forwarding(self):
        other = Daemon(*self.daemon_args, instance="kwo2")
        self.addCleanup(other.remove)
        tables = {table_of(self.daemon), table_of(other)}
        self.assertEqual(len(tables), 2, tables)
        self.assertIn("corral_way_out_kwo2", tables)
        mine, theirs = self.daemon.open({"kind": "chrome"}), other.open({"kind": "chrome"})
        gateways = {device_address("cw" + mine["id"]), device_address("cw" + theirs["id"])}
        self.assertEqual(len(gateways), 2, f"two sessions, one /30: {gateways}")
        for daemon, session in [(self.daemon, mine), (other, theirs)]:
            path = f"/{session['id']}"
            status, _ = daemon.request("PUT", self.relayed(session, "/json/new?" + self.pages.url + path), auth=False)
            self.assertEqual(status, 200)
            wait_until(lambda: path in self.pages.hits, timeout=30, what=f"{path} through its corrald's table")
        # Each table judges its own devices alone.
        self.assertNotIn("cw" + theirs["id"], nft_table(table_of(self.daemon)))
        first_table = table_of(self.daemon)
        self.assertEqual(self.daemon.stop(), 0)
        self.assertIsNone(nft_table(first_table))
        self.assertEqual(forwarding(self.public.host_link), "1")  # the other's sessions still leave by it
        later = "/later-" + theirs["id"]
        other.request("PUT", self.relayed(theirs, "/json/new?" + self.pages.url + later), auth=False)
        wait_until(lambda: later in self.pages.hits, timeout=30, what="the other corrald's page after the first stopped")
        other_table = table_of(other)
        other.close(theirs["id"], grace=0)
        self.assertEqual(other.stop(), 0)
        self.assertIsNone(nft_table(other_table))
        self.assertEqual(forwarding(self.public.host_link), self.forwarding_before)

    def tearDown(self):
        pass  # the test stopped both

    @classmethod
    def tearDownClass(cls):
        cls.daemon.remove()


@unittest.skipIf(BACKEND != "cgroupfs", "a root corrald on cgroupfs only")
class RefusedWhereItCannotBe(unittest.TestCase):
    def test_shared_networks_or_an_egress_deny_refuse_the_start(self):
        for args, said in [(("--session-network", "shared"), "--session-way-out kernel: sessions share corrald's network"),
                           (("--session-network", "own", "--session-user", "root"),
                            "--session-way-out kernel: sessions run as root"),
                           (("--session-network", "own", "--egress-deny", "203.0.113.0/24"),
                            "not in the kernel way out yet")]:
            uids = () if "--session-user" in args else ("--session-uids", NAMED_INSTANCE_UIDS)
            tables_before = set(way_out_tables())
            stderr = refused_start("--session-way-out", "kernel", *uids, *args)
            self.assertIn(said, stderr, args)
            self.assertLessEqual(set(way_out_tables()), tables_before, f"a refused start left a table: {args}")


if __name__ == "__main__":
    unittest.main()
