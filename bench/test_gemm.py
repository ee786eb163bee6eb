"""GEMM 1024x1024x1024 (256^3 with BITOPS_BENCH_QUICK=1): bitops W1A1..W8A8 beside numpy and onnxruntime.

Run: pytest bench/test_gemm.py --benchmark-only   (parametrized by bench/conftest.py)
"""
KIND = "gemm"


def test_gemm(bench_runner, runner):
    bench_runner(runner)
