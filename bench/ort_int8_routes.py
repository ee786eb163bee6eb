"""Every onnxruntime MatMulInteger route for 8-bit operands on the benchmark's 1024^3 GEMM, one thread:
time and exactness, so the choice of the W8 baseline in `bitops bench` can be checked on any machine.

    python bench/ort_int8_routes.py [--quick] [--repeat N]

The routes differ in the signedness of the activation (X) and weight (W) inputs. Without VNNI,
onnxruntime's u8s8 kernel saturates on full-range int8 weights; the table shows each route's
maximum error against numpy next to its time.
"""
import argparse

import numpy as np

from bitops.benchmark import cases, peers, timing


def routes(ops_):
    """(name, X (M, K), W (N, K)) for each signedness combination, from the case's 8-bit codes."""
    qa, qw = ops_.qa, ops_.qw
    s8 = lambda q: (q.astype(np.int16) - 128).astype(np.int8)  # noqa: E731
    return [
        ("u8s8 7-bit weights", qa, peers._signed7(qw)),
        ("u8s8", qa, s8(qw)),
        ("u8u8", qa, qw),
        ("s8u8", s8(qa), qw),
        ("s8s8", s8(qa), s8(qw)),
    ]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="256^3 instead of 1024^3")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    from onnx import TensorProto, helper

    ops_ = peers.Operands((cases.QUICK if args.quick else cases.FULL)["gemm"])
    case = ops_.case
    runners = []
    for name, x, w in routes(ops_):
        x_type = TensorProto.UINT8 if x.dtype == np.uint8 else TensorProto.INT8
        r = peers._ort_runner(f"MatMulInteger {name}", ops_, 1, helper.make_node("MatMulInteger", ["X", "W"], ["Y"]),
                              np.ascontiguousarray(x), x_type, TensorProto.INT32, (case.m, case.n),
                              {"W": np.ascontiguousarray(w.T)},
                              lambda x=x, w=w: x.astype(np.float64) @ w.astype(np.float64).T)
        r.may_be_wrong = True
        runners.append(r)
    errors = [r.check() for r in runners]
    times = timing.measure(runners, repeat=args.repeat)
    print(f"onnxruntime MatMulInteger, {case.name}, 1 thread, best of {args.repeat} interleaved rounds")
    for r, t, err in zip(runners, times, errors):
        print(f"  {r.name:<36} {1e3 * t.best:9.2f} ms   {'exact' if err == 0 else f'WRONG, max err {err:g}'}")


if __name__ == "__main__":
    main()
