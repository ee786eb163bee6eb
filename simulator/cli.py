"""`bitops estimate` and `bitops sweep`: the simulator's subcommands.

`bitops.cli` calls `register(subparsers)`; each parser's `func(args)` returns
the exit code. Imports of the model loader and matplotlib happen inside the
functions so that `bitops --help` stays fast.
"""
import sys
from pathlib import Path

MODEL_HELP = ("net.yaml workload, a built-in workload name (resnet18, resnet50, cnv-cifar10, mobilenet-v2), "
              "or a model file read with bitops.load")
HW_HELP = "hardware preset name (fpga-zu3eg-like, fpga-zu9eg-like, asic-45nm, asic-22nm) or a hw.yaml/.toml file"


def register(subparsers):
    est = subparsers.add_parser(
        "estimate", help="estimate latency, energy and resources of a network on a hardware instance",
        description="Cycle-approximate cost of a multi-branch binary network on an FPGA/ASIC engine.")
    est.add_argument("model", help=MODEL_HELP)
    est.add_argument("--hw", required=True, help=HW_HELP)
    est.add_argument("--format", choices=("table", "json", "csv", "markdown"), default="table")
    est.add_argument("--bits", action="append", metavar="W,A|LAYER=W,A",
                     help="override bits: 'W,A' for every layer, 'LAYER=W,A' for one (repeatable)")
    est.add_argument("--plot", metavar="PATH", help="write per-layer latency and energy bars (png/svg/pdf)")
    est.add_argument("-o", "--output", metavar="PATH", help="write the report here instead of stdout")
    est.set_defaults(func=run_estimate)

    sw = subparsers.add_parser(
        "sweep", help="sweep bit configurations; write a CSV and a Pareto plot",
        description="Estimate many bit configurations and mark the Pareto front of latency, energy and model size.")
    sw.add_argument("model", help=MODEL_HELP)
    sw.add_argument("--hw", required=True, help=HW_HELP)
    sw.add_argument("--w-bits", default="1,2,4", help="weight bit widths to try (default 1,2,4)")
    sw.add_argument("--a-bits", default="1,2,4", help="activation bit widths to try (default 1,2,4)")
    sw.add_argument("--mode", choices=("uniform", "per-layer"), default="uniform",
                    help="uniform: every (w, a) pair on all layers; per-layer: random per-layer choices")
    sw.add_argument("--samples", type=int, default=200, help="per-layer mode: configurations to draw")
    sw.add_argument("--seed", type=int, default=0)
    sw.add_argument("--keep-edges", action="store_true",
                    help="per-layer mode: first and last layers keep their bits")
    sw.add_argument("--csv", default="sweep.csv", metavar="PATH", help="results (default sweep.csv)")
    sw.add_argument("--plot", default="sweep.png", metavar="PATH", help="Pareto plot (default sweep.png)")
    sw.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    sw.set_defaults(func=run_sweep)


def load_workload(spec):
    """A Workload from a YAML file, a built-in name, or a model file."""
    from . import workloads
    from .workload import Workload

    path = Path(spec)
    if path.suffix in (".yaml", ".yml"):
        return Workload.from_file(path)
    if not path.exists() and spec in workloads.names():
        return workloads.get(spec)
    if not path.exists():
        raise FileNotFoundError(f"no such model or workload: {spec} (built-ins: {', '.join(workloads.names())})")
    from bitops import load

    return Workload.from_model(load(str(path)), name=path.stem)


def load_hardware(spec):
    from . import presets
    from .hardware import Hardware

    path = Path(spec)
    if path.suffix in (".yaml", ".yml", ".toml") or path.exists():
        return Hardware.from_file(path)
    return presets.get(spec)


def parse_bits(items):
    """--bits values -> None, a (w, a) pair, or {layer: (w, a)} plus an optional '*' default."""
    if not items:
        return None
    uniform, per_layer = None, {}
    for item in items:
        name, _, pair = item.rpartition("=")
        try:
            w, a = (int(v) for v in pair.split(","))
        except ValueError:
            raise ValueError(f"--bits: expected W,A or LAYER=W,A, got {item!r}") from None
        if name:
            per_layer[name] = (w, a)
        else:
            uniform = (w, a)
    if not per_layer:
        return uniform
    return per_layer if uniform is None else {"*": uniform, **per_layer}


def _resolve_bits(bits, workload):
    if isinstance(bits, dict) and "*" in bits:
        default = bits.pop("*")
        return {layer.name: bits.get(layer.name, default) for layer in workload.layers} | bits
    return bits


def _int_list(text, flag):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{flag}: expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise ValueError(f"{flag}: expected positive integers, got {text!r}")
    return values


def run_estimate(args):
    from .schedule import estimate

    wl = load_workload(args.model)
    hw = load_hardware(args.hw)
    rep = estimate(wl, hw, bits=_resolve_bits(parse_bits(args.bits), wl))
    text = {"table": rep.to_table, "json": rep.to_json, "csv": rep.to_csv, "markdown": rep.to_markdown}[args.format]()
    if args.output:
        Path(args.output).write_text(text if text.endswith("\n") else text + "\n")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if args.plot:
        rep.plot(args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0


def run_sweep(args):
    from .sweep import per_layer_configs, plot_pareto, progress_bar, sweep, uniform_configs, write_csv

    wl = load_workload(args.model)
    hw = load_hardware(args.hw)
    w_bits = _int_list(args.w_bits, "--w-bits")
    a_bits = _int_list(args.a_bits, "--a-bits")
    if args.mode == "uniform":
        configs = uniform_configs(w_bits, a_bits)
    else:
        keep = {wl.layers[0].name, wl.layers[-1].name} if args.keep_edges else set()
        configs = per_layer_configs(wl, w_bits, a_bits, args.samples, args.seed, keep)
    rows = sweep(wl, hw, configs, progress=None if args.no_progress else progress_bar)
    write_csv(rows, args.csv)
    plot_pareto(rows, args.plot, title=f"{wl.name} on {hw.name}")
    front = [r for r in rows if r["pareto"]]
    print(f"{len(rows)} configurations, {len(front)} on the Pareto front; wrote {args.csv} and {args.plot}")
    for r in sorted(front, key=lambda r: r["latency_s"])[:10]:
        print(f"  {r['config'][:60]:<60}  {r['latency_s'] * 1e3:9.4g} ms  {r['energy_j'] * 1e3:9.4g} mJ  "
              f"{r['model_size_bits'] / 8e6:7.4g} MB")
    return 0
