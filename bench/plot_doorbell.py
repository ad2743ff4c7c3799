#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Plots of `mkdp bench doorbell`: latency and consumer CPU against offered
load, one line per strategy, the cache-line floor as a reference.

usage: plot_doorbell.py DIR   (reads DIR/doorbell.json, writes DIR/*.png)
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(out):
    with open(os.path.join(out, "doorbell.json")) as f:
        doc = json.load(f)
    res = doc["results"]
    strategies = {k: v for k, v in res["strategies"].items() if v.get("available")}
    floor = res["floor_cacheline"]["oneway_ns"]["p50"]["median"]

    def paced(loads):
        return [l for l in loads if l["offered_per_s"]]

    def unpaced(loads):
        # Unpaced runs are drawn as stars at the rate they achieved.
        return [l for l in loads if not l["offered_per_s"]]

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, s in strategies.items():
        p = paced(s["loads"])
        x = [l["offered_per_s"] for l in p]
        line, = ax.plot(x, [l["latency_ns"]["p50"]["median"] for l in p], "o-", label=f"{name} p50")
        ax.plot(x, [l["latency_ns"]["p99"]["median"] for l in p], "x--", color=line.get_color(),
                label=f"{name} p99")
        for l in unpaced(s["loads"]):
            ax.plot([l["achieved_per_s"]["median"]], [l["latency_ns"]["p50"]["median"]], "*",
                    color=line.get_color(), markersize=11)
    ax.axhline(floor, color="black", lw=0.8, ls=":", label="cache-line floor (one-way p50)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered load (messages/s; stars: unpaced p50, at the rate achieved)")
    ax.set_ylabel("one-way latency (ns)")
    ax.set_title("Doorbell latency vs offered load")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "latency_vs_load.png"), dpi=110)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, s in strategies.items():
        p = paced(s["loads"])
        x = [1] + [l["offered_per_s"] for l in p]  # idle drawn at 1 message/s on the log axis
        y = [s["idle_cpu_fraction"]["median"]] + [l["cpu_fraction"]["median"] for l in p]
        line, = ax.plot(x, [100 * v for v in y], "o-", label=name)
        for l in unpaced(s["loads"]):
            ax.plot([l["achieved_per_s"]["median"]], [100 * l["cpu_fraction"]["median"]], "*",
                    color=line.get_color(), markersize=11)
    ax.set_xscale("log")
    ax.set_xlabel("offered load (messages/s; leftmost point: idle; stars: unpaced)")
    ax.set_ylabel("consumer CPU (% of one CPU)")
    ax.set_title("Doorbell consumer CPU vs offered load")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "cpu_vs_load.png"), dpi=110)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
