"""The retry-quality chart: completion time and wasted 429s per strategy and header mode.

Run: python benchmarks/chart.py RESULTS.json OUTPUT.png  (needs matplotlib)

RESULTS.json is what ``retry_quality.py --json`` writes. Each bar is the median of
the repeated runs; its whisker spans their range.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any


def figures(runs: list[dict[str, Any]], key: str, scale: float) -> tuple[float, float, float]:
    values = [r[key] / scale for r in runs]
    median = statistics.median(values)
    return median, median - min(values), max(values) - median


MODE_LABELS = {
    "precise": "precise headers",
    "integer": "integer retry-after",
    "message": "wait only in the message",
}


def draw(report: dict[str, Any], output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(report["modes"])
    strategies = list(report["modes"][modes[0]])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.8 / len(modes)
    panels = [
        ("elapsed", report["ideal"], "completion time / ideal"),
        ("wasted", 1.0, "wasted 429s per call"),
    ]
    for ax, (key, scale, label) in zip(axes, panels):
        for i, mode in enumerate(modes):
            got = [figures(report["modes"][mode][s], key, scale) for s in strategies]
            xs = [x + (i - (len(modes) - 1) / 2) * width for x in range(len(strategies))]
            bars = ax.bar(
                xs,
                [g[0] for g in got],
                width,
                yerr=[[g[1] for g in got], [g[2] for g in got]],
                capsize=2,
                label=MODE_LABELS.get(mode, mode),
            )
            if key == "elapsed":
                # A fast bar of a strategy that gave up on calls is no win: say so on it.
                for bar, s in zip(bars, strategies):
                    share = (
                        statistics.median(r["successes"] for r in report["modes"][mode][s])
                        / report["calls"]
                    )
                    if share < 1:
                        ax.annotate(
                            f"{share:.0%} ok",
                            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center",
                            va="bottom",
                            fontsize=6,
                            rotation=90,
                            xytext=(0, 3),
                            textcoords="offset points",
                        )
        ax.margins(y=0.12)
        ax.set_xticks(range(len(strategies)))
        ax.set_xticklabels(strategies)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    axes[0].axhline(1.0, color="black", linewidth=0.8)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(modes), fontsize=8)
    fig.suptitle(
        f"{report['calls']} concurrent calls, token bucket {report['rate']:g}/s burst"
        f" {report['burst']:g}; median and range of {report['repeats']} runs"
        '; "n% ok": the share of calls that succeeded, where not all did',
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(output, dpi=110)


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: chart.py RESULTS.json OUTPUT.png")
    draw(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")), Path(sys.argv[2]))


if __name__ == "__main__":
    main()
