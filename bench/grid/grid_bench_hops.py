"""Where a command's time goes through Grid (bench/grid/grid_bench.py, 4): the
same GET /session/{id}/title sent to each hop of each side's path, from
the bench itself over sockets made in the hop's namespace, each client
keeping its connection alive as Selenium's and Grid's do:

  corral: hub → relay node → corrald → the session's chromedriver → Chromium
  plain:  hub → node → chromedriver → Chromium

The hops take turns, one request each in an order shuffled every round,
so that load hits them alike; the difference of two neighbours' medians
is what the hop between them adds."""
import json
import random
import re
import statistics
import subprocess
import time

from corral_harness import chromedriver_of
from corral_harness.netns import connected_at
from grid_fleet import CORRAL_PORT
from grid_bench_sides import SIDES
from grid_servers import HUB_PORT, NODE_PORT, NetnsHTTPConnection


class KeptAlive:
    """GETs over one connection in a namespace, opened again when the
    server closes it (counted: corrald ends a connection 10 min after it opened, or
    after 30 s idle);
    base: a path every GET goes under (a corral session's chromedriver
    answers only under the secret base of its webdriver URL)."""

    def __init__(self, netns, host, port, base=""):
        self.netns, self.host, self.port, self.base = netns, host, port, base
        self.connection, self.closed_by_server = None, 0

    def get(self, path):
        if self.connection is None:
            self.connection = NetnsHTTPConnection(self.netns, self.host, self.port, 30)
        start = time.perf_counter()
        self.connection.request("GET", self.base + path, headers={"Accept": "application/json"})
        answer = self.connection.getresponse()
        body = answer.read()
        elapsed = (time.perf_counter() - start) * 1000
        if answer.status != 200:
            raise RuntimeError(f"GET {path} at {self.host}:{self.port}: {answer.status} {body[:300]!r}")
        if (answer.getheader("Connection") or "").lower() == "close":
            self.connection.close()
            self.connection, self.closed_by_server = None, self.closed_by_server + 1
        return elapsed

    def close(self):
        if self.connection:
            self.connection.close()


class SessionNetwork:
    """The network a corral session's processes are in, as NetnsHTTPConnection
    wants it: a session of a root corrald has one of its own, its
    chromedriver on that loopback (corral's rule admits uid 0 only, as the
    bench is); else the host's. A socket keeps the namespace it was made in,
    so a thread of its own makes it there."""

    def __init__(self, pid):
        self.pid = pid

    def connect(self, address, timeout):
        return connected_at(f"/proc/{self.pid}/ns/net", address, timeout)


def chromedriver_of_corral_session(host, session_id):
    """(its network, port, base, chromedriver's own session id) of a corral
    session: its port and secret base from its command line (corral hands
    out neither)."""
    status, session = host.daemon.request("GET", f"/v1/sessions/{session_id}")
    port, base = chromedriver_of(session)
    network = SessionNetwork(session["pid"])
    connection = NetnsHTTPConnection(network, "127.0.0.1", port, 10)
    try:
        connection.request("GET", base + "/sessions")
        return network, port, base, json.loads(connection.getresponse().read())["value"][0]["id"]
    finally:
        connection.close()


def chromedriver_of_plain_host(host):
    """The port of the one chromedriver listening on a plain host (it holds
    the Grid session's own id)."""
    listed = subprocess.run(host.netns.command(["ss", "-tlnpH"]), capture_output=True, text=True, timeout=30).stdout
    ports = sorted({int(port) for port in re.findall(r"127\.0\.0\.1:(\d+)\s.*\"chromedriver\"", listed)})
    if len(ports) != 1:
        raise RuntimeError(f"{len(ports)} chromedrivers listening on plain host {host.name}: {listed}")
    return ports[0]


def hop_clients(fleet, sessions, holders):
    """{(side, hop): (client, session id)} for one open session per side;
    holders: the host of each side's session."""
    grid, corral, plain = fleet.network.grid, holders["corral"], holders["plain"]
    network, port, base, inner_id = chromedriver_of_corral_session(corral, sessions["corral"])
    return {
        ("corral", "hub"): (KeptAlive(grid, "127.0.0.1", HUB_PORT), sessions["corral"]),
        ("corral", "node"): (KeptAlive(grid, corral.netns.address, NODE_PORT), sessions["corral"]),
        ("corral", "corrald"): (KeptAlive(corral.netns, "127.0.0.1", CORRAL_PORT), sessions["corral"]),
        ("corral", "chromedriver"): (KeptAlive(network, "127.0.0.1", port, base), inner_id),
        ("plain", "hub"): (KeptAlive(grid, "127.0.0.1", HUB_PORT), sessions["plain"]),
        ("plain", "node"): (KeptAlive(grid, plain.netns.address, NODE_PORT), sessions["plain"]),
        ("plain", "chromedriver"): (KeptAlive(plain.netns, "127.0.0.1", chromedriver_of_plain_host(plain)),
                                    sessions["plain"]),
    }


def measure_hops(sides, count):
    """One session per side, opened by a bot; the hops timed on them."""
    bots = {side: sides.bot(side) for side in SIDES}
    try:
        sessions = {side: bot.ask("open")["session_id"] for side, bot in bots.items()}
        holders = {side: sides.check_route(side, session_id) for side, session_id in sessions.items()}
        return title_by_hop(sides.fleet, sessions, holders, count)
    finally:
        for bot in bots.values():
            bot.close()  # the bot quits its session as it goes


def title_by_hop(fleet, sessions, holders, count, warmup=50):
    """Median ms of a title at each hop, and what each hop adds."""
    clients = hop_clients(fleet, sessions, holders)
    times = {key: [] for key in clients}
    try:
        shuffle = random.Random(11).shuffle  # the same orders every run
        for index in range(warmup + count):
            order = list(clients.items())
            shuffle(order)  # no hop always follows the same other hop
            for key, (client, session_id) in order:
                elapsed = client.get(f"/session/{session_id}/title")
                if index >= warmup:
                    times[key].append(elapsed)
    finally:
        for client, _ in clients.values():
            client.close()
    result = {"count": count}
    for side in ("corral", "plain"):
        medians = {hop: round(statistics.median(times[(s, hop)]), 3) for (s, hop) in times if s == side}
        hops = list(medians)  # outermost first
        added = {f"{outer}-{inner}": round(medians[outer] - medians[inner], 3) for outer, inner in zip(hops, hops[1:])}
        result[side] = {"ms": medians, "added_ms": added}
    result["corrald_closed_connections"] = clients[("corral", "corrald")][0].closed_by_server
    return result
