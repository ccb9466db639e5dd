"""PNG of latency percentiles by path, one panel per fixed rate (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PATH_COLOURS = {"direct": "#4c72b0", "relay": "#55a868", "passthrough": "#dd8452", "gateway": "#c44e52",
                "tls": "#8172b3"}
SHOWN = ("p50", "p90", "p99", "p99.9")


def plot_latency(results: dict[str, Any], out: Path) -> Path | None:
    """Grouped bars (log scale, microseconds) of corrected latency per path and rate; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    runs = results["latency"]["runs"]
    rates = sorted({r["rate"] for r in runs})
    paths = [p for p in PATH_COLOURS if any(r["path"] == p for r in runs)]
    fig, axes = plt.subplots(1, len(rates), figsize=(max(7.0, 4.5 * len(rates)), 4.4), squeeze=False, sharey=True)
    width = 0.8 / max(1, len(paths))
    for ax, rate in zip(axes[0], rates, strict=True):
        for k, path in enumerate(paths):
            run = next((r for r in runs if r["rate"] == rate and r["path"] == path), None)
            if run is None:
                continue
            values = [run["corrected"]["percentiles_us"][p] for p in SHOWN]
            xs = [i + (k - (len(paths) - 1) / 2) * width for i in range(len(SHOWN))]
            ax.bar(xs, values, width, label=path, color=PATH_COLOURS[path])
        ax.set_xticks(range(len(SHOWN)), SHOWN)
        ax.set_yscale("log")
        ax.set_title(f"{rate:g} orders/s")
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0][0].set_ylabel("latency (us, log scale)")
    axes[0][-1].legend()
    fig.suptitle("NewOrderSingle -> first ExecutionReport by path, CO-corrected (one run, one simulator)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
