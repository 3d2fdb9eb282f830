"""docs/benchmarks.md: the tables (issue 12's, and the DevTools proxy's), the machine, the commit and the plots of
one run, the headline figures of every run kept in bench/results/, the
method, and the hand-written observations of bench/notes.md.

Only the part between BEGIN and END is this file's: the rest of
docs/benchmarks.md (the WebDriver and Grid sections, written by hand from
their own benches) is kept byte for byte."""
import os

import report
from scenarios.close import ABANDONED_WINDOW_S, LEFTOVER_AFTER_S, SECOND_BOT_DELAY_S
from scenarios.sides import IDLE_TIMEOUT

HERE = os.path.dirname(os.path.abspath(__file__))
BEGIN = "<!-- bench/doc.py writes from here to its end marker; edit bench/notes.md, not this part -->"
END = "<!-- end of bench/doc.py's part -->"


def row(*cells):
    return "| " + " | ".join("–" if c is None else str(c) for c in cells) + " |"


def table(header, rows):
    return "\n".join([row(*header), row(*["---"] * len(header)), *[row(*r) for r in rows]])


def rng(pair):
    return f"{pair[0]}–{pair[1]}" if pair and pair[0] is not None else "–"


def machine_section(m, counts):
    rows = [("CPU", f"{m['cores']} × {m['cpu']} (what /proc/cpuinfo names)"), ("memory", f"{m['memory_gib']} GiB"),
            ("kernel", m["kernel"]), ("OS", m["os"]), ("cgroups", m["cgroup"]), ("PID 1", m["pid1"]),
            ("browser", m["chromium"]), ("driver", m["chromedriver"]),
            ("bot", f"Selenium {m['selenium']}, psutil {m['psutil']} (Debian)"),
            ("commit", f"`{m['commit']}` {m['commit_subject']}" + (" (work tree not clean)" if m["tree_dirty"] else "")),
            ("run", f"`bench/run --{m['mode']}`, {m['started']}, {m['minutes']} min"),
            ("load average", f"{m['loadavg_start']} at the start, {m['loadavg_end']} at the end"),
            ("counts", ", ".join(f"{k} {v}" for k, v in counts.items()))]
    return "## The run\n\n" + table(("", ""), rows)


def goals_section(s):
    rows = [(g["goal"], g["target"], g["measured"], f"**{report.mark(g['met'])}**" + (f": {g['why']}" if g["why"] else ""))
            for g in s["goals"]]
    return "## Goals of issue 12\n\n" + table(("goal", "target", "measured (medians)", ""), rows)


def close_section(s):
    rows = []
    for variant, e in s["close_normal"].items():
        rows.append((f"`{variant}`", e["n"], f"**{e['bot_wait_ms']}** ({rng(e['bot_wait_range'])})",
                     f"{e['gone_ms']} ({rng(e['gone_range'])})", e.get("duration_ms"), e["processes"],
                     e["left_processes"], e["left_dirs"]))
    text = ["## 1. Close → nothing left", "",
            "One Selenium bot per session, the same page, Chromium and chromedriver on every side. *bot's wait*: "
            "from the bot starting its close until the call returned. *gone*: from the same moment until the bench "
            "saw no process of the session alive (polling every 5 ms from outside). *left*: per session, "
            f"{LEFTOVER_AFTER_S:.0f} s after the close began. `kernel`: the same chromedriver and Chromium in a bare "
            "cgroup of their own, timed from the bench's `cgroup.kill` until `cgroup.events` said `populated 0`, "
            "with the bench watching for *gone* meanwhile as during every close. A process counts as gone once it "
            "has begun exiting (`PF_EXITING`): it runs no code any more, and leaves its cgroup a moment later.", "",
            table(("variant", "n", "bot's wait ms (min–max)", "gone ms (min–max)", "corral `duration_ms`", "processes",
                   "left procs", "left dirs"), rows), "",
            "Ratios of the median bot's wait: " + ", ".join(f"{k} **{v}**" for k, v in s["close_ratios"].items()) + "."]
    phased = {v: e["phases_ms"] for v, e in s["close_normal"].items() if e.get("phases_ms")}
    if phased:
        text += ["", "Where corral's close spends its time (median `phases_ms` of the close reports):", "",
                 table(("variant", *report.PHASES),
                       [(f"`{v}`", *[p.get(k) for k in report.PHASES]) for v, p in phased.items()])]
    else:
        text += ["", "The close reports of this commit have no `phases_ms`; no per-phase breakdown."]
    text += ["", "![close times](benchmarks/close_times.png)"]
    return "\n".join(text)


def abandoned_section(s):
    killed = [(f"`{v}`", e["n"], e["processes"], "never" if e["never_gone"] else e["gone_ms"], e["left_processes"],
               e["left_dirs"], ", ".join(sorted(set(e["left_comms"]))) or "–") for v, e in s["close_killed"].items()]
    two = [(f"`{v}`", e["n"], f"{e['neighbour_killed']} of {e['n']}", e["bot_wait_ms"], e["gone_ms"],
            e["left_processes"], e["left_dirs"]) for v, e in s["close_two"].items()]
    return "\n".join([
        "### The bot is SIGKILLed before it quits", "",
        f"Nobody closes the session. corral ends it when its idle timeout ({IDLE_TIMEOUT}) runs out; *gone* counts "
        f"from the kill. For the baselines the bench watches {ABANDONED_WINDOW_S:.0f} s; nothing on the host would "
        "ever end what is left (their parent is gone; init only reaps), so the bench kills it itself afterwards.", "",
        table(("variant", "n", "processes", "gone ms", "left procs", "left dirs", "left, by name"), killed), "",
        "### Two bots at once", "",
        f"Two bots of the same variant, the second started {SECOND_BOT_DELAY_S} s after the first; the first closes, "
        "then the second asks its browser for the page title.", "",
        table(("variant", "n", "neighbour's browser killed", "first bot's wait ms", "gone ms", "left procs",
               "left dirs"), two), "",
        "![leftovers](benchmarks/leftovers.png)"])


def open_scope_section(s):
    o = s["open"]
    scope = [(f"`{v}`", e["n"], f"**{e['op_ms']}**", rng(e["range"]), e["over_bare_ms"]) for v, e in s["scope"].items()]
    return "\n".join([
        "## 2. Open → ready", "",
        "A corral `chrome` session (the `POST` until its `201`, which corrald sends once DevTools answers) against "
        "the same Chromium with corrald's flags launched directly by the bench, as the same user with the same "
        "environment, until `DevToolsActivePort` names a port whose `/json/version` answers.", "",
        table(("", "median ms", "min–max"), [("corral", o["corral_ms"], rng(o["corral_range"])),
                                             ("bare launch", o["bare_ms"], rng(o["bare_range"]))]), "",
        f"Overhead: **{o['overhead_ms']} ms, {o['overhead_pct']} %**.", "",
        "## 3. Scope overhead", "",
        "One operation: open the stub browser (`tests/stub`: 3 children and a setsid escapee, ignores SIGTERM, "
        "answers as DevTools) until it answers, then close it until every process is gone and its dirs are "
        "removed.", "",
        table(("variant", "n", "ms per open+close", "min–max", "over bare ms"), scope), "",
        "![open and scope](benchmarks/open_and_scope.png)"])


def load_section(s):
    levels = sorted({c for t in s["throughput"].values() for c in t}, key=int)
    thr = [(b, *[t.get(c) for c in levels]) for b, t in s["throughput"].items()]
    soak = []
    for backend, run in s["soak"].items():
        g = run["rss_growth"] or {}
        soak.append((backend, run["cycles"], run["cycles_per_s"], run["failures"],
                     ", ".join(f"{k} {v}" for k, v in run["left"].items()), g.get("rss_kib_at_100"),
                     g.get("rss_kib_at_end"), g.get("growth_kib_per_10000"), g.get("growth_kib_per_10000_second_half"),
                     f"{g.get('fds_at_100')} → {g.get('fds_at_end')}", f"{g.get('threads_at_100')} → {g.get('threads_at_end')}",
                     ", ".join(f"{k} {v}" for k, v in run["closed_by_reason"].items() if v)))
    return "\n".join([
        "## 4. Throughput", "",
        "Stub open+close cycles per second through one corrald, clients each opening and closing (`grace=0`) in "
        "a loop.", "",
        table(("backend", *[f"concurrency {c}" for c in levels]), thr), "",
        "![throughput](benchmarks/throughput.png)", "",
        "## 5. Soak", "",
        "Blocks of 20 cycles: 14 closed normally, 2 abandoned by their bot (idle timeout 1 s, reaped by corral), "
        "2 whose browser crashes (SIGSEGV 0.3 s after start), 2 whose browser's main process exits 0.3 s after "
        "start leaving its children and its setsid escapee behind. 4 clients. RSS and fds are read with no "
        "session open (at cycle 100, every 1,000, and the end).", "",
        table(("backend", "cycles", "cycles/s", "failed", "left at the end", "RSS KiB at 100", "RSS KiB at end",
               "growth KiB / 10,000 (from 100)", "growth KiB / 10,000 (second half)", "daemon fds", "daemon threads",
               "closed by reason"), soak), "",
        "![soak RSS](benchmarks/soak_rss.png)"])


def devtools_section(d, counts):
    if not d:
        return ""
    if "skipped" in d:
        return f"## 6. DevTools through corral\n\nNot measured in this run: {d['skipped']}."
    rtt, shots, api, r = d["round_trips"], d["screenshots"], d["api"], d["ratios"]
    c = d["client"]
    rtt_rows = [(f"`{v}`", e["n"], f"**{e['median_us']}** ({rng(e['median_us_range'])})", e["p90_us"], e["p99_us"])
                for v, e in rtt.items()]
    shot_rows = [(f"`{v}`", e["n"], e["png_mb"], e["message_mb"], f"{e['total_ms']} ({rng(e['total_ms_range'])})",
                  f"**{e['mb_per_s']}**", f"{e['transfer_ms']} ({rng(e['transfer_ms_range'])})",
                  f"**{e['wire_mb_per_s']}**") for v, e in shots.items()]
    api_rows = [(f"`{v}`", e["crowd"], e["daemon_fds"], e["n"], f"**{e['p50_us']}** ({rng(e['p50_us_range'])})",
                 e["p90_us"], e["p99_us"], r.get(f"api p50 {v}/none", 1.0), e["new_connection_p50_us"])
                for v, e in api.items()]
    goals = [(g["goal"], g["target"], g["measured"], f"**{report.mark(g['met'])}**") for g in d["goals"]]
    return "\n".join([
        "## 6. DevTools through corral", "",
        "One Chromium session of corral, one page target, one CDP client (`bench/cdp_client.mjs`: Node "
        f"{c['node']}, `ws` {c['ws']}) holding two WebSockets to that page at once: `direct` to the browser's own "
        "port (`devtools.local`), `corral` through corrald's relay (the page's `webSocketDebuggerUrl` in "
        "`<devtools.http>/json/list`). Rounds alternate between them, the order rotating.", "",
        f"**Round trip**: {counts.get('cdp_evals')} sequential `Runtime.evaluate` of `1+1` a round, each timed "
        "from send to its answer; the figures are medians over rounds of each round's median (p90, p99).", "",
        table(("via", "rounds", "µs per message (min–max of rounds)", "p90 µs", "p99 µs"), rtt_rows), "",
        f"corral / direct: **{r['rtt corral/direct']}** (p90 {r['rtt p90 corral/direct']}); corral adds "
        f"**{d['added_us']} µs** a message.", "",
        "**Screenshot**: `Page.captureScreenshot` (PNG) of a 4200×1400 canvas of pseudo-random pixels, a PNG of "
        "over 16 MiB in one WebSocket message of its base64. *whole*: from the command to the whole reply (most "
        "of it is Chromium encoding the PNG); *wire*: from the reply's first bytes to its whole message. MB/s are "
        "the message's bytes (10⁶) a second.", "",
        table(("via", "shots", "PNG MB", "message MB", "whole ms (min–max)", "whole MB/s", "wire ms (min–max)",
               "wire MB/s"), shot_rows), "",
        f"corral / direct: whole **{r['screenshot MB/s corral/direct']}**, wire "
        f"**{r['screenshot wire MB/s corral/direct']}**.", "",
        "### The API beside a crowd of connections", "",
        f"`GET /v1/health`, {counts.get('api_requests')} a round, one after another 10 ms apart on keep-alive "
        "connections (the bench opens a new one every 20 requests); the first request of each "
        "connection, `connect()` included, is counted apart (*new connection*). `idle`: "
        f"{counts.get('api_idle')} connections that send nothing; `trickle`: {counts.get('api_trickle')} that "
        "each send a request line and then a header line a second; both opened anew each round by a process of "
        "their own, just before the requests (corrald cuts a silent connection after 5 s). A round starts once "
        "corrald holds no connection of the last round's crowd, and measures once it has accepted all of its own "
        f"(rounds in which either did not come within 15 s / 1 s: {sum(e.get('unsettled', 0) for e in api.values())}). "
        "*daemon fds*: corrald's open fds meanwhile.", "",
        table(("crowd", "connections", "daemon fds", "rounds", "p50 µs (min–max of rounds)", "p90 µs", "p99 µs",
               "p50 / none", "new connection p50 µs"), api_rows), "",
        table(("goal", "target", "measured (medians)", ""), goals)])


def runs_section(directory):
    rows = []
    for name, data in report.load_runs(directory):
        s, m = data["summary"], data["machine"]
        r = s["close_ratios"]
        c4 = s["throughput"].get("cgroupfs", {}).get("4")
        dev = (s.get("devtools") or {}).get("ratios", {})
        rows.append((m["started"], m["mode"], f"`{m['commit']}`", r.get("corral-forced/seed"),
                     r.get("corral-nowait/seed") if s["nowait_available"] else "n/a", r.get("corral-forced/kernel"),
                     s["open"]["overhead_pct"], c4, dev.get("rtt corral/direct"), dev.get("api p50 idle/none"),
                     "yes" if report.corral_left_nothing(s) else "**no**", m["loadavg_start"]))
    return "\n".join(["## Every run kept in bench/results/", "",
                      table(("started", "mode", "commit", "forced / seed", "no-wait / seed", "forced / kernel",
                             "open overhead %", "cycles/s ×4", "CDP round trip corral / direct",
                             "API p50 1,000 idle / none", "corral left 0", "load at start"), rows)])


def write_doc(results, path, results_dir):
    s, m = results["summary"], results["machine"]
    with open(os.path.join(HERE, "method.md")) as f:
        method = f.read().strip()
    notes_path = os.path.join(HERE, "notes.md")
    notes = ""
    if os.path.exists(notes_path):
        with open(notes_path) as f:
            notes = f.read().strip()
    parts = ["# Benchmarks", "",
             "<!-- Written by bench/run (bench/doc.py) from one run; the observations come from bench/notes.md. -->", "",
             "corral against the cleanup bots write today (the seed's `ChromeWithProperCleanup` and its predecessor), "
             "against a bare launch, a bare cgroup and `systemd-run --user --scope`, side by side in one run on one "
             "machine (issue 12); and corral's DevTools relay against the browser's own port, and the API beside a crowd of connections (section 6). Every figure is a median of rounds in which the variants ran interleaved, the "
             "order rotating; every comparison is a ratio of two medians of the same run. Absolute times depend on "
             "the machine and its load; the ratios are what to compare. Rerun:", "",
             "```sh\nbench/run --quick   # a few minutes\nbench/run --full    # the counts of the issue\n```", "",
             machine_section(m, results["counts"]), goals_section(s), close_section(s), abandoned_section(s),
             open_scope_section(s), load_section(s), devtools_section(s.get("devtools"), results["counts"]), method,
             notes, runs_section(results_dir)]
    after = results["after"]
    parts.append(f"After this run the bench checked the host: **{'clean' if after['clean'] else 'NOT clean'}** "
                 f"(its own processes, cgroups, units, temp dirs, new Chrome dirs in /tmp: "
                 f"{after['left'] if not after['clean'] else 'none'}).")
    replace_generated(path, "\n\n".join(p for p in parts if p) + "\n")


def replace_generated(path, generated):
    """Put `generated` between BEGIN and END in the file at `path`, keeping
    what is before and after them as it is. A new file gets only this part;
    an existing one without both markers is refused rather than overwritten,
    since what is in it would be lost."""
    before, after = "", "\n"
    if os.path.exists(path):
        with open(path, newline="") as f:
            text = f.read()
        start, end = text.find(BEGIN), text.find(END)
        if start < 0 or end < start:
            raise ValueError(f"{path} has no {BEGIN!r} ... {END!r} pair: add them around the generated part first")
        before, after = text[:start], text[end + len(END):]
    with open(path + ".new", "w", newline="") as f:
        f.write(before + BEGIN + "\n" + generated + END + after)
    os.replace(path + ".new", path)
