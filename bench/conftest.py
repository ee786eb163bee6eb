"""pytest-benchmark suites over the same runners as `bitops bench` (bitops.benchmark).

    pytest bench --benchmark-only                        # the issue's shapes
    BITOPS_BENCH_QUICK=1 pytest bench --benchmark-only   # small shapes, seconds
    BITOPS_BENCH_THREADS=1 pytest bench ...              # thread counts (default 1,2)

Each case and thread count is one benchmark group, so bitops and its peers sit
side by side in pytest-benchmark's table (`--benchmark-group-by=group`, the
default). Operands are encoded and sessions built once per module, outside the
timed call. The ratios and the issue's targets are `bitops bench`'s job; here
each result carries its work count in extra_info (ops, unit, Gop/s).
LCE runs here only when importable in this process (BITOPS_LCE_PYTHON is used
by `bitops bench`).
"""
import os

import pytest

from bitops.benchmark import cases, peers

QUICK = os.environ.get("BITOPS_BENCH_QUICK", "") not in ("", "0")
THREADS = [int(t) for t in os.environ.get("BITOPS_BENCH_THREADS", "1,2").split(",") if t.strip()]


def runner_names(kind, threads):
    """Labels of the runners `peers.runners` builds for `kind` at `threads` (known before building any)."""
    names = [f"bitops {cases.config_name(*b)}" for b in cases.BIT_CONFIGS]
    st = peers.status()
    ort = st[peers.ORT_MATMULINTEGER] == "ok"
    if kind == "gemm":
        names.append(peers.NUMPY_F32)
        if threads == 1 and st[peers.NUMPY_POPCOUNT] == "ok":
            names.append(peers.NUMPY_POPCOUNT)
        if ort:
            names += [peers.ORT_MATMULINTEGER, peers.ORT_MATMULINTEGER_U8U8, peers.ORT_MATMULINTEGER_S8]
    else:
        if ort:
            names += [peers.ORT_CONV_F32, peers.ORT_QLINEARCONV]
        if peers.have_lce():
            names += [peers.LCE, peers.LCE + " indirect"]
    return names


def pytest_generate_tests(metafunc):
    """A test module with KIND = 'gemm' or 'conv' and a `runner` argument runs once per thread count and runner."""
    kind = getattr(metafunc.module, "KIND", None)
    if kind is not None and "runner_key" in metafunc.fixturenames:
        keys = [(kind, t, n) for t in THREADS for n in runner_names(kind, t)]
        metafunc.parametrize("runner_key", keys, ids=[f"{t}thr-{n.replace(' ', '_')}" for _, t, n in keys])


class RunnerCache:
    """Runners built on first use per (case, threads), shared by every test of a module."""

    def __init__(self):
        self._ops = {}
        self._runners = {}

    def get(self, kind, threads, name):
        case = (cases.QUICK if QUICK else cases.FULL)[kind]
        if (case, threads) not in self._runners:
            ops_ = self._ops.setdefault(case, peers.Operands(case))
            self._runners[case, threads] = {r.name: r for r in peers.runners(case, threads, cases.BIT_CONFIGS, ops_)}
        return self._runners[case, threads][name]


@pytest.fixture(scope="module")
def runner_cache():
    return RunnerCache()


@pytest.fixture
def runner(runner_cache, runner_key):
    return runner_cache.get(*runner_key)


@pytest.fixture
def bench_runner(benchmark):
    return lambda runner: _bench_runner(benchmark, runner)


def _bench_runner(benchmark, runner):
    """Time runner.run() in its thread scope; group by case and threads; record the work done."""
    benchmark.group = f"{runner.case.name}, {runner.threads} thread{'s' if runner.threads > 1 else ''}"
    benchmark.extra_info.update(ops=runner.ops, unit="bit-op" if runner.bits else "MAC", path=runner.path)
    with runner.thread_scope():
        benchmark.pedantic(runner.run, rounds=5, warmup_rounds=1, iterations=1)
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["gops_per_s"] = runner.ops / benchmark.stats.stats.min / 1e9
