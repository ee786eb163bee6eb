"""Golden vectors against independent numpy integer math.

The reference here never calls bitops: values come from explicit bit sums,
convolutions from direct loops with bounds checks, packed words from
per-element bit tests.
"""
import json

import numpy as np
import pytest

from bitops.rtl import write_layer_vectors

BIT_CONFIGS = [(1, 1), (1, 2), (2, 2), (3, 2), (2, 3)]


def ref_values(u, bits):
    """E = sum_i 2^i * b_i with b_i = +1 for a set bit, -1 for a clear one."""
    u = np.asarray(u, dtype=np.int64)
    return sum((1 << i) * np.where((u >> i) & 1, 1, -1) for i in range(bits))


def ref_conv(x_e, w_e, stride, padding, dilation, pad_e):
    n, h, w, c = x_e.shape
    o, kh, kw, _ = w_e.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, oh, ow, o), dtype=np.int64)
    for b in range(n):
        for y in range(oh):
            for x in range(ow):
                for i in range(kh):
                    for j in range(kw):
                        yy, xx = y * sh - ph + i * dh, x * sw - pw + j * dw
                        if 0 <= yy < h and 0 <= xx < w:
                            tap = x_e[b, yy, xx]
                        else:
                            tap = np.full(c, pad_e, dtype=np.int64)
                        out[b, y, x] += w_e[:, i, j, :] @ tap
    return out


def ref_word_bit(words, k):
    """Bit k of a packed row (sequence of uint64)."""
    return (int(words[k // 64]) >> (k % 64)) & 1


def read_hex_lines(path):
    return open(path).read().split()


def test_fc_accumulators_and_planes(tmp_path):
    rng = np.random.default_rng(1)
    for wb, ab in BIT_CONFIGS:
        x = rng.integers(0, 1 << ab, (3, 130))
        w_q = rng.integers(-(1 << (wb - 1)), 1 << (wb - 1), (7, 130))   # signed codes, qmin
        name = f"fc_w{wb}a{ab}"
        e = write_layer_vectors(tmp_path, name, x, w_q, w_bits=wb, a_bits=ab,
                                w_qmin=-(1 << (wb - 1)), pe=4, simd=32)
        w_u = w_q + (1 << (wb - 1))
        acc = ref_values(x, ab) @ ref_values(w_u, wb).T
        z = np.load(tmp_path / e["files"]["npz"])
        np.testing.assert_array_equal(z["acc"], acc)
        got = np.fromfile(tmp_path / e["files"]["acc"]["bin"], dtype="<i4").reshape(3, 7)
        np.testing.assert_array_equal(got, acc)
        # planes: branch i of element k is bit i of the unsigned code
        xp = np.fromfile(tmp_path / e["files"]["x_planes"]["bin"], dtype="<u8").reshape(ab, 3, 3)
        for i in range(ab):
            for r in range(3):
                bits = [ref_word_bit(xp[i, r], k) for k in range(130)]
                assert bits == [int((v >> i) & 1) for v in x[r]]
                assert int(xp[i, r, 2]) >> 2 == 0          # bits past K are 0
        wp = np.fromfile(tmp_path / e["files"]["w_planes"]["bin"], dtype="<u8").reshape(wb, 7, 3)
        assert [ref_word_bit(wp[wb - 1, 4], k) for k in range(130)] == \
            [int((v >> (wb - 1)) & 1) for v in w_u[4]]


@pytest.mark.parametrize("wb,ab", BIT_CONFIGS)
def test_conv_matches_direct_convolution(tmp_path, wb, ab):
    rng = np.random.default_rng(wb * 10 + ab)
    x = rng.integers(0, 1 << ab, (2, 6, 5, 3))
    w = rng.integers(0, 1 << wb, (4, 3, 2, 3))
    pad_code = (1 << ab) - 1
    e = write_layer_vectors(tmp_path, "c", x, w, w_bits=wb, a_bits=ab, op="conv",
                            stride=(2, 1), padding=(1, 2), dilation=(1, 2), pad_code=pad_code,
                            pe=3, simd=8)
    acc = ref_conv(ref_values(x, ab), ref_values(w, wb), (2, 1), (1, 2), (1, 2),
                   ref_values(pad_code, ab))
    assert e["output_shape"] == list(acc.shape)
    z = np.load(tmp_path / e["files"]["npz"])
    np.testing.assert_array_equal(z["acc"], acc)
    assert e["conv"]["pad_value_E"] == ref_values(pad_code, ab)


def test_codes_follow_thresholds(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, (20, 40))
    w = rng.integers(0, 4, (5, 40))
    thr = np.sort(rng.integers(-200, 200, (5, 7)), axis=1)
    e = write_layer_vectors(tmp_path, "t", x, w, w_bits=2, a_bits=2, thresholds=thr, out_bits=3)
    acc = ref_values(x, 2) @ ref_values(w, 2).T
    want = np.zeros_like(acc)
    for o in range(5):
        for t in range(7):
            want[:, o] += acc[:, o] >= thr[o, t]
    got = np.fromfile(tmp_path / e["files"]["codes"]["bin"], dtype=np.uint8).reshape(20, 5)
    np.testing.assert_array_equal(got, want)
    assert want.min() < want.max()          # the thresholds really split the outputs


def test_hex_is_fixed_width_msn_first_and_equals_binary(tmp_path):
    x = np.zeros((1, 70), dtype=np.int64)
    x[0, 0] = 1                     # only element 0 set in branch 0
    x[0, 67] = 1
    w = np.ones((2, 70), dtype=np.int64)
    e = write_layer_vectors(tmp_path, "h", x, w, w_bits=1, a_bits=1, pe=2, simd=16)
    lines = read_hex_lines(tmp_path / e["files"]["x_planes"]["hex"])
    assert lines == ["0000000000000001", "0000000000000008"]
    acc_lines = read_hex_lines(tmp_path / e["files"]["acc"]["hex"])
    assert all(len(s) == 8 for s in acc_lines)
    # acc = sum over k of x*w with w = +1: 2 ones (+1) and 68 zeros (-1) -> -66
    assert acc_lines == [format((-66) & 0xFFFFFFFF, "08x")] * 2
    for key in ("x_planes", "w_planes", "acc", "codes", "thresholds"):
        d = e["files"][key]
        raw = np.fromfile(tmp_path / d["bin"], dtype=np.dtype(d["dtype"]).newbyteorder("<"))
        hexv = [int(s, 16) for s in read_hex_lines(tmp_path / d["hex"])]
        assert [int(v) & ((1 << d["word_bits"]) - 1) for v in raw] == hexv
        assert len(hexv) == int(np.prod(d["shape"])) == d["words"]


def test_manifest_leaves_nothing_implicit(tmp_path):
    rng = np.random.default_rng(4)
    write_layer_vectors(tmp_path, "a", rng.integers(0, 2, (2, 9)), rng.integers(0, 2, (3, 9)),
                        w_bits=1, a_bits=1)
    write_layer_vectors(tmp_path, "b", rng.integers(0, 4, (1, 4, 4, 2)),
                        rng.integers(0, 8, (3, 3, 3, 2)), w_bits=3, a_bits=2, op="conv")
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert [l["name"] for l in m["layers"]] == ["a", "b"]
    assert m["word_bits"] == 64
    assert m["conventions"]["bit_values"] == {"1": 1, "0": -1}
    assert "least significant" in m["conventions"]["branch_order"]
    for layer in m["layers"]:
        assert layer["accumulator"]["signed"] is True
        assert layer["accumulator"]["bits"] == 32 and layer["accumulator"]["dtype"] == "int32"
        for d in layer["files"].values():
            if isinstance(d, str):
                continue
            for key in ("dtype", "word_bits", "signed", "byte_order", "shape", "axes",
                        "strides_words", "hex", "bin"):
                assert key in d
            # C-order strides in words
            want = [int(np.prod(d["shape"][i + 1:])) for i in range(len(d["shape"]))]
            assert d["strides_words"] == want
            assert (tmp_path / d["hex"]).is_file() and (tmp_path / d["bin"]).is_file()
    # rewriting a layer replaces its entry
    write_layer_vectors(tmp_path, "a", np.zeros((1, 9), int), np.zeros((3, 9), int),
                        w_bits=1, a_bits=1)
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert [l["name"] for l in m["layers"]] == ["b", "a"]
    assert m["layers"][1]["input_shape"] == [1, 9]


def test_accumulator_widens_to_int64(tmp_path):
    k = 33100          # 33100 * 255 * 255 > 2^31 - 1
    x = np.full((1, k), 255)
    w = np.full((1, k), 255)
    e = write_layer_vectors(tmp_path, "big", x, w, w_bits=8, a_bits=8, formats=("bin",))
    assert e["accumulator"]["dtype"] == "int64" and e["accumulator"]["bits"] == 64
    got = np.fromfile(tmp_path / e["files"]["acc"]["bin"], dtype="<i8")
    assert int(got[0]) == k * 255 * 255 > 2**31


def _bits_of(word, lo, n):
    return [(word >> (lo + s)) & 1 for s in range(n)]


def test_rtl_images_follow_documented_layout(tmp_path):
    rng = np.random.default_rng(5)
    k, n_out, wb, ab, pe, simd = 21, 5, 2, 2, 2, 8
    x = rng.integers(0, 4, (3, k))
    w = rng.integers(0, 4, (n_out, k))
    thr = np.sort(rng.integers(-30, 30, (n_out, 3)), axis=1)
    e = write_layer_vectors(tmp_path, "r", x, w, w_bits=wb, a_bits=ab, thresholds=thr,
                            pe=pe, simd=simd)
    rtl = e["rtl"]
    nf, nt = 3, 3
    acc_w = rtl["parameters"]["ACC_W"]
    assert (rtl["folds"], rtl["tiles"]) == (nf, nt)
    stream = [int(s, 16) for s in read_hex_lines(tmp_path / rtl["files"]["x_stream"]["hex"])]
    wrom = [int(s, 16) for s in read_hex_lines(tmp_path / rtl["files"]["w_rom"]["hex"])]
    trom = [int(s, 16) for s in read_hex_lines(tmp_path / rtl["files"]["t_rom"]["hex"])]
    assert len(stream) == 3 * nf and len(wrom) == nt * wb * nf and len(trom) == nt

    def elem_bit(codes, i, idx):
        return int((codes[idx] >> i) & 1) if idx < k else 0

    for r in range(3):
        for f in range(nf):
            for j in range(ab):
                assert _bits_of(stream[r * nf + f], j * simd, simd) == \
                    [elem_bit(x[r], j, f * simd + s) for s in range(simd)]
    for t in range(nt):
        for i in range(wb):
            for f in range(nf):
                word = wrom[(t * wb + i) * nf + f]
                for p in range(pe):
                    ch = t * pe + p
                    want = [elem_bit(w[ch], i, f * simd + s) if ch < n_out else 0
                            for s in range(simd)]
                    assert _bits_of(word, p * simd, simd) == want
        for p in range(pe):
            ch = t * pe + p
            for n in range(3):
                v = (trom[t] >> ((p * 3 + n) * acc_w)) & ((1 << acc_w) - 1)
                v = v - (1 << acc_w) if v >> (acc_w - 1) else v
                assert v == (int(thr[ch, n]) if ch < n_out else 0)
    # accumulators fit ACC_W signed bits
    acc = ref_values(x, ab) @ ref_values(w, wb).T
    assert np.abs(acc).max() < 2 ** (acc_w - 1)


@pytest.mark.parametrize("kwargs,match", [
    ({"x": np.full((2, 8), 4)}, "x_codes"),
    ({"w": np.full((3, 8), -1)}, "w_codes"),
    ({"w": np.zeros((3, 9), int)}, "equal K"),
    ({"x": np.zeros((2, 8))}, "integer"),
    ({"name": "../evil"}, "plain file name"),
    ({"op": "pool"}, "op"),
    ({"thresholds": np.zeros((3, 2), int)}, r"thresholds must be .*\(3, 3\)"),
    ({"w_bits": 0}, "w_bits"),
    ({"simd": 0}, "simd"),
])
def test_bad_input_raises_valueerror_naming_it(tmp_path, kwargs, match):
    args = {"x": np.zeros((2, 8), int), "w": np.zeros((3, 8), int), "name": "l", "op": "fc",
            "w_bits": 1, "thresholds": None, "simd": 32}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        write_layer_vectors(tmp_path, args["name"], args["x"], args["w"], w_bits=args["w_bits"],
                            a_bits=2, op=args["op"], thresholds=args["thresholds"],
                            simd=args["simd"])


hyp = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(wb=st.integers(1, 4), ab=st.integers(1, 4), n=st.integers(1, 4), k=st.integers(1, 150),
       o=st.integers(1, 9), pe=st.integers(1, 5), simd=st.sampled_from([1, 3, 8, 32, 64]),
       seed=st.integers(0, 2**16))
def test_property_fc_acc_and_rom_decode(tmp_path_factory, wb, ab, n, k, o, pe, simd, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 1 << ab, (n, k))
    w = rng.integers(0, 1 << wb, (o, k))
    d = tmp_path_factory.mktemp("p")
    e = write_layer_vectors(d, "p", x, w, w_bits=wb, a_bits=ab, pe=pe, simd=simd,
                            formats=("npz",))
    with np.load(d / e["files"]["npz"]) as z:
        np.testing.assert_array_equal(z["acc"], ref_values(x, ab) @ ref_values(w, wb).T)
    # re-assemble every weight bit from the ROM image and compare with the codes
    nf, nt = -(-k // simd), -(-o // pe)
    rom = [int(s, 16) for s in read_hex_lines(d / e["rtl"]["files"]["w_rom"]["hex"])]
    assert len(rom) == nt * wb * nf
    got = np.zeros((o, k), dtype=np.int64)
    for t in range(nt):
        for i in range(wb):
            for f in range(nf):
                word = rom[(t * wb + i) * nf + f]
                for p in range(pe):
                    for s in range(simd):
                        bit = (word >> (p * simd + s)) & 1
                        ch, kk = t * pe + p, f * simd + s
                        if ch < o and kk < k:
                            got[ch, kk] |= bit << i
                        else:
                            assert bit == 0
    np.testing.assert_array_equal(got, w)
