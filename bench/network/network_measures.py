"""The network bench's four measurements, each side by side: the sides take
turns round by round (bench/common/stats.rotated), so that neither always
runs first or last, and every figure kept is the median of its side's
rounds. `sides` is network_sides.Sides; `cdp` a network_clients.CdpWorker
with one connection per side, named after it."""
import os
import statistics
import time

from common import procs
from common.stats import ratio, rotated
from network_clients import WebDriverClient
from network_pages import DOWNLOAD_BYTES, LOADED_SCRIPT, download_script
from network_sides import SIDES

MB = 1e6
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def median(values, digits=2):
    return round(statistics.median(values), digits) if values else None


def compare(times, digits=2):
    """{own, shared, added, ratio, count} of the medians of each side's times,
    and paired_added: the median of the rounds' own-minus-shared differences
    (a round's two samples are taken back to back, so what drifts over the
    run, the machine's load, is mostly taken out of each difference)."""
    own, shared = median(times["own"], digits), median(times["shared"], digits)
    added = round(own - shared, digits) if own is not None and shared is not None else None
    paired = [a - b for a, b in zip(times["own"], times["shared"])]
    return {"own": own, "shared": shared, "added": added, "paired_added": median(paired, digits),
            "ratio": ratio(own, shared), "count": len(times["own"])}


def with_samples(times, digits=2):
    """compare(times), and every sample in the order taken."""
    return {**compare(times, digits), "samples": times}


def open_ready(sides, rounds, warmup=1):
    """POST /v1/sessions → 201, and on until corral's relayed /json/version
    answers (and that last step alone); each side's first open (warmup) not
    counted."""
    times = {key: {side: [] for side in SIDES} for key in ("created_ms", "ready_ms", "json_version_ms")}
    for index in range(warmup + rounds):
        for side in rotated(SIDES, index):
            opened = sides.open_ready(side)
            opened["json_version_ms"] = round(opened["ready_ms"] - opened["created_ms"], 2)
            if index >= warmup:
                for key in times:
                    times[key][side].append(opened[key])
    return {key: with_samples(values) for key, values in times.items()}


def wait_loaded(cdp, side, origin, timeout=30):
    """Until the side's tab shows the page from `origin`, fully loaded."""
    deadline = time.monotonic() + timeout
    while True:
        state = cdp.evaluate(side, LOADED_SCRIPT)
        if state == f"{origin} complete":
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{side}: the page did not load from {origin} within {timeout} s: {state}")
        time.sleep(0.05)


def one_download(cdp, side, pages, round_index):
    got = cdp.evaluate(side, download_script(pages.download_url(round_index)))
    if got["status"] != 200 or got["bytes"] != DOWNLOAD_BYTES:
        raise RuntimeError(f"{side}: the download got {got}")
    return round(got["ms"], 2)


def downloads(sides, cdp, pages, sessions, count, warmup=1, extras=()):
    """The page fetches 5 MB from the public server `count` times per side;
    each corrald's CPU (utime + stime) is read around each of its side's
    downloads, so the CPU counted is that of its own downloads alone.
    `extras` (network_pasta.PastaSide, network_veth.VethSide, started): more
    sides that take their turn in every round, each a Chrome of the bench's
    own with its CDP connection named after its label. The machine's CPU
    is read around every side's downloads (machine_cpu)."""
    extra = {side.label: side for side in extras}
    egress_before = sides.egress("own", sessions["own"])
    tally = download_rounds(sides, cdp, pages, count, warmup, extra)
    egress_after = counted_in(sides, sessions["own"], egress_before["bytes_in"] + (warmup + count) * DOWNLOAD_BYTES)
    if sides.egress("shared", sessions["shared"]) is not None:
        raise RuntimeError("a shared session has a way out: its downloads would not be direct")
    megabytes, times = count * DOWNLOAD_BYTES / MB, tally["ms"]
    result = with_samples({side: times[side] for side in SIDES})
    result["mb_per_s"] = {side: round(DOWNLOAD_BYTES / MB / (median(times[side]) / 1000), 1) for side in SIDES}
    result["corrald_cpu"] = corrald_cpu(tally["ticks"], tally["cpu_ns"], megabytes)
    result["machine_cpu"] = machine_cpu(tally["machine"], megabytes)
    result["own_egress"] = {"bytes_in": egress_after["bytes_in"] - egress_before["bytes_in"],
                            "connections": egress_after["connections"] - egress_before["connections"],
                            "refused": egress_after["refused"]}
    for name, side in extra.items():
        result[name] = extra_figures(side, times[name], tally["cpu_ns"][name], times, megabytes)
    return result


def download_rounds(sides, cdp, pages, count, warmup, extra):
    """The rounds, every side in turn: each kept download's ms, the CPU of its
    way out's process (corrald's, pasta's: ticks and ns) and the machine's
    (busy, softirq) jiffies, summed per side."""
    names = SIDES + tuple(extra)
    tally = {"ms": {name: [] for name in names}, "machine": {name: [0, 0] for name in names},
             "ticks": {name: 0 for name in names}, "cpu_ns": {name: 0 for name in names}}
    for index in range(warmup + count):
        for side in rotated(names, index):
            machine_before = machine_jiffies()
            if side in extra:
                elapsed, ticks, spent_ns = extra_download(extra[side], pages, index)
            else:
                elapsed, ticks, spent_ns = corral_download(sides, cdp, side, pages, index)
            machine_after = machine_jiffies()
            if index >= warmup:
                tally["ms"][side].append(elapsed)
                tally["ticks"][side] += ticks
                tally["cpu_ns"][side] += spent_ns
                tally["machine"][side] = [total + after - before for total, after, before
                                          in zip(tally["machine"][side], machine_after, machine_before)]
    for name in extra:
        del tally["ticks"][name]
    return tally


def corral_download(sides, cdp, side, pages, index):
    """(ms, corrald's CPU ticks, its CPU ns) of one download of a corral side."""
    ticks_before, ns_before = sides.cpu(side)
    elapsed = one_download(cdp, side, pages, f"{index}-{side}")
    ticks_after, ns_after = sides.cpu(side)
    return elapsed, ticks_after - ticks_before, ns_after - ns_before


def machine_jiffies():
    """(busy, softirq) jiffies of the whole machine so far, from /proc/stat's cpu line."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return sum(values) - values[3] - values[4], values[6]  # idle and iowait are not busy


def machine_cpu(jiffies, megabytes):
    """Every side's machine CPU over its downloads, per MB: all cores, every
    process (Chrome, the bench's Python server, the way out) and the
    kernel's softirqs, where forwarding and the loopback's TCP run. Only
    meaningful on an idle machine; ticks of 10 ms, so a run of 15 downloads
    (75 MB) resolves about 0.13 ms per MB."""
    return {"busy_ms_per_mb": {side: round(busy * TICK_MS / megabytes, 3) for side, (busy, _) in jiffies.items()},
            "softirq_ms_per_mb": {side: round(soft * TICK_MS / megabytes, 3) for side, (_, soft) in jiffies.items()},
            "jiffies": jiffies, "tick_ms": TICK_MS}


def extra_download(side, pages, index):
    """(ms, 0 ticks, its way out's process CPU in ns: 0 if it has none) of one download of an extra side."""
    before = side.cpu_ns()
    elapsed = one_download(side.cdp, side.label, pages, f"{index}-{side.label}")
    after = side.cpu_ns()
    return elapsed, 0, (after - before if before is not None else 0)


def extra_figures(side, times, cpu_ns, corral_times, megabytes):
    """An extra side's median against the shared (host network) and own
    (corral's relay) sides, its way out's process CPU per MB (pasta's; the
    veth side has no process), and what the side itself records."""
    ms, shared, own = median(times), median(corral_times["shared"]), median(corral_times["own"])
    figures = {"ms": ms, "mb_per_s": round(DOWNLOAD_BYTES / MB / (ms / 1000), 1), "count": len(times),
               "vs_shared": ratio(ms, shared), "vs_own": ratio(ms, own), "samples": times}
    if side.cpu_ns() is not None:
        figures[f"{side.label}_cpu_ms"] = round(cpu_ns / 1e6, 1)
        figures[f"{side.label}_cpu_ms_per_mb"] = round(cpu_ns / 1e6 / megabytes, 3)
    return {**figures, **side.figures()}


def counted_in(sides, session, at_least):
    """The own session's egress counters once they hold at least `at_least`
    bytes in: proof that every download went through its way out. The
    last connection's bytes may be counted a moment after the page has them."""
    def enough():
        egress = sides.egress("own", session)
        return egress if egress["bytes_in"] >= at_least else None
    return procs.wait_until(enough, 5, f"the own session's way out to count {at_least} bytes in")


def corrald_cpu(ticks, cpu_ns, megabytes):
    """Each corrald's CPU (utime + stime) over its side's downloads, per MB.
    The own side's holds its way out's; the shared side's only the relayed
    CDP messages that ask for and return each download's time, so own -
    shared is the way out's own. Read at the CPU clock's resolution (ms_per_mb)
    and, as a check, in /proc/PID/stat's clock ticks (ticks_ms_per_mb)."""
    per_mb = {side: round(cpu_ns[side] / 1e6 / megabytes, 3) for side in SIDES}
    per_mb_ticks = {side: round(ticks[side] * TICK_MS / megabytes, 3) for side in SIDES}
    return {"megabytes": megabytes, "cpu_ms": {side: round(cpu_ns[side] / 1e6, 1) for side in SIDES},
            "ms_per_mb": per_mb, "way_out_ms_per_mb": round(per_mb["own"] - per_mb["shared"], 3),
            "ticks": ticks, "tick_ms": TICK_MS, "ticks_ms_per_mb": per_mb_ticks}


def cdp_round_trips(cdp, count, block=50, warmup=50):
    """Browser.getVersion through corral, sequential, in blocks of `block`
    taking turns; µs from send to answer."""
    for side in SIDES:
        cdp.calls(side, "Browser.getVersion", warmup)
    times = {side: [] for side in SIDES}
    for index in range(max(1, count // block)):
        for side in rotated(SIDES, index):
            times[side] += cdp.calls(side, "Browser.getVersion", block)
    result = compare(times, digits=1)
    result["p90"] = {side: round(sorted(times[side])[int(0.9 * len(times[side]))], 1) for side in SIDES}
    return result


def webdriver_commands(sides, count, warmup=20):
    """GET /session/{id}/title through corral's WebDriver endpoint, one by
    one, the sides taking turns; ms each, over kept-alive connections."""
    clients = {}
    try:
        for side in SIDES:
            clients[side] = WebDriverClient(sides.port(side))
            clients[side].command("POST", "/url", {"url": "data:text/html,<title>network bench</title>"})
        sides.check_webdriver_networks()
        times = {side: [] for side in SIDES}
        for index in range(warmup + count):
            for side in rotated(SIDES, index):
                elapsed, answer = clients[side].command("GET", "/title")
                if answer["value"] != "network bench":
                    raise RuntimeError(f"{side}: title {answer}")
                if index >= warmup:
                    times[side].append(elapsed)
        return compare(times, digits=3)
    finally:
        for client in clients.values():
            client.quit()
