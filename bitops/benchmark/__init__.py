"""bitops' benchmark: the kernels beside this CPU's popcount roofline and the peers a user would pick instead.

    report = bitops.benchmark.run(quick=True)      # dict: machine, roofline, results (rows with ratios), targets
    print(bitops.benchmark.format_table(report))

`bitops bench` (bitops/bench_cli.py) is the command-line front; bench/ holds
the pytest-benchmark suites over the same cases and runners. Layout:

    cases.py   shapes, bit configurations, work counts (bit-ops, MACs)
    peers.py   Runner: a prepared, timed call plus its numpy oracle; bitops and every peer
    timing.py  interleaved best-of-N timing
    report.py  ratios, the issue's targets, table, JSON, CSV, PNG
"""
import datetime
import os
import platform
import sys

from bitops.benchmark import cases as _cases
from bitops.benchmark import peers, timing
from bitops.benchmark.report import (build_rows, evaluate_targets, format_markdown, format_table, write_csv,
                                     write_json, write_plot)

__all__ = ["run", "format_table", "format_markdown", "write_json", "write_csv", "write_plot", "measure_roofline", "machine_info"]


def measure_roofline(seconds=0.3, rounds=3):
    """{method: Gbit-op/s} on one core, best of `rounds` calls of the shipped C microbenchmark (bench/roofline.c)."""
    from bitops import _core

    best = {}
    for _ in range(rounds):
        for method, v in _core.roofline(seconds).items():
            best[method] = max(best.get(method, 0.0), v)
    return best


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info():
    import numpy as np

    import bitops

    versions = {"python": platform.python_version(), "numpy": np.__version__, "bitops": bitops.__version__}
    for mod in ("onnxruntime", "onnx", "larq_compute_engine", "tensorflow"):
        m = sys.modules.get(mod)
        if m is None and peers.importlib.util.find_spec(mod) is not None:
            try:
                m = __import__(mod)
            except Exception:  # a broken optional install is reported, not fatal
                m = None
        if m is not None:
            versions[mod] = getattr(m, "__version__", "?")
    cpu = _cpu_model()
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "cpu_features": bitops.cpu_features(),
        "versions": versions,
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "loadavg_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "summary": f"{cpu}, kernel path {bitops.get_kernel_path()}",
    }


def run(quick=False, threads=(1, 2), only=None, repeat=None, check=True, progress=None, roofline_seconds=None,
        bit_configs=_cases.BIT_CONFIGS):
    """Run the whole benchmark and return the report dict (see report.py for the row fields).

    quick    : small shapes (seconds) instead of the issue's 1024^3 GEMM and 56x56x256 conv
    threads  : thread counts to run every runner at
    only     : 'gemm' or 'conv', or None for both
    repeat   : timed rounds per runner (default 5, quick 3); the best round is reported
    check    : run each runner once against its numpy oracle before timing
    progress : callable(str) for progress lines
    bit_configs : (w_bits, a_bits) pairs bitops runs (default: the issue's W1A1, W1A2, W2A2, W4A4, W8A8)
    """
    say = progress or (lambda msg: None)
    threads = tuple(int(t) for t in threads)
    if not threads or min(threads) < 1:
        raise ValueError(f"threads must be positive integers, got {threads}")
    repeat = repeat if repeat is not None else (3 if quick else 5)
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    report = {"machine": machine_info(), "peers": peers.status(), "settings": {
        "quick": quick, "threads": list(threads), "only": only, "repeat": repeat, "bit_configs": [list(b) for b in bit_configs]}}

    say("roofline: xor-popcount microbenchmark (bench/roofline.c), one core")
    roof = measure_roofline(roofline_seconds or (0.1 if quick else 0.3), rounds=2 if quick else 3)

    def sample_roofline():
        # One more short roofline sample per timing round: the limit is measured under the same
        # background load as the kernels, and the best over the run is kept like every other time.
        for method, v in measure_roofline(0.05, rounds=1).items():
            roof[method] = max(roof[method], v)

    results = []
    for case in _cases.cases(quick=quick, only=only):
        ops_ = peers.Operands(case)
        say(f"{case.name}: preparing operands, sessions and models")
        runners = [r for t in threads for r in peers.runners(case, t, bit_configs, ops_)]
        worker = None
        if case.kind == "conv" and not peers.have_lce() and peers.lce_python():
            say(f"{case.name}: starting the LCE worker under {peers.lce_python()} (converting the Larq model)")
            worker = peers.LceWorker(peers.lce_python(), ops_, threads)
            report["machine"]["versions"].update({f"{k} (worker)": v for k, v in worker.versions.items()})
            runners += worker.runners(ops_)
        try:
            errors = []
            for r in runners:
                if check:
                    say(f"{case.name}: checking {r.name} ({r.threads} thr) against numpy")
                    with r.thread_scope():
                        errors.append(r.check())
                else:
                    errors.append(None)
            say(f"{case.name}: timing {len(runners)} runners interleaved, {repeat} rounds")
            times = timing.measure(runners, repeat=repeat, progress=lambda m: say(f"{case.name}: {m}"),
                                   each_round=sample_roofline)
        finally:
            if worker is not None:
                worker.close()
        results.extend(zip(runners, times, errors))
    method = max(roof, key=roof.get)
    report.update(roofline=roof, roofline_best=roof[method], roofline_method=method)
    report["results"] = build_rows(results, report["roofline_best"])
    report["targets"] = evaluate_targets(report["results"])
    report["machine"]["loadavg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    return report
