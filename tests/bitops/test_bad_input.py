"""Every bad argument raises ValueError naming it; nothing reaches C unchecked."""
import numpy as np
import pytest

import bitops


def _misaligned_words(n):
    buf = np.zeros(n * 8 + 1, dtype=np.uint8)
    arr = np.frombuffer(buf.data, dtype=np.uint64, count=n, offset=1)
    assert not arr.flags.aligned
    return arr


@pytest.fixture
def enc():
    rng = np.random.default_rng(0)
    return bitops.encode(rng.integers(0, 4, (3, 100)), 2), bitops.encode(rng.integers(0, 2, (4, 100)), 1)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: bitops.encode(np.zeros((2, 3)), 2), "q must be an integer array"),
        (lambda: bitops.encode(np.zeros((2, 3), dtype=bool), 2), "q must be an integer array"),
        (lambda: bitops.encode(np.zeros((2, 3), dtype=int), 0), "bits must be from 1 to 8"),
        (lambda: bitops.encode(np.zeros((2, 3), dtype=int), 9), "bits must be from 1 to 8"),
        (lambda: bitops.encode(np.zeros((2, 3), dtype=int), 2.0), "bits must be an integer"),
        (lambda: bitops.encode(np.array([[0, 4]]), 2), r"q has values in \[0, 4\]"),
        (lambda: bitops.encode(np.array([[-1, 0]]), 2), r"q has values in \[-1, 0\]"),
        (lambda: bitops.encode(np.zeros((0, 3), dtype=int), 2), "zero-size"),
        (lambda: bitops.encode(np.zeros((3, 0), dtype=int), 2), "zero-size"),
        (lambda: bitops.encode(np.int64(3), 2), "at least one dimension"),
        (lambda: bitops.pack_bits(np.array([0, 2])), "only 0 and 1"),
        (lambda: bitops.pack_bits(np.array([0.0, 1.0])), "bool or"),
        (lambda: bitops.pack_bits(np.zeros((2, 3), dtype=bool), axis=2), "axis 2 is out of range"),
        (lambda: bitops.unpack_bits(np.zeros(2, dtype=np.uint64), 200), "needs 4"),
        (lambda: bitops.unpack_bits(np.zeros(2, dtype=np.int64), 100), "uint64"),
    ],
)
def test_encoding_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bgemm_errors():
    a = np.zeros((3, 2), dtype=np.uint64)
    with pytest.raises(ValueError, match="a_words must have dtype uint64"):
        bitops.bgemm(a.astype(np.int64), a, 100)
    with pytest.raises(ValueError, match="a_words must be C-contiguous"):
        bitops.bgemm(np.zeros((2, 3), dtype=np.uint64).T, a, 100)
    with pytest.raises(ValueError, match="a_words is not aligned"):
        bitops.bgemm(_misaligned_words(6).reshape(3, 2), a, 100)
    with pytest.raises(ValueError, match="b_words has 2 words per row but k=200 needs 4"):
        bitops.bgemm(np.zeros((3, 4), dtype=np.uint64), a, 200)
    with pytest.raises(ValueError, match="k must be at least 1"):
        bitops.bgemm(a, a, 0)
    with pytest.raises(ValueError, match="a_words has a zero-size dimension"):
        bitops.bgemm(np.zeros((0, 2), dtype=np.uint64), a, 100)
    with pytest.raises(ValueError, match="bits set past k=100"):
        bitops.bgemm(np.full((3, 2), 2**63, dtype=np.uint64), a, 100)
    with pytest.raises(ValueError, match="a_words must be 2-D"):
        bitops.bgemm(np.zeros(2, dtype=np.uint64), a, 100)
    with pytest.raises(ValueError, match="must be a numpy uint64 array"):
        bitops.bgemm([[0, 0]], a, 100)


def test_mbgemm_errors(enc):
    a, w = enc
    other = bitops.encode(np.zeros((4, 99), dtype=int), 1)
    with pytest.raises(ValueError, match="K mismatch: a has K=100, w has K=99"):
        bitops.mbgemm(a, other)
    with pytest.raises(ValueError, match="a must be a bitops.Encoded"):
        bitops.mbgemm(np.zeros((3, 100)), w)
    with pytest.raises(ValueError, match="w must be 2-D"):
        bitops.mbgemm(a, bitops.encode(np.zeros((2, 2, 100), dtype=int), 1))


def test_encoded_constructor_checks_planes():
    planes = np.zeros((2, 3, 2), dtype=np.uint64)
    with pytest.raises(ValueError, match="planes has 2 planes but bits=3"):
        bitops.Encoded(planes, 100, 3)
    with pytest.raises(ValueError, match="planes has 2 words per row but k=200 needs 4"):
        bitops.Encoded(planes, 200, 2)
    with pytest.raises(ValueError, match="bits set past k=65"):
        bitops.Encoded(np.full((2, 3, 2), 4, dtype=np.uint64), 65, 2)
    with pytest.raises(ValueError, match="planes must be C-contiguous"):
        bitops.Encoded(np.zeros((2, 2, 3), dtype=np.uint64).transpose(0, 2, 1), 100, 2)
    with pytest.raises(ValueError, match="cannot truncate a 2-bit tensor to 3 bits"):
        bitops.Encoded(planes, 100, 2).truncate(3)


def _conv_operands(c=10, h=5, w=6):
    rng = np.random.default_rng(0)
    return (bitops.encode(rng.integers(0, 2, (1, h, w, c)), 1),
            bitops.encode(rng.integers(0, 2, (2, 3, 3, c)), 1))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(stride=0), "stride must be at least 1"),
        (dict(stride=(1, -2)), "stride must be at least 1"),
        (dict(dilation=0), "dilation must be at least 1"),
        (dict(stride=1.5), "stride must be an integer"),
        (dict(padding=-1), "padding must be at least 0"),
        (dict(padding="full"), "padding must be an int, a pair"),
        (dict(padding=(1, 2, 3)), "padding must have 1, 2 or 4 entries"),
        (dict(dilation=3), "kernel extent 7 .* larger than the padded input 5"),
        (dict(pad_value=0.5), "pad_value must be an integer"),
        (dict(pad_value=2**40), "pad_value .* out of range"),
    ],
)
def test_mbconv2d_errors(kwargs, match):
    x, w = _conv_operands()
    with pytest.raises(ValueError, match=match):
        bitops.mbconv2d(x, w, **kwargs)


def test_conv_shape_errors():
    x, w = _conv_operands()
    x9, _ = _conv_operands(c=9)
    with pytest.raises(ValueError, match="channel mismatch: x has C=9, w has C=10"):
        bitops.mbconv2d(x9, w)
    with pytest.raises(ValueError, match="x must be NHWC"):
        bitops.mbconv2d(bitops.encode(np.zeros((5, 10), dtype=int), 1), w)
    small = bitops.encode(np.zeros((1, 2, 2, 10), dtype=int), 1)
    with pytest.raises(ValueError, match="larger than the padded input"):
        bitops.mbconv2d(small, w)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(q=np.array([[0, 8]]), bits=4), r"outside the 4-bit range \[-8, 7\]"),
        (dict(q=np.array([[-8, 0]]), bits=4, narrow=True), r"outside the 4-bit range \[-7, 7\]"),
        (dict(q=np.array([[0, 1]]), bits=1, narrow=True), "holds one value"),
        (dict(scale=0.0), "scale must be finite and positive"),
        (dict(scale=np.nan), "scale must be finite and positive"),
        (dict(zero_point=np.inf), "zero_point must be finite"),
        (dict(scale=[1.0, 2.0, 3.0]), "scale has 3 values but axis=None"),
        (dict(scale=[1.0, 2.0, 3.0], axis=0), "scale must have 2 values for axis 0"),
        (dict(axis=5), "axis must be None or an axis of q"),
        (dict(q=np.array([[0.5, 1.0], [0.0, 0.0]])), "q must be an integer array"),
        (dict(bits=9), "bits must be from 1 to 8"),
    ],
)
def test_qtensor_errors(kwargs, match):
    args = dict(q=np.zeros((2, 3), dtype=int), scale=1.0, zero_point=0, bits=4)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        bitops.QTensor(**args)


def test_qlinear_and_qconv_errors():
    x = bitops.QTensor(np.zeros((2, 5), dtype=int), 1.0, 0, 2)
    w = bitops.QTensor(np.zeros((3, 4), dtype=int), 1.0, 0, 2)
    with pytest.raises(ValueError, match="K mismatch: x has K=5, w has K=4"):
        bitops.qlinear(x, w)
    with pytest.raises(ValueError, match="x must be a bitops.QTensor"):
        bitops.qlinear(np.zeros((2, 5)), w)
    w5 = bitops.QTensor(np.zeros((3, 5), dtype=int), 1.0, 0, 2)
    with pytest.raises(ValueError, match=r"bias must be a scalar or have shape \(3,\)"):
        bitops.qlinear(x, w5, bias=np.zeros(4))
    xc = bitops.QTensor(np.zeros((1, 4, 4, 3), dtype=int), [1.0, 1.0, 1.0], 0, 2, axis=3)
    wc = bitops.QTensor(np.zeros((2, 3, 3, 3), dtype=int), 1.0, 0, 2)
    with pytest.raises(ValueError, match="x must have per-tensor scale"):
        bitops.qconv2d(xc, wc)


def test_thread_and_path_errors():
    with pytest.raises(ValueError, match="n must be at least 1"):
        bitops.set_num_threads(0)
    with pytest.raises(ValueError, match="kernel path must be one of"):
        bitops.set_kernel_path("sse9")
    for name in ("avx512", "avx2", "scalar"):
        if name not in bitops.available_kernel_paths():
            with pytest.raises(ValueError, match="not supported by this CPU"):
                bitops.set_kernel_path(name)


def test_amx_kernel_is_refused_off_the_amx_path():
    """The AMX kind of the integer path reaching a path (or a CPU) without AMX tiles is an error,
    never an illegal instruction."""
    from bitops import _core
    from bitops.format import integer_row_width
    from bitops.kernels import Q_AMX

    a = bitops.encode(np.ones((3, 70), dtype=int), 2)
    w = bitops.encode(np.ones((5, 70), dtype=int), 2)
    sums = np.ascontiguousarray(w.row_sums(), dtype=np.int64).reshape(5, 1, 1)
    wpack = w.integer_weights(Q_AMX)
    before = bitops.get_kernel_path()
    try:
        for path in bitops.available_kernel_paths():
            if path == "amx":
                continue
            bitops.set_kernel_path(path)
            with pytest.raises(ValueError):
                _core.qgemm(a.flat_planes, a.k, integer_row_width(a.k), wpack, Q_AMX, 1, 3, sums)
    finally:
        bitops.set_kernel_path(before)
