#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Plots of `mkdp bench all`: throughput per path, latency distributions,
CPU per frame, storage IOPS and the doorbell ladder.

usage: plot_all.py DIR   (reads DIR/report.json, writes DIR/*.png)
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PATHS = ["partition", "namespace", "kvm"]
COLOURS = {"partition": "tab:green", "namespace": "tab:blue", "kvm": "tab:red"}


def med(x):
    if isinstance(x, dict):
        return x.get("median", 0)
    return x or 0


def save(fig, ax, out, name, title, legend=True):
    ax.set_title(title)
    if legend:
        ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, name), dpi=110)
    plt.close(fig)


def bars(out, name, title, ylabel, labels, values, colours, log=False):
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(labels, values, color=colours)
    for i, v in enumerate(values):
        ax.annotate(f"{v:,.0f}" if v >= 10 else f"{v:.2f}", (i, v), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    save(fig, ax, out, name, title, legend=False)


def network(out, net, machine):
    paths = [p for p in PATHS if p in net]
    cols = [COLOURS[p] for p in paths]
    bars(out, "network_throughput.png", f"Frames delivered and consumed ({machine})", "frames/s",
         paths, [med(net[p]["pps"]) for p in paths], cols)
    bars(out, "network_cpu_per_frame.png", "CPU per frame (all threads of the path)", "ns",
         paths, [med(net[p]["cpu_ns_per_frame"]) for p in paths], cols)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for p in paths:
        cdf = net[p]["latency_ns"].get("cdf_5pct")
        if not cdf:
            continue
        qs = [q / 100 for q in range(0, 100, 5)] + [0.999]
        ax.plot([v / 1000 for v in cdf], qs, label=p, color=COLOURS[p])
    ax.set_xscale("log")
    ax.set_xlabel("injection to consumption, us (log)")
    ax.set_ylabel("fraction of frames")
    save(fig, ax, out, "network_latency.png", "Latency distribution")


def storage(out, sto):
    keys = ["randread_qd1", "randread_qd32", "randwrite_qd1", "randwrite_qd32"]
    paths = [p for p in PATHS if p in sto]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / max(1, len(paths))
    for i, p in enumerate(paths):
        vals = [med(sto[p][k]["iops"]) if k in sto[p] else 0 for k in keys]
        ax.bar([j + i * width for j in range(len(keys))], vals, width, label=p, color=COLOURS[p])
    ax.set_xticks([j + width * (len(paths) - 1) / 2 for j in range(len(keys))])
    ax.set_xticklabels([k.replace("_", " ") for k in keys])
    ax.set_ylabel("IOPS (4 KiB)")
    save(fig, ax, out, "storage_iops.png", "Storage")


def doorbells(out, rows):
    rows = [r for r in rows if r.get("measured")]
    if not rows:
        return
    rows.sort(key=lambda r: med(r["oneway_p50_ns"]))
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.2))
    names = [r["name"] for r in rows]
    p50 = [med(r["oneway_p50_ns"]) for r in rows]
    p99 = [med(r["oneway_p99_ns"]) for r in rows]
    ax.barh(names, p99, color="lightgrey", label="p99")
    ax.barh(names, p50, color="tab:purple", label="p50")
    ax.set_xscale("log")
    ax.set_xlabel("one-way latency, ns (log)")
    ax.invert_yaxis()
    save(fig, ax, out, "doorbell_ladder.png", "The doorbell ladder")


def main(out):
    with open(os.path.join(out, "report.json")) as f:
        doc = json.load(f)
    res = doc["results"]
    machine = doc["machine"].get("cpu", "?")
    if "network" in res:
        network(out, res["network"], machine)
    if "storage" in res:
        storage(out, res["storage"])
    if "doorbells" in res:
        doorbells(out, res["doorbells"])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
