"""From the records of one run to its summary (medians, ratios, leftovers),
the goals of issue 12 met or not, and the table the command prints."""
import json
import os
import statistics

from common.stats import median, ratio, spread

PHASES = ("grace", "stats", "kill", "verify", "scope", "files")


def one_line(record):
    """A progress line for one record."""
    keys = ("bot_wait_ms", "gone_ms", "ready_ms", "op_ms", "left_processes", "left_dirs", "neighbour_alive")
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

    corral_open, bare_open = median_of(results["open"], "corral", "ready_ms"), median_of(results["open"], "bare", "ready_ms")
    s["open"] = {"corral_ms": corral_open, "bare_ms": bare_open,
                 "corral_range": spread([r["ready_ms"] for r in results["open"] if r["variant"] == "corral"]),
                 "bare_range": spread([r["ready_ms"] for r in results["open"] if r["variant"] == "bare"]),
                 "overhead_ms": round(corral_open - bare_open, 1) if corral_open and bare_open else None,
                 "overhead_pct": round((corral_open / bare_open - 1) * 100, 1) if corral_open and bare_open else None}

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
    return s


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
    path = os.path.join(directory, f"{stamp}-{m['mode']}-{m['commit']}.json")
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
