"""The warm chromedriver pools of bench/grid/grid_bench.py's corral hosts
(corrald --warm chromedriver=N): their counts from each corrald's
/v1/usage, so that a reader sees whether the starts were served warm, and
a wait for them to be full, so that each measurement starts from the
same place."""
import collections
import re
import time

KIND = "chromedriver"
COUNTED = ("hits", "misses", "discarded")
# What corrald says at debug (the fleet's daemons log at debug) for an open
# the pool could not serve for what it asked; a miss for want of a ready
# member says nothing.
MISS = re.compile(r"warm chromedriver: a miss, (.*)$")
NONE_READY = "no warm member ready (or a claim failed)"


def miss_reasons(daemon):
    """{reason: count} of the misses corrald's log gave a reason for so far."""
    found = (MISS.search(line) for line in daemon.log().splitlines())
    return collections.Counter(match.group(1) for match in found if match)


def warm_counts(fleet):
    """{host: /v1/usage's warm.chromedriver} of every corral host; {} without --warm."""
    counts = {}
    for name, host in fleet.hosts.items():
        status, usage = host.daemon.request("GET", "/v1/usage")
        if status != 200:
            raise RuntimeError(f"GET /v1/usage on corral host {name}: {status} {usage}")
        pool = (usage.get("warm") or {}).get(KIND)
        if pool and pool.get("target"):
            counts[name] = {**pool, "miss_reasons": miss_reasons(host.daemon)}
    return counts


def warm_delta(before, after):
    """Hits, misses and discards between two warm_counts, per host and in
    all, with the hit rate of the opens that asked the pool."""
    if not after:
        return None
    by_host = {name: {key: after[name][key] - before.get(name, {}).get(key, 0) for key in COUNTED}
               for name in after}
    total = {key: sum(host[key] for host in by_host.values()) for key in COUNTED}
    asked = total["hits"] + total["misses"]
    total["hit_rate"] = round(total["hits"] / asked, 3) if asked else None
    reasons = collections.Counter()
    for name in after:
        reasons.update(after[name]["miss_reasons"])
        reasons.subtract(before.get(name, {}).get("miss_reasons", {}))
    reasons = {reason: count for reason, count in reasons.items() if count}
    unexplained = total["misses"] - sum(reasons.values())
    total["miss_reasons"] = {**reasons, **({NONE_READY: unexplained} if unexplained else {})}
    return {**total, "by_host": by_host, "ready_at_end": {name: after[name]["ready"] for name in after}}


def wait_pools_full(fleet, timeout=120):
    """Every corral host's pool at its target (no-op without --warm); the
    seconds waited, or a RuntimeError naming the short pools."""
    started = time.monotonic()
    while True:
        counts = warm_counts(fleet)
        short = {name: f"{pool['ready']}/{pool['target']}" for name, pool in counts.items()
                 if pool["ready"] < pool["target"]}
        if not short:
            return round(time.monotonic() - started, 1)
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"warm chromedriver pools not full within {timeout} s: {short}")
        time.sleep(0.2)
