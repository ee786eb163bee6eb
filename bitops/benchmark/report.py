"""Rows, ratios, targets, and the outputs: a text table, JSON, CSV and a PNG plot.

Ratios are speedups measured in the same run: `vs_X = best time of X / best
time of this row` on the same case and thread count (> 1: this row is faster).
Throughput is in Gop/s of the row's own unit: bit-ops for binary kernels
(cases.bit_ops), multiply-accumulates for the integer and float peers.
`roofline_fraction` = achieved bit-ops/s / (threads x the best single-core
xor-popcount roofline method).
"""
import csv
import json

from bitops.benchmark import peers as P
from bitops.benchmark.cases import config_name, parse_bits

# kind -> [(ratio field, column header, peers whose fastest variant is the baseline)]. An integer
# peer is a baseline for a bitops row only if it computes that row's weights exactly (its
# weight_bits, 0 when its check found wrong values): onnxruntime's u8s8 with 7-bit weights is the
# same problem as W7 and narrower, not as W8.
BASELINES = {
    "gemm": [
        ("vs_numpy_f32", "x np f32", (P.NUMPY_F32,)),
        ("vs_ort_int8", "x ort int8", (P.ORT_MATMULINTEGER, P.ORT_MATMULINTEGER_U8U8, P.ORT_MATMULINTEGER_S8)),
    ],
    "conv": [
        ("vs_ort_conv_f32", "x ort f32", (P.ORT_CONV_F32,)),
        ("vs_ort_qlinearconv", "x ort qconv", (P.ORT_QLINEARCONV,)),
        ("vs_lce", "x LCE", (P.LCE, P.LCE + " indirect")),
    ],
}

# The issue's targets (single thread unless stated): (id, text, threshold).
TARGETS = {
    "w1a1_gemm_roofline": "W1A1 GEMM >= 60% of the popcount roofline (1 thread)",
    "w1a1_gemm_vs_numpy": "W1A1 GEMM >= 5x numpy f32 matmul (1 thread)",
    "w2a2_gemm_vs_numpy": "W2A2 GEMM >= 1.3x numpy f32 matmul (1 thread)",
    "gemm_vs_ort_int8": "{cfg} GEMM >= 1x onnxruntime MatMulInteger (1 thread)",
    "w1a1_conv_vs_lce": "W1A1 conv >= 3x LCE best x86 path (1 thread)",
    "threads_scaling": "{cfg} {kind}: 2 threads >= 1.8x 1 thread",
}


def build_rows(results, roofline_best):
    """results: list of (Runner, Timing, check error or None) -> list of row dicts with ratios."""
    rows = []
    for runner, timing, err in results:
        case = runner.case
        binary = runner.bits is not None
        gops = runner.ops / timing.best / 1e9
        rows.append(
            {
                "kind": case.kind,
                "case": case.name,
                "threads": runner.threads,
                "name": runner.name,
                "bitops": runner.is_bitops,
                "variant": runner.variant,
                "bits": config_name(*runner.bits) if binary else "",
                "path": runner.path,
                "explain": runner.explain,
                "best_s": timing.best,
                "median_s": timing.median,
                "samples_s": timing.samples,
                "calls_per_sample": timing.number,
                "ops": runner.ops,
                "ops_unit": "bit-op" if binary else "MAC",
                "gops_per_s": gops,
                "roofline_fraction": gops / (runner.threads * roofline_best) if binary and roofline_best else None,
                "check": _check_text(runner, err),
                "weight_bits": _exact_weight_bits(runner, err),
            }
        )
    by_key = {(r["case"], r["threads"], r["name"]): r for r in rows}
    for r in rows:
        w_bits = _widths(r)[0] if r["bitops"] else 1  # any exact integer peer is a baseline for a peer
        for field, _, names in BASELINES[r["kind"]]:
            peers_ = [by_key.get((r["case"], r["threads"], n)) for n in names]
            times = [p["best_s"] for p in peers_ if p is not None and (p["weight_bits"] is None or
                                                                        p["weight_bits"] >= w_bits)]
            r[field] = min(times) / r["best_s"] if times else None
        one = by_key.get((r["case"], 1, r["name"]))
        r["vs_1thread"] = one["best_s"] / r["best_s"] if one is not None and r["threads"] != 1 else None
    return rows


def _check_text(runner, err):
    if err is None:
        return "not checked"
    if err == 0:
        return "exact"
    return f"WRONG, max err {err:g}" if runner.may_be_wrong else f"max err {err:g}"


def _exact_weight_bits(runner, err):
    """The widest weights the runner computed exactly in this run (None: not an integer peer)."""
    if runner.weight_bits is None:
        return None
    if runner.may_be_wrong and err != 0:  # wrong here, or unchecked (--no-check): no baseline
        return 0
    return runner.weight_bits


def _widths(row):
    """(w_bits, a_bits) of a bitops row, read back from its 'W2A4' label."""
    return parse_bits(row["bits"])[0]


def _find(rows, kind, name, threads=1):
    for r in rows:
        if r["kind"] == kind and r["name"] == name and r["threads"] == threads:
            return r
    return None


def evaluate_targets(rows):
    """The issue's targets as data: measured value, threshold, met (True/False, None = not measurable here)."""
    out = []

    def add(tid, text, row, field, threshold, note=""):
        value = None if row is None else row.get(field)
        out.append(
            {
                "id": tid,
                "target": text,
                "field": field,
                "measured": value,
                "threshold": threshold,
                "met": None if value is None else bool(value >= threshold),
                "note": "" if value is not None else ("not run" if row is None else note),
            }
        )

    # The roofline target is about the popcount kernel: its forced row where W1A1 goes to AMX.
    popcount = _find(rows, "gemm", "bitops W1A1 popcount") or _find(rows, "gemm", "bitops W1A1")
    add("w1a1_gemm_roofline", TARGETS["w1a1_gemm_roofline"], popcount, "roofline_fraction", 0.6)
    add("w1a1_gemm_vs_numpy", TARGETS["w1a1_gemm_vs_numpy"], _find(rows, "gemm", "bitops W1A1"), "vs_numpy_f32", 5.0)
    add("w2a2_gemm_vs_numpy", TARGETS["w2a2_gemm_vs_numpy"], _find(rows, "gemm", "bitops W2A2"), "vs_numpy_f32", 1.3)
    for r in rows:
        if r["kind"] == "gemm" and r["bitops"] and not r.get("variant") and r["threads"] == 1:
            add("gemm_vs_ort_int8", TARGETS["gemm_vs_ort_int8"].format(cfg=r["bits"]), r, "vs_ort_int8", 1.0,
                "onnxruntime not installed")
    add("w1a1_conv_vs_lce", TARGETS["w1a1_conv_vs_lce"], _find(rows, "conv", "bitops W1A1"), "vs_lce", 3.0,
        "LCE not installed")
    for r in rows:
        if r["bitops"] and not r.get("variant") and r["threads"] == 2:
            add("threads_scaling", TARGETS["threads_scaling"].format(cfg=r["bits"], kind=r["kind"]), r, "vs_1thread", 1.8)
    return out


# ---------------------------------------------------------------- text


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def format_table(report):
    """The run as text: roofline, one table per case and thread count, the targets, the peers' status."""
    lines = []
    roof = report["roofline"]
    lines.append("xor-popcount roofline, one core (Gbit-op/s): " + ", ".join(f"{k} {v:.1f}" for k, v in roof.items())
                 + f"  -> best {report['roofline_best']:.1f} ({report['roofline_method']})")
    rows = report["results"]
    for case in dict.fromkeys(r["case"] for r in rows):
        kind = next(r["kind"] for r in rows if r["case"] == case)
        cols = BASELINES[kind]
        head = f"{'implementation':<34} {'path':<14} {'best ms':>9} {'med ms':>9} {'Gop/s':>8} {'unit':<6} {'roof%':>6}"
        head += "".join(f" {h:>11}" for _, h, _ in cols) + f" {'x 1 thr':>8}  check"
        for threads in sorted({r["threads"] for r in rows if r["case"] == case}):
            lines.append("")
            lines.append(f"{case}, {threads} thread{'s' if threads > 1 else ''}")
            lines.append(head)
            lines.append("-" * len(head))
            for r in rows:
                if r["case"] != case or r["threads"] != threads:
                    continue
                roof_pct = None if r["roofline_fraction"] is None else 100 * r["roofline_fraction"]
                line = (f"{r['name']:<34} {r['path'][:14]:<14} {1e3 * r['best_s']:>9.2f} {1e3 * r['median_s']:>9.2f} "
                        f"{r['gops_per_s']:>8.1f} {r['ops_unit']:<6} {_fmt(roof_pct, '6.1f'):>6}")
                line += "".join(f" {_fmt(r[f], '11.2f'):>11}" for f, _, _ in cols)
                line += f" {_fmt(r['vs_1thread'], '8.2f'):>8}  {r['check']}"
                lines.append(line)
    lines.append("")
    lines.append("targets (issue 3), ratios from this run:")
    for t in report["targets"]:
        met = {True: "met", False: "NOT met", None: "n/a"}[t["met"]]
        val = _fmt(t["measured"], ".2f")
        lines.append(f"  [{met:^7}] {t['target']}: {val} (target {t['threshold']:g}){'  ' + t['note'] if t['note'] else ''}")
    lines.append("")
    lines.append("peers: " + "; ".join(f"{k}: {v}" for k, v in report["peers"].items()))
    return "\n".join(lines)


# ---------------------------------------------------------------- files

CSV_FIELDS = ("kind", "case", "threads", "name", "bits", "path", "best_s", "median_s", "calls_per_sample", "ops",
              "ops_unit", "gops_per_s", "roofline_fraction", "vs_numpy_f32", "vs_ort_int8", "vs_ort_conv_f32",
              "vs_ort_qlinearconv", "vs_lce", "vs_1thread", "check")


def write_json(report, path):
    with open(path, "w") as f:
        json.dump(report, f, indent=1)


def write_csv(report, path):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in report["results"]:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in CSV_FIELDS})


def write_plot(report, path):
    """PNG: the roofline beside bitops' single-thread throughput, and each case's speedups over its int8 peer."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["results"]
    case_names = list(dict.fromkeys(r["case"] for r in rows))
    fig, axes = plt.subplots(1, 1 + len(case_names), figsize=(6 + 6 * len(case_names), 5.5), squeeze=False)
    axes = axes[0]

    ax = axes[0]
    labels = [f"roofline {k}" for k in report["roofline"]] + [f"{r['name']} ({r['kind']})" for r in rows
                                                               if r["bits"] and r["threads"] == 1]
    values = list(report["roofline"].values()) + [r["gops_per_s"] for r in rows if r["bits"] and r["threads"] == 1]
    colors = ["0.6"] * len(report["roofline"]) + ["C0" if "bitops" in lab else "C1" for lab in labels[len(report["roofline"]):]]
    ax.barh(range(len(values)), values, color=colors)
    ax.set_yticks(range(len(values)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(report["roofline_best"], color="k", ls="--", lw=1)
    ax.set_xscale("log")  # integer paths count equivalent bit-ops and may exceed the roofline
    ax.set_xlabel("Gbit-op/s, 1 thread (dashed: best roofline)")
    ax.set_title("binary throughput vs the popcount roofline", fontsize=9)

    for ax, case in zip(axes[1:], case_names):
        kind = next(r["kind"] for r in rows if r["case"] == case)
        field, header, names = BASELINES[kind][1]
        impls = list(dict.fromkeys(r["name"] for r in rows if r["case"] == case))
        threads = sorted({r["threads"] for r in rows if r["case"] == case})
        width = 0.8 / len(threads)
        for j, t in enumerate(threads):
            vals = []
            for name in impls:
                r = _find([x for x in rows if x["case"] == case], kind, name, t)
                vals.append(r[field] if r is not None and r[field] is not None else 0.0)
            ax.barh([i + j * width for i in range(len(impls))], vals, height=width, label=f"{t} thread{'s' if t > 1 else ''}")
        ax.set_yticks([i + 0.4 - width / 2 for i in range(len(impls))], impls, fontsize=7)
        ax.invert_yaxis()
        ax.axvline(1.0, color="k", lw=1)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel(f"speedup over {header[2:]} (best variant, same threads; > 1: faster)")
        ax.set_title(case, fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle("bitops bench: " + report["machine"].get("summary", ""), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def width_matrix(rows, kind="gemm", field="vs_ort_int8", min_widths=6):
    """Markdown lines: the 1-thread `field` ratio of every bitops width run, weights by activations
    (empty when fewer than min_widths ran: the default five need no matrix)."""
    cells = {}
    for r in rows:
        if r["kind"] == kind and r["bitops"] and not r.get("variant") and r["threads"] == 1 and r.get(field) is not None:
            cells[_widths(r)] = r[field]
    if len(cells) < min_widths:
        return []
    ws, as_ = sorted({w for w, _ in cells}), sorted({a for _, a in cells})
    header = next(h for f, h, _ in BASELINES[kind] if f == field)
    out = ["", f"**{header}, every width run (1 thread): weights down, activations across**", "",
           "| weights \\ activations | " + " | ".join(f"A{a}" for a in as_) + " |", "|---|" + "---:|" * len(as_)]
    for w in ws:
        out.append(f"| W{w} | " + " | ".join("" if (w, a) not in cells else f"{cells[w, a]:.2f}" for a in as_)
                   + " |")
    return out


def format_markdown(report):
    """The main columns as Markdown tables (one per case), then the targets; for docs/benchmarks.md."""
    rows = report["results"]
    out = [f"Roofline, one core: " + ", ".join(f"{k} {v:.0f}" for k, v in report["roofline"].items())
           + f" Gbit-op/s (best: {report['roofline_method']})."]
    for case in dict.fromkeys(r["case"] for r in rows):
        kind = next(r["kind"] for r in rows if r["case"] == case)
        cols = BASELINES[kind]
        out += ["", f"**{case}**", "",
                "| implementation | threads | path | best ms | Gop/s | roofline | " + " | ".join(h for _, h, _ in cols)
                + " | x 1 thread | check |",
                "|---|---:|---|---:|---:|---:|" + "---:|" * len(cols) + "---:|---|"]
        for r in sorted((r for r in rows if r["case"] == case), key=lambda r: r["threads"]):
            roof = "" if r["roofline_fraction"] is None else f"{100 * r['roofline_fraction']:.1f}%"
            out.append(f"| {r['name']} | {r['threads']} | {r['path']} | {1e3 * r['best_s']:.2f} | "
                       f"{r['gops_per_s']:.1f} {r['ops_unit']} | {roof} | "
                       + " | ".join(_fmt(r[f], ".2f") for f, _, _ in cols)
                       + f" | {_fmt(r['vs_1thread'], '.2f')} | {r['check']} |")
    out += width_matrix(rows)
    out += ["", "| target | measured | threshold | met |", "|---|---:|---:|---|"]
    for t in report["targets"]:
        met = {True: "yes", False: "no", None: "n/a " + t["note"]}[t["met"]]
        out.append(f"| {t['target']} | {_fmt(t['measured'], '.2f')} | {t['threshold']:g} | {met} |")
    return "\n".join(out)
