"""From the records of one run to its summary (medians, ratios, leftovers),
the goals of issue 12 met or not, and the table the command prints."""
import json
import os
import statistics

from common.stats import median, ratio, spread

PHASES = ("grace", "stats", "kill", "verify", "scope", "files")


def one_line(record):
    """A progress line for one record."""
    keys = ("bot_wait_ms", "gone_ms", "ready_ms", "op_ms", "left_processes", "left_dirs", "neighbour_alive",
            "median_us", "p90_us", "mb_per_s", "wire_mb_per_s", "crowd", "p50_us")
    return ", ".join(f"{k} {record[k]}" for k in keys if k in record)


def mean(values):
    values = [v for v in values if v is not None]
    return round(statistics.mean(values), 2) if values else None


def by_variant(records, key="variant"):
    groups = {}
    for record in records:
        groups.setdefault(record[key], []).append(record)
    return groups


def close_summary(records):
    out = {}
    for variant, rows in by_variant(records).items():
        waits, gones = [r.get("bot_wait_ms") for r in rows], [r.get("gone_ms") for r in rows]
        entry = {"n": len(rows), "bot_wait_ms": median(waits), "bot_wait_range": spread(waits),
                 "gone_ms": median(gones), "gone_range": spread(gones),
                 "never_gone": sum(1 for g in gones if g is None),
                 "processes": median([r.get("processes_at_close", r.get("processes_at_kill")) for r in rows]),
                 "left_processes": mean([r["left_processes"] for r in rows]),
                 "left_dirs": mean([r.get("left_dirs") for r in rows]),
                 "left_comms": next((r["left_comms"] for r in rows if r.get("left_comms")), [])}
        reports = [r["report"] for r in rows if r.get("report")]
        if reports:
            entry["duration_ms"] = median([rep.get("duration_ms") for rep in reports])
            entry["processes_killed"] = median([rep.get("processes_killed") for rep in reports])
            entry["verified_empty"] = all(rep.get("verified_empty") for rep in reports)
            phased = [rep["phases_ms"] for rep in reports if isinstance(rep.get("phases_ms"), dict)]
            if phased:
                entry["phases_ms"] = {p: median([ph.get(p) for ph in phased]) for p in PHASES}
        if any("http_status" in r for r in rows):
            entry["http_status"] = sorted({r.get("http_status") for r in rows})
        if any("neighbour_alive" in r for r in rows):
            entry["neighbour_killed"] = sum(1 for r in rows if not r["neighbour_alive"])
        out[variant] = entry
    return out


def median_of(records, variant, key):
    return median([r[key] for r in records if r["variant"] == variant])


def summarize(results):
    closes = results["close"]
    normal = close_summary(closes["normal"])
    s = {"close_normal": normal, "close_killed": close_summary(closes["killed"]),
         "close_two": close_summary(closes["two"])}
    seed_wait = normal.get("seed", {}).get("bot_wait_ms")
    kernel = normal.get("kernel", {}).get("bot_wait_ms")
    s["close_ratios"] = {
        f"{v}/seed": ratio(normal[v]["bot_wait_ms"], seed_wait) for v in normal if v != "seed"}
    s["close_ratios"]["corral-forced/kernel"] = ratio(normal.get("corral-forced", {}).get("bot_wait_ms"), kernel)
    s["close_ratios"]["corral-forced duration_ms/kernel"] = ratio(
        normal.get("corral-forced", {}).get("duration_ms"), kernel)
    s["nowait_available"] = 202 in normal.get("corral-nowait", {}).get("http_status", [])

    s["open"] = open_summary(results["open"])

    scope = {v: {"op_ms": median([r["op_ms"] for r in rows]), "range": spread([r["op_ms"] for r in rows]),
                 "n": len(rows)} for v, rows in by_variant(results["scope"]).items()}
    bare = scope.get("bare", {}).get("op_ms")
    for entry in scope.values():
        entry["over_bare_ms"] = round(entry["op_ms"] - bare, 1) if bare else None
    s["scope"] = scope
    s["throughput"] = {}
    for record in results["throughput"]:
        s["throughput"].setdefault(record["backend"], {})[str(record["concurrency"])] = record["cycles_per_s"]
    s["soak"] = {b: {k: run[k] for k in ("cycles", "cycles_per_s", "left", "failures", "rss_growth",
                                          "closed_by_reason", "seconds")}
                 for b, run in results["soak"].items()}
    s["goals"] = goals(s)
    if "devtools" in results:
        s["devtools"] = devtools_summary(results["devtools"])
    return s


# --- 6: DevTools through corral, the API beside a crowd ----------------------

def per_variant(records, keys):
    """{variant: {key: median over its rounds, key_range: (min, max), n}}."""
    out = {}
    for variant, rows in by_variant(records).items():
        entry = {"n": len(rows)}
        for key in keys:
            entry[key] = median([r[key] for r in rows])
            entry[f"{key}_range"] = spread([r[key] for r in rows])
        out[variant] = entry
    return out


def shots_summary(records):
    """Every screenshot of a variant pooled: medians of its sizes, times and MB/s."""
    out = {}
    for variant, rows in by_variant(records).items():
        shots = [shot for r in rows for shot in r["shots"]]
        out[variant] = {"n": len(shots), "png_mb": median([s["png_bytes"] / 1e6 for s in shots]),
                        "message_mb": median([s["message_bytes"] / 1e6 for s in shots])}
        for key in ("total_ms", "transfer_ms", "mb_per_s", "wire_mb_per_s"):
            out[variant][key] = median([s[key] for s in shots])
            out[variant][f"{key}_range"] = spread([s[key] for s in shots])
    return out


def devtools_summary(d):
    if "skipped" in d:
        return {"skipped": d["skipped"]}
    rtt = per_variant(d["round_trips"], ("median_us", "p90_us", "p99_us"))
    shots = shots_summary(d["screenshots"])
    api = per_variant(d["api"], ("p50_us", "p90_us", "p99_us", "daemon_fds", "crowd"))
    for variant, rows in by_variant(d["api"]).items():  # the first request of each connection, connect() included
        firsts = [t for r in rows for t in r["new_connection_us"]]
        api[variant].update(new_connection_n=len(firsts), new_connection_p50_us=median(firsts),
                            unsettled=sum(1 for r in rows if not r.get("settled", True)))
    direct, corral = rtt["direct"]["median_us"], rtt["corral"]["median_us"]
    s = {"client": d["client"], "round_trips": rtt, "screenshots": shots, "api": api, "ratios": {
        "rtt corral/direct": ratio(corral, direct),
        "rtt p90 corral/direct": ratio(rtt["corral"]["p90_us"], rtt["direct"]["p90_us"]),
        "screenshot MB/s corral/direct": ratio(shots["corral"]["mb_per_s"], shots["direct"]["mb_per_s"]),
        "screenshot wire MB/s corral/direct": ratio(shots["corral"]["wire_mb_per_s"], shots["direct"]["wire_mb_per_s"]),
        "api p50 idle/none": ratio(api["idle"]["p50_us"], api["none"]["p50_us"]),
        "api p90 idle/none": ratio(api["idle"]["p90_us"], api["none"]["p90_us"]),
        "api p50 trickle/none": ratio(api["trickle"]["p50_us"], api["none"]["p50_us"]),
        "api p90 trickle/none": ratio(api["trickle"]["p90_us"], api["none"]["p90_us"]),
        "api new connection p50 idle/none": ratio(api["idle"]["new_connection_p50_us"],
                                                  api["none"]["new_connection_p50_us"]),
        "api new connection p50 trickle/none": ratio(api["trickle"]["new_connection_p50_us"],
                                                     api["none"]["new_connection_p50_us"])}}
    s["added_us"] = round(corral - direct, 1)
    s["goals"] = devtools_goals(s)
    return s


def devtools_goals(s):
    r, rtt, shots, api = s["ratios"], s["round_trips"], s["screenshots"], s["api"]
    rt, mb, wire, idle = (r["rtt corral/direct"], r["screenshot MB/s corral/direct"],
                          r["screenshot wire MB/s corral/direct"], r["api p50 idle/none"])
    return [
        goal("CDP round trip (Runtime.evaluate 1+1), corral / direct", "≤ 1.15",
             f"{rt} ({rtt['corral']['median_us']} / {rtt['direct']['median_us']} µs, +{s['added_us']} µs a message)",
             rt is not None and rt <= 1.15),
        goal("screenshot MB/s, corral / direct (command to whole reply)", "≥ 0.9",
             f"{mb} ({shots['corral']['mb_per_s']} / {shots['direct']['mb_per_s']} MB/s)", mb is not None and mb >= 0.9),
        goal("screenshot MB/s on the wire (first byte to whole reply), corral / direct", "≥ 0.9",
             f"{wire} ({shots['corral']['wire_mb_per_s']} / {shots['direct']['wire_mb_per_s']} MB/s)",
             wire is not None and wire >= 0.9),
        goal(f"GET /v1/health p50 with {api['idle']['crowd']} idle connections / none", "≤ 2",
             f"{idle} ({api['idle']['p50_us']} / {api['none']['p50_us']} µs)", idle is not None and idle <= 2)]


def devtools_text(d, machine=None):
    if "skipped" in d:
        return f"devtools: {d['skipped']}"
    lines = ["", "DevTools through corral vs direct (medians of rounds):"]
    for via, e in d["round_trips"].items():
        lines.append(f"  1+1 round trip {via:<7} median {e['median_us']} µs (rounds {e['median_us_range']}), "
                     f"p90 {e['p90_us']} µs")
    for via, e in d["screenshots"].items():
        lines.append(f"  screenshot {via:<7} {e['n']} × {e['png_mb']} MB PNG ({e['message_mb']} MB message): "
                     f"{e['total_ms']} ms, {e['mb_per_s']} MB/s; wire {e['transfer_ms']} ms, {e['wire_mb_per_s']} MB/s")
    for variant, e in d["api"].items():
        lines.append(f"  GET /v1/health, crowd {variant:<8} ({e['crowd']} conns, daemon fds {e['daemon_fds']}): "
                     f"p50 {e['p50_us']} µs, p90 {e['p90_us']} µs, p99 {e['p99_us']} µs; "
                     f"new connection p50 {e['new_connection_p50_us']} µs")
    lines.append("  ratios: " + ", ".join(f"{k} {v}" for k, v in d["ratios"].items()) + f"; added {d['added_us']} µs")
    lines += [f"  [{mark(g['met'])}] {g['goal']}: {g['measured']} (goal {g['target']})" for g in d["goals"]]
    if machine:
        lines.append(f"machine: {machine['cores']} x {machine['cpu']}, kernel {machine['kernel']}, "
                     f"{machine['chromium']}, commit {machine['commit']}, load {machine['loadavg_start']} -> "
                     f"{machine.get('loadavg_end')}; client {d['client']}")
    return "\n".join(lines)


def corral_left_nothing(s):
    """No process or dir left by any corral variant in any close scenario, nor anything by the soak."""
    close_left = [e for part in ("close_normal", "close_killed", "close_two") for v, e in s[part].items()
                  if v.startswith("corral")]
    return (all(not e["left_processes"] and not e["left_dirs"] for e in close_left)
            and all(not any(run["left"].values()) for run in s["soak"].values()))


def soak_failed_nothing(s):
    return all(not run["failures"] for run in s["soak"].values())


def goal(name, target, measured, met, why=""):
    return {"goal": name, "target": target, "measured": measured, "met": met, "why": why}


def goals(s):
    normal, ratios = s["close_normal"], s["close_ratios"]
    found = []
    nowait = ratios.get("corral-nowait/seed")
    if s["nowait_available"]:
        found.append(goal("bot's wait, close that does not wait / seed's happy-path cleanup", "≤ 0.5",
                          f"{nowait} ({normal['corral-nowait']['bot_wait_ms']} / {normal['seed']['bot_wait_ms']} ms)",
                          nowait is not None and nowait <= 0.5))
    else:
        found.append(goal("bot's wait, close that does not wait / seed's happy-path cleanup", "≤ 0.5", "not measured",
                          None, "this corrald answered ?wait=0 with 200 after the whole cleanup: the close that "
                          "does not wait is not in the commit measured"))
    forced, own = ratios.get("corral-forced/kernel"), ratios.get("corral-forced duration_ms/kernel")
    why = ""
    if forced is not None and forced > 1.1 and own is not None and own <= 1.1:
        why = f"corral's own duration_ms is {own}× the teardown; the rest is the HTTP round trip and the bot's Python"
    found.append(goal("waiting close (forced) / kernel teardown of the same Chromium", "≤ 1.1",
                      f"{forced} ({normal.get('corral-forced', {}).get('bot_wait_ms')} / "
                      f"{normal.get('kernel', {}).get('bot_wait_ms')} ms)", forced is not None and forced <= 1.1, why))
    found.append(goal("left behind in every corral scenario", "0", "0" if corral_left_nothing(s) else "see tables",
                      corral_left_nothing(s)))
    pct = s["open"]["overhead_pct"]
    found.append(goal("open → ready overhead over a bare launch", "≤ 5 %",
                      f"{pct} % ({s['open']['overhead_ms']} ms)", pct is not None and pct <= 5,
                      "" if pct is None or pct <= 5 else "see the observations below (the state file's fsync)"))
    run = s["scope"].get("systemd-run", {}).get("op_ms")
    for backend in ("corral-cgroupfs", "corral-systemd-user"):
        mine = s["scope"].get(backend, {}).get("op_ms")
        if mine is not None and run:
            found.append(goal(f"scope overhead, {backend} vs systemd-run --user --scope", "≤ systemd-run",
                              f"{mine} vs {run} ms per open+close", mine <= run))
    c4 = s["throughput"].get("cgroupfs", {}).get("4")
    found.append(goal("stub cycles/s at concurrency 4 (cgroupfs)", "≥ 100", f"{c4}", c4 is not None and c4 >= 100))
    growth = (s["soak"].get("cgroupfs") or {}).get("rss_growth")
    if growth:
        per_10k = growth["growth_kib_per_10000"]
        measured = (f"{per_10k} KiB ({growth['rss_kib_at_100']} KiB at 100, {growth['rss_kib_at_end']} KiB at "
                    f"{growth['cycles_at_end']})")
        why = "" if growth["cycles_at_end"] >= 10000 else \
            f"extrapolated from {growth['cycles_at_end']} cycles, while the 256-session history still fills"
        if "growth_kib_per_10000_second_half" in growth:
            measured += (f"; over the second half (cycles {growth['cycles_at_half']}–{growth['cycles_at_end']}): "
                         f"{growth['growth_kib_per_10000_second_half']} KiB per 10,000")
        arena1 = (s["soak"].get("cgroupfs, MALLOC_ARENA_MAX=1") or {}).get("rss_growth")
        if arena1 and per_10k > 1024:
            why = (why + "; " if why else "") + (
                f"with MALLOC_ARENA_MAX=1 the same soak grew {arena1['growth_kib_per_10000']} KiB "
                f"({arena1.get('growth_kib_per_10000_second_half')} KiB per 10,000 over its second half): "
                "most of the growth is glibc's per-thread malloc arenas, not memory corrald keeps")
        found.append(goal("daemon RSS growth per 10,000 cycles (cgroupfs)", "≤ 1024 KiB", measured,
                          per_10k <= 1024, why))
    return found


def mark(met):
    return {True: "met", False: "NOT met", None: "not measured"}[met]


def text_table(results):
    s = results["summary"]
    lines = ["", "close -> nothing left (normal quit), medians:",
             f"{'variant':<17}{'n':>3}{'bot wait ms':>13}{'gone ms':>10}{'procs':>7}{'left procs':>12}{'left dirs':>11}"]
    for variant, e in s["close_normal"].items():
        lines.append(f"{variant:<17}{e['n']:>3}{e['bot_wait_ms']!s:>13}{e['gone_ms']!s:>10}{e['processes']!s:>7}"
                     f"{e['left_processes']!s:>12}{e['left_dirs']!s:>11}")
    for part, title in (("close_killed", "bot SIGKILLed"), ("close_two", "two bots")):
        lines.append(f"\n{title}:")
        for variant, e in s[part].items():
            extra = f", neighbour killed {e['neighbour_killed']}/{e['n']}" if "neighbour_killed" in e else ""
            gone = f"{e['gone_ms']} ms" if e["never_gone"] == 0 else "never"
            lines.append(f"  {variant:<16} gone {gone}, "
                         f"left {e['left_processes']} procs, {e['left_dirs']} dirs{extra}")
    lines.append("\nratios: " + ", ".join(f"{k} {v}" for k, v in s["close_ratios"].items()))
    o = s["open"]
    lines.append(f"open -> ready: corral {o['corral_ms']} ms, bare {o['bare_ms']} ms, overhead {o['overhead_ms']} ms "
                 f"({o['overhead_pct']} %)")
    lines.append("scope, ms per open+close: " + ", ".join(f"{v} {e['op_ms']}" for v, e in s["scope"].items()))
    for backend, levels in s["throughput"].items():
        lines.append(f"throughput {backend}: " + ", ".join(f"x{c} {v}/s" for c, v in levels.items()))
    for backend, run in s["soak"].items():
        lines.append(f"soak {backend}: {run['cycles']} cycles, left {run['left']}, failures {run['failures']}, "
                     f"RSS {run['rss_growth']}")
    if "devtools" in s:
        lines.append(devtools_text(s["devtools"]))
    lines.append("\ngoals:")
    for g in s["goals"]:
        lines.append(f"  [{mark(g['met'])}] {g['goal']}: {g['measured']} (goal {g['target']}) {g['why']}")
    m = results["machine"]
    lines.append(f"\nmachine: {m['cores']} x {m['cpu']}, {m['memory_gib']} GiB, kernel {m['kernel']}, {m['cgroup']}; "
                 f"{m['chromium']}; commit {m['commit']}; load {m['loadavg_start']} -> {m.get('loadavg_end')}; "
                 f"{m.get('minutes')} min")
    return "\n".join(lines)


def save(results, directory):
    os.makedirs(directory, exist_ok=True)
    m = results["machine"]
    stamp = m["started"].replace(" UTC", "").replace(" ", "T").replace(":", "")
    # Some benches name their start to the minute: a second run within it
    # must not overwrite the first's record.
    path = os.path.join(directory, f"{stamp}-{m['mode']}-{m['commit']}.json")
    again = 1
    while os.path.exists(path):
        again += 1
        path = os.path.join(directory, f"{stamp}-{m['mode']}-{m['commit']}-{again}.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1, default=list)
        f.write("\n")
    return path


def load_runs(directory):
    runs = []
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        if name.endswith(".json"):
            with open(os.path.join(directory, name)) as f:
                data = json.load(f)
            if "summary" in data and "goals" in data["summary"]:
                runs.append((name, data))
    return runs


def open_summary(records):
    """Open -> ready, corral against a bare launch: medians, ranges, overhead."""
    corral_open, bare_open = median_of(records, "corral", "ready_ms"), median_of(records, "bare", "ready_ms")
    return {"corral_ms": corral_open, "bare_ms": bare_open,
            "corral_range": spread([r["ready_ms"] for r in records if r["variant"] == "corral"]),
            "bare_range": spread([r["ready_ms"] for r in records if r["variant"] == "bare"]),
            "overhead_ms": round(corral_open - bare_open, 1) if corral_open and bare_open else None,
            "overhead_pct": round((corral_open / bare_open - 1) * 100, 1) if corral_open and bare_open else None}


def open_text(records, machine):
    """bench/run --only open: the figures, the machine named."""
    o = open_summary(records)
    return (f"open -> ready over {len(records) // 2} interleaved rounds on {machine['cores']} x {machine['cpu']}, "
            f"load {machine['loadavg_start']}: corral {o['corral_ms']} ms (range {o['corral_range']}), "
            f"bare {o['bare_ms']} ms (range {o['bare_range']}), overhead {o['overhead_ms']} ms ({o['overhead_pct']} %)")
