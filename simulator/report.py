"""Estimate results: per-layer and total cycles, energy, resources; exporters.

All cycles are clock cycles of the engine, times are seconds, energies joules.
For every layer `cycles.total = cycles.compute + cycles.stall + cycles.fill`;
`cycles.memory` is the off-chip transfer time, which overlaps compute and shows
up in `stall` only where it could not be hidden. Energy parts add up to
`energy.total` exactly.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, fields

ENERGY_PARTS = ("xnor", "popcount", "accumulate", "combine", "output", "buffers", "offchip", "static")
RESOURCE_KEYS = ("lut", "ff", "bram18", "dsp", "area_mm2")


@dataclass
class Cycles:
    compute: int = 0    # PE array busy
    memory: int = 0     # off-chip transfers (overlapping compute where double buffered)
    stall: int = 0      # array idle waiting for memory
    fill: int = 0       # pipeline fill
    total: int = 0


@dataclass
class EnergyBreakdown:
    """Joules per part: xnor array, popcount tree, accumulators, branch combiner,
    output unit, on-chip buffers, off-chip port, static power."""

    xnor: float = 0.0
    popcount: float = 0.0
    accumulate: float = 0.0
    combine: float = 0.0
    output: float = 0.0
    buffers: float = 0.0
    offchip: float = 0.0
    static: float = 0.0

    @property
    def total(self):
        return (self.xnor + self.popcount + self.accumulate + self.combine + self.output
                + self.buffers + self.offchip + self.static)

    def __add__(self, other):
        return EnergyBreakdown(*(getattr(self, k) + getattr(other, k) for k in ENERGY_PARTS))

    def to_dict(self):
        return {**asdict(self), "total": self.total}


@dataclass
class LayerReport:
    name: str
    op: str
    w_bits: int
    a_bits: int
    pe: int
    simd: int
    passes: int            # ceil(w_bits * a_bits / branch_units)
    macs: int
    cycles: Cycles
    latency_s: float
    energy: EnergyBreakdown
    utilization: float     # useful xnor bits / (total cycles * pe * simd * branch_units)
    bound: str             # "memory" when off-chip transfer cycles exceed compute cycles, else "compute"
    offchip_bits: int
    resources: dict        # lut, ff, bram18, dsp (fpga) or area_mm2 (asic); dataflow: this layer's engine

    def to_dict(self):
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["cycles"] = asdict(self.cycles)
        d["energy"] = self.energy.to_dict()
        return d


@dataclass
class Total:
    cycles: int             # first input to last output of one batch
    interval_cycles: int    # cycles between batches in steady state (dataflow: slowest stage)
    latency_s: float
    fps: float              # frames per second in steady state
    energy_j: float         # per batch
    energy: EnergyBreakdown
    bound: str
    resources: dict
    budget: dict
    fits: bool
    model_size_bits: int    # weight storage at the estimated bit widths
    macs: int

    def to_dict(self):
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["energy"] = self.energy.to_dict()
        return d


@dataclass
class Report:
    workload: str
    hardware: str
    style: str
    target: str
    clock_mhz: float
    batch: int
    layers: list
    total: Total

    def to_dict(self):
        return {
            "workload": self.workload, "hardware": self.hardware, "style": self.style,
            "target": self.target, "clock_mhz": self.clock_mhz, "batch": self.batch,
            "total": self.total.to_dict(), "layers": [layer.to_dict() for layer in self.layers],
        }

    def to_json(self, indent=2):
        return json.dumps(self.to_dict(), indent=indent)

    def rows(self):
        """Flat per-layer rows (then one 'TOTAL' row) for tables and CSV."""
        out = []
        for lr in self.layers:
            out.append({
                "layer": lr.name, "op": lr.op, "w_bits": lr.w_bits, "a_bits": lr.a_bits,
                "pe": lr.pe, "simd": lr.simd, "passes": lr.passes, "macs": lr.macs,
                **{f"cycles_{k}": v for k, v in asdict(lr.cycles).items()},
                "latency_s": lr.latency_s, "bound": lr.bound, "utilization": lr.utilization,
                **{f"energy_{k}_j": getattr(lr.energy, k) for k in ENERGY_PARTS},
                "energy_j": lr.energy.total,
                **{k: lr.resources.get(k, "") for k in RESOURCE_KEYS},
            })
        t = self.total
        out.append({
            "layer": "TOTAL", "op": "", "w_bits": "", "a_bits": "", "pe": "", "simd": "", "passes": "",
            "macs": t.macs, "cycles_compute": sum(lr.cycles.compute for lr in self.layers),
            "cycles_memory": sum(lr.cycles.memory for lr in self.layers),
            "cycles_stall": sum(lr.cycles.stall for lr in self.layers),
            "cycles_fill": sum(lr.cycles.fill for lr in self.layers), "cycles_total": t.cycles,
            "latency_s": t.latency_s, "bound": t.bound, "utilization": "",
            **{f"energy_{k}_j": getattr(t.energy, k) for k in ENERGY_PARTS}, "energy_j": t.energy_j,
            **{k: t.resources.get(k, "") for k in RESOURCE_KEYS},
        })
        return out

    def to_csv(self):
        rows = self.rows()
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()

    def summary_lines(self):
        t = self.total
        res = ", ".join(f"{k}={_num(v)}" + (f"/{_num(t.budget[k])}" if t.budget.get(k) else "")
                        for k, v in t.resources.items())
        return [
            f"{self.workload} on {self.hardware} ({self.target}, {self.style}, {self.clock_mhz:g} MHz, batch {self.batch})",
            f"latency {t.latency_s * 1e3:.4g} ms ({t.cycles} cycles), {t.fps:.4g} fps, "
            f"energy {t.energy_j * 1e3:.4g} mJ/batch, {t.bound}-bound",
            f"resources {res}; fits: {'yes' if t.fits else 'NO'}; model {t.model_size_bits / 8e6:.4g} MB",
        ]

    def _table(self, markdown):
        head = ["layer", "bits", "pe x simd", "passes", "cycles", "stall", "latency us", "energy uJ", "bound", "util"]
        body = [[lr.name, f"w{lr.w_bits}a{lr.a_bits}", f"{lr.pe}x{lr.simd}", str(lr.passes),
                 str(lr.cycles.total), str(lr.cycles.stall), f"{lr.latency_s * 1e6:.4g}",
                 f"{lr.energy.total * 1e6:.4g}", lr.bound, f"{lr.utilization:.2f}"] for lr in self.layers]
        if markdown:
            lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            lines += ["| " + " | ".join(row) + " |" for row in body]
            return "\n".join([f"**{line}**  " if i == 0 else line + "  "
                              for i, line in enumerate(self.summary_lines())] + [""] + lines) + "\n"
        widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines = self.summary_lines() + ["", fmt.format(*head)] + [fmt.format(*row) for row in body]
        return "\n".join(lines) + "\n"

    def to_table(self):
        return self._table(markdown=False)

    def to_markdown(self):
        return self._table(markdown=True)

    def plot(self, path):
        """Write per-layer latency and energy (stacked by part) bar charts to `path` (png, svg, pdf)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = [lr.name for lr in self.layers]
        x = range(len(names))
        fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(6, 0.35 * len(names) + 2), 7), sharex=True)
        compute = [lr.cycles.compute / (self.clock_mhz * 1e6) * 1e6 for lr in self.layers]
        other = [(lr.cycles.total - lr.cycles.compute) / (self.clock_mhz * 1e6) * 1e6 for lr in self.layers]
        ax1.bar(x, compute, label="compute")
        ax1.bar(x, other, bottom=compute, label="stall + fill")
        ax1.set_ylabel("latency (us)")
        ax1.legend()
        bottom = [0.0] * len(names)
        for part in ENERGY_PARTS:
            vals = [getattr(lr.energy, part) * 1e6 for lr in self.layers]
            ax2.bar(x, vals, bottom=bottom, label=part)
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax2.set_ylabel("energy (uJ)")
        ax2.legend(fontsize="small", ncol=4)
        ax2.set_xticks(list(x))
        ax2.set_xticklabels(names, rotation=90, fontsize="small")
        fig.suptitle(f"{self.workload} on {self.hardware}")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return path


def _num(v):
    return f"{v:.3g}" if isinstance(v, float) else str(v)
