"""Sweeps over bit configurations and their Pareto front.

A configuration is what `estimate(..., bits=)` takes: a (w_bits, a_bits) pair
for every layer, or a dict from layer name to pair. Each result row holds the
configuration's label, latency, energy, fps, model size and fit flag; the
Pareto front minimises latency, energy and model size together.
"""
from __future__ import annotations

import csv
import itertools
import random
import sys

from .schedule import estimate

OBJECTIVES = ("latency_s", "energy_j", "model_size_bits")


def uniform_configs(w_bits, a_bits):
    """Every (w, a) pair from the two lists, applied to all layers."""
    return [(w, a) for w in w_bits for a in a_bits]


def per_layer_configs(workload, w_bits, a_bits, samples, seed=0, keep=()):
    """`samples` random per-layer configurations; layers named in `keep` keep their bits."""
    rng = random.Random(seed)
    choices = list(itertools.product(w_bits, a_bits))
    return [{layer.name: (layer.w_bits, layer.a_bits) if layer.name in keep else rng.choice(choices)
             for layer in workload.layers} for _ in range(samples)]


def label(config):
    if isinstance(config, dict):
        return " ".join(f"w{w}a{a}" for w, a in config.values())
    return f"w{config[0]}a{config[1]}"


def sweep(workload, hardware, configs, progress=None):
    """Estimate each configuration; returns one dict per configuration, in order.

    `progress(done, total)` is called after each estimate when given.
    """
    rows = []
    for i, config in enumerate(configs):
        rep = estimate(workload, hardware, bits=config)
        t = rep.total
        rows.append({"config": label(config), "latency_s": t.latency_s, "energy_j": t.energy_j,
                     "fps": t.fps, "model_size_bits": t.model_size_bits, "cycles": t.cycles,
                     "fits": t.fits, "bound": t.bound})
        if progress:
            progress(i + 1, len(configs))
    for row, on_front in zip(rows, pareto_front(rows)):
        row["pareto"] = on_front
    return rows


def pareto_front(rows, keys=OBJECTIVES):
    """List of bools: True where no other row is <= in every key and < in one."""
    points = [tuple(row[k] for k in keys) for row in rows]
    front = []
    for p in points:
        dominated = any(all(q_i <= p_i for q_i, p_i in zip(q, p)) and q != p for q in points)
        front.append(not dominated)
    return front


def progress_bar(done, total, stream=None, width=30):
    """A one-line text progress bar on stderr."""
    stream = stream or sys.stderr
    filled = width * done // total
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        stream.write("\n")
    stream.flush()


def write_csv(rows, path):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot_pareto(rows, path, title="bit-configuration sweep"):
    """Latency vs energy, marker size by model size, Pareto points highlighted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = [r["model_size_bits"] / 8e6 for r in rows]
    biggest = max(size) or 1.0
    fig, ax = plt.subplots(figsize=(7, 5))
    sc = ax.scatter([r["latency_s"] * 1e3 for r in rows], [r["energy_j"] * 1e3 for r in rows],
                    c=size, s=[20 + 80 * s / biggest for s in size], cmap="viridis", alpha=0.7)
    front = [r for r in rows if r.get("pareto")]
    ax.scatter([r["latency_s"] * 1e3 for r in front], [r["energy_j"] * 1e3 for r in front],
               facecolors="none", edgecolors="red", s=140, label="Pareto (latency, energy, size)")
    for r in front:
        if len(r["config"]) <= 12:
            ax.annotate(r["config"], (r["latency_s"] * 1e3, r["energy_j"] * 1e3), fontsize="x-small")
    fig.colorbar(sc, label="model size (MB)")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("energy per batch (mJ)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
