"""Time bitops configurations against each other, interleaved in one process.

`bitops bench` compares bitops with its peers; this compares bitops with itself,
where the question is a ratio between two settings of the same call:

  - 1 thread against 2 (--threads 1,2): the thread scaling, with no peer in
    between to disturb the second core or the caches;
  - the automatic kernel against the popcount kernels (--policies auto,never):
    what the integer path gains where explain() chooses it (W1A1 on AMX);
  - any shape (--gemm M,K,N, --conv H,W,C,O).

Every setting is timed once per round, `--calls` back-to-back calls each, over
`--rounds` rounds; the best and the median per-call times are printed, then the
ratios of the first setting's best to each other's.

    python bench/interleave.py                                   # the bench's shapes, W1A1 and W8A8
    python bench/interleave.py --gemm 1000,1024,1000 --threads 1 --policies auto
"""
import argparse
import statistics
import time

import numpy as np

import bitops
from bitops.benchmark.cases import parse_bits


def _ints(text, n):
    vals = tuple(int(v) for v in text.split(","))
    if len(vals) != n or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"expected {n} positive integers, got {text!r}")
    return vals


def calls(args):
    """(label, setting, call) for every case and bit configuration; a setting is (threads, policy)."""
    rng = np.random.default_rng(0)
    out = []
    for w_bits, a_bits in parse_bits(args.bits):
        if args.gemm:
            m, k, n = args.gemm
            a = bitops.encode(rng.integers(0, 2**a_bits, (m, k)), a_bits)
            w = bitops.encode(rng.integers(0, 2**w_bits, (n, k)), w_bits)
            out.append((f"gemm {m}x{k}x{n} W{w_bits}A{a_bits}", lambda a=a, w=w: bitops.mbgemm(a, w)))
        if args.conv:
            h, wd, c, o = args.conv
            x = bitops.encode(rng.integers(0, 2**a_bits, (1, h, wd, c)), a_bits)
            f = bitops.encode(rng.integers(0, 2**w_bits, (o, 3, 3, c)), w_bits)
            out.append((f"conv {h}x{wd}x{c}->{o} 3x3 W{w_bits}A{a_bits}",
                        lambda x=x, f=f: bitops.mbconv2d(x, f, padding=1)))
    return out


def measure(call, settings, rounds, ncalls):
    """{setting: [per-call seconds of each round]}, the settings interleaved within every round."""
    times = {s: [] for s in settings}
    for _ in range(rounds):
        for threads, policy in settings:
            bitops.set_num_threads(threads)
            bitops.set_integer_path(policy)
            call()
            t0 = time.perf_counter()
            for _ in range(ncalls):
                call()
            times[threads, policy].append((time.perf_counter() - t0) / ncalls)
    bitops.set_integer_path("auto")
    return times


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gemm", type=lambda t: _ints(t, 3), default=(1024, 1024, 1024), help="M,K,N")
    p.add_argument("--conv", type=lambda t: _ints(t, 4), default=(56, 56, 256, 256), help="H,W,C,O (3x3, pad 1)")
    p.add_argument("--only", choices=("gemm", "conv"), help="one case only")
    p.add_argument("--bits", default="W1A1,W8A8", help="bit configurations, as for bitops bench")
    p.add_argument("--threads", type=lambda t: [int(v) for v in t.split(",")], default=[1, 2])
    p.add_argument("--policies", type=lambda t: t.split(","), default=["auto"],
                   help="integer-path policies to compare, e.g. auto,never")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--calls", type=int, default=16)
    args = p.parse_args(argv)
    if args.only == "gemm":
        args.conv = None
    elif args.only == "conv":
        args.gemm = None
    settings = [(t, pol) for pol in args.policies for t in args.threads]
    print(f"kernel path {bitops.get_kernel_path()}; {args.rounds} rounds x {args.calls} calls, best (median) ms per call")
    for label, call in calls(args):
        times = measure(call, settings, args.rounds, args.calls)
        best = {s: min(v) for s, v in times.items()}
        first = settings[0]
        cells = [f"{t} thr {pol}: {best[t, pol] * 1e3:.3f} ({statistics.median(times[t, pol]) * 1e3:.3f})"
                 for t, pol in settings]
        ratios = [f"{first[0]} thr {first[1]} / {t} thr {pol} = {best[first] / best[t, pol]:.2f}"
                  for t, pol in settings[1:]]
        print(f"{label}: " + "; ".join(cells) + ("  |  " + "; ".join(ratios) if ratios else ""))


if __name__ == "__main__":
    main()
