"""3x3 convolution 56x56x256 -> 256, padding 1 (14x14x64 -> 64 with BITOPS_BENCH_QUICK=1):
bitops W1A1..W8A8 beside onnxruntime Conv / QLinearConv and LCE (when importable here).

Run: pytest bench/test_conv.py --benchmark-only   (parametrized by bench/conftest.py)
"""
KIND = "conv"


def test_conv(bench_runner, runner):
    bench_runner(runner)
