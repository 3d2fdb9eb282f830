"""Session start at a fixed arrival rate, below saturation (bench/grid/grid_bench.py,
issue 23): an open loop. Sessions arrive on a schedule, whether or not
earlier ones have ended, as a fleet's users arrive; a closed loop (one
bot waiting for its own session) would slow its arrivals down whenever a
side is slow, and hide the queueing a slow side causes.

Both sides' arrivals are interleaved on one schedule, one every
1 / (2 × rate) s, the side going first alternating pair by pair, so that
each side meets the other's load alike. Each side's arrivals are dealt
round robin to bots of its own, enough that a bot's next arrival is
--bot-spacing seconds after its last: a bot still busy at its next time
starts late (counted, and the delay is in from_arrival_ms). Each start is
webdriver.Remote through the hub and its first driver.title, then quit.
Each bot's first start is not counted (its first HTTP connection); it
still loads the machine as the schedule says."""
import math
import time

from common.stats import quantile, ratio
from grid_bench_sides import SIDES
from grid_bench_warm import warm_counts, warm_delta

LEAD_S = 3.0  # from sending the schedules to the first arrival: every bot has read its own
LATE_MS = 100  # a start later than this behind its time is counted as late


def bots_per_side(rate, spacing_s):
    return max(2, math.ceil(rate * spacing_s))


def schedule(rate, count, start):
    """{side: [monotonic time, ...]}: count arrivals a side, both sides on one clock."""
    interval = 1.0 / (2 * rate)
    times = {side: [] for side in SIDES}
    for k in range(2 * count):
        pair, second = divmod(k, 2)
        order = SIDES if pair % 2 == 0 else SIDES[::-1]
        times[order[second]].append(start + k * interval)
    return times


def percentiles(values, digits=1):
    ordered = sorted(values)
    if not ordered:
        return {"p50": None, "p99": None, "count": 0}
    return {"p50": round(quantile(ordered, 0.5), digits), "p99": round(quantile(ordered, 0.99), digits),
            "count": len(ordered)}


def compare_percentiles(samples):
    """p50 and p99 a side, and corral / plain of each."""
    sides = {side: percentiles(samples[side]) for side in SIDES}
    return {**sides, "ratio_p50": ratio(sides["corral"]["p50"], sides["plain"]["p50"]),
            "ratio_p99": ratio(sides["corral"]["p99"], sides["plain"]["p99"])}


def run_schedule(sides, rate, count, spacing_s):
    """Every side's bots given their share of one schedule at once; their answers."""
    per_side = bots_per_side(rate, spacing_s)
    bots = {side: [sides.bot(side) for _ in range(per_side)] for side in SIDES}
    try:
        times = schedule(rate, count, time.monotonic() + LEAD_S)
        for side in SIDES:
            for index, bot in enumerate(bots[side]):
                bot.send({"do": "arrivals", "at": times[side][index::per_side]})
        timeout = count / rate + 300  # the schedule, and a slow tail
        answers = {side: [bot.answer(timeout=timeout) for bot in bots[side]] for side in SIDES}
    finally:
        for side_bots in bots.values():
            for bot in side_bots:
                bot.close()
    return per_side, answers


def summarize(answers):
    """Samples a side (each bot's first start left out), failures and late starts."""
    keys = ("start_ms", "remote_ms", "title_ms", "quit_ms", "from_arrival_ms", "late_ms")
    samples = {key: {side: [] for side in SIDES} for key in keys}
    failures, started = {side: [] for side in SIDES}, {side: 0 for side in SIDES}
    for side in SIDES:
        for answer in answers[side]:
            failures[side] += answer.get("failures", [])
            started[side] += len(answer.get("starts", []))
            for start in sorted(answer.get("starts", []), key=lambda s: s["at"])[1:]:
                start["from_arrival_ms"] = start["late_ms"] + start["start_ms"]
                for key in keys:
                    samples[key][side].append(start[key])
    return samples, failures, started


def fixed_rate_starts(sides, rate, count, spacing_s):
    """The open-loop run: percentiles a side, warm pool counts over it,
    and the nodes that made its sessions (each side's own only)."""
    warm_before, made_before = warm_counts(sides.fleet), sides.sessions_by_node()
    per_side, answers = run_schedule(sides, rate, count, spacing_s)
    warm_after, made_after = warm_counts(sides.fleet), sides.sessions_by_node()
    samples, failures, started = summarize(answers)
    made = {node: made_after[node] - made_before.get(node, 0) for node in made_after}
    for side in SIDES:  # a failed start may or may not have had a session made for it
        on_its_nodes = sum(made[name] for name in sides.hosts_of(side))
        if not started[side] <= on_its_nodes <= started[side] + len(failures[side]):
            raise RuntimeError(f"{side}: {started[side]} sessions started, {len(failures[side])} failed, "
                               f"its nodes made {on_its_nodes} ({made})")
    result = {"rate_per_side_per_s": rate, "arrivals_per_side": count, "bots_per_side": per_side,
              "counted_per_side": {side: len(samples["start_ms"][side]) for side in SIDES}}
    for key in ("start_ms", "remote_ms", "from_arrival_ms", "title_ms", "quit_ms"):
        result[key] = compare_percentiles(samples[key])
    result["late"] = {side: sum(1 for late in samples["late_ms"][side] if late > LATE_MS) for side in SIDES}
    result["failures"] = failures
    result["sessions_by_node"] = made
    result["warm"] = warm_delta(warm_before, warm_after)
    return result
