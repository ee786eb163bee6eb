import numpy as np

import bitops


def test_cpu_features_report_the_selected_path():
    f = bitops.cpu_features()
    for key in ("popcnt", "avx2", "avx512f", "avx512vpopcntdq", "kernel", "available_kernels", "openmp"):
        assert key in f
    assert f["kernel"] in f["available_kernels"]
    assert f["available_kernels"][0] == "reference"
    if f["avx2"]:
        assert "avx2" in f["available_kernels"]


def test_threads_round_trip_and_give_the_same_answer():
    before = bitops.get_num_threads()
    rng = np.random.default_rng(0)
    a = bitops.encode(rng.integers(0, 4, (64, 700)), 2)
    w = bitops.encode(rng.integers(0, 4, (33, 700)), 2)
    try:
        bitops.set_num_threads(1)
        assert bitops.get_num_threads() == 1
        one = bitops.mbgemm(a, w)
        bitops.set_num_threads(2)
        two = bitops.mbgemm(a, w)
    finally:
        bitops.set_num_threads(before)
    np.testing.assert_array_equal(one, two)
