"""The plots of docs/benchmarks.md, as PNG with matplotlib (Debian's
python3-matplotlib, no display needed)."""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from scenarios.close import NORMAL_VARIANTS  # noqa: E402


def _save(figure, directory, name):
    path = os.path.join(directory, name)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return name


def close_times(results, directory):
    """Per variant, every normal close: the bot's wait and the time until nothing was left."""
    records = results["close"]["normal"]
    variants = [v for v in NORMAL_VARIANTS if any(r["variant"] == v for r in records)]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for axis, key, title in ((axes[0], "bot_wait_ms", "the bot's wait"),
                             (axes[1], "gone_ms", "until no process is left (from outside)")):
        data = [[r[key] for r in records if r["variant"] == v and r.get(key) is not None] for v in variants]
        axis.boxplot(data, labels=variants, showfliers=False)
        for index, values in enumerate(data, start=1):
            axis.scatter([index] * len(values), values, s=12, alpha=0.6)
        axis.set_yscale("log")
        axis.set_title(title)
        axis.tick_params(axis="x", rotation=30)
        axis.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("ms (log scale)")
    return _save(figure, directory, "close_times.png")


def leftovers(results, directory):
    """Processes and dirs left per session, by scenario and variant."""
    s = results["summary"]
    labels, left_procs, left_dirs = [], [], []
    for part, scenario in (("close_normal", "quit"), ("close_killed", "bot killed"), ("close_two", "two bots")):
        for variant, entry in s[part].items():
            if variant == "kernel":
                continue
            labels.append(f"{variant}\n{scenario}")
            left_procs.append(entry["left_processes"] or 0)
            left_dirs.append(entry["left_dirs"] or 0)
    figure, axis = plt.subplots(figsize=(12, 4.2))
    positions = range(len(labels))
    axis.bar([p - 0.2 for p in positions], left_procs, width=0.4, label="processes alive")
    axis.bar([p + 0.2 for p in positions], left_dirs, width=0.4, label="temp dirs")
    axis.set_xticks(list(positions))
    axis.set_xticklabels(labels, fontsize=7, rotation=45, ha="right")
    axis.set_ylabel("left (mean per session; two bots: the pair)")
    axis.legend()
    axis.grid(axis="y", alpha=0.3)
    return _save(figure, directory, "leftovers.png")


def throughput(results, directory):
    figure, axis = plt.subplots(figsize=(6, 4))
    for backend, levels in results["summary"]["throughput"].items():
        xs = [int(c) for c in levels]
        axis.plot(xs, list(levels.values()), marker="o", label=f"corral {backend}")
    axis.axhline(100, linestyle="--", color="grey", label="goal at concurrency 4")
    axis.set_xscale("log", base=2)
    axis.set_xticks([1, 4, 16])
    axis.set_xticklabels(["1", "4", "16"])
    axis.set_xlabel("concurrent clients")
    axis.set_ylabel("stub open+close cycles/s")
    axis.legend()
    axis.grid(alpha=0.3)
    return _save(figure, directory, "throughput.png")


def soak_rss(results, directory):
    figure, axis = plt.subplots(figsize=(6, 4))
    for backend, run in results["soak"].items():
        samples = [s for s in run["samples"] if s["rss_kib"] is not None]
        axis.plot([s["cycle"] for s in samples], [s["rss_kib"] / 1024 for s in samples], marker="o",
                  label=f"corrald, {backend}")
    axis.set_xlabel("cycles")
    axis.set_ylabel("daemon RSS (MiB)")
    axis.legend()
    axis.grid(alpha=0.3)
    return _save(figure, directory, "soak_rss.png")


def open_and_scope(results, directory):
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for axis, records, key, title in ((axes[0], results["open"], "ready_ms", "open → DevTools answers (Chromium)"),
                                      (axes[1], results["scope"], "op_ms", "stub open+close")):
        variants = list(dict.fromkeys(r["variant"] for r in records))
        data = [[r[key] for r in records if r["variant"] == v] for v in variants]
        axis.boxplot(data, labels=variants, showfliers=False)
        for index, values in enumerate(data, start=1):
            axis.scatter([index] * len(values), values, s=10, alpha=0.5)
        axis.set_title(title)
        axis.set_ylabel("ms")
        axis.tick_params(axis="x", rotation=20)
        axis.grid(axis="y", alpha=0.3)
    return _save(figure, directory, "open_and_scope.png")


def draw(results, directory):
    """Every plot into directory; their file names."""
    os.makedirs(directory, exist_ok=True)
    return [draw_one(results, directory) for draw_one in (close_times, leftovers, open_and_scope, throughput, soak_rss)]
