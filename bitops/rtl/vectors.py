"""Golden test vectors for RTL: per layer, packed inputs and weights per
branch, exact integer accumulators and output codes, as ``$readmemh`` hex,
raw binary and ``.npz``, described by a JSON manifest.

Layout of a vector set::

    DIR/manifest.json          format, conventions, and one entry per layer
    DIR/<layer>/x_planes.hex|.bin   packed input planes   (uint64 words)
    DIR/<layer>/w_planes.hex|.bin   packed weight planes  (uint64 words)
    DIR/<layer>/acc.hex|.bin        accumulators          (int32 or int64)
    DIR/<layer>/codes.hex|.bin      output codes          (uint8)
    DIR/<layer>/thresholds.hex|.bin output thresholds     (accumulator dtype)
    DIR/<layer>/x_rows.hex|.bin     conv only: the patch matrix the RTL streams
    DIR/<layer>/w_rows.hex|.bin     conv only: OHWI weights flattened to rows
    DIR/<layer>/layer.npz           every array above plus the integer codes
    DIR/<layer>/rtl/               images for rtl/bitops_mb_layer.v (see engine.py)

Every array file is described in the manifest by its dtype, word width,
byte order, shape, axis names and strides (in words), so a test bench never
guesses. The math is in golden.py; the engine folding in engine.py.
"""
import json
import os
from pathlib import Path

import numpy as np

from . import engine, golden, memfile

FORMAT = "bitops-rtl-vectors"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"

CONVENTIONS = {
    "bit_values": {"1": 1, "0": -1},
    "binarize": "x >= 0 -> bit 1 (+1), x < 0 -> bit 0 (-1)",
    "branch_order": "branch 0 is the least significant plane and comes first",
    "value_of_code": "E = sum_i 2^i * (2*c_i - 1) = 2*u - (2^bits - 1), u = q - qmin",
    "packing": "along the reduction axis K (last axis): element k is bit k % 64 of word k // 64; "
               "bits past K are 0",
    "hex": "one word per line, fixed width ceil(word_bits/4) digits, most significant nibble "
           "first (bit 0 is the last digit); signed words in two's complement at word_bits",
    "binary": "words back to back, little-endian, itemsize = word_bits/8",
    "array_order": "C order (row-major): the last axis varies fastest",
    "accumulator": "acc = sum_k E_x[k] * E_w[k], exact; "
                   "= sum_{i<w_bits} sum_{j<a_bits} 2^(i+j) * (K - 2*popcount(W_i XOR X_j))",
    "output_code": "code[o] = number of t with acc[o] >= thresholds[o, t]",
}

__all__ = ["write_layer_vectors", "read_manifest", "load_layer", "FORMAT", "MANIFEST"]


def _descriptor(path, rel, array, dtype, word_bits, signed, axes, formats):
    arr = np.ascontiguousarray(np.asarray(array).astype(dtype))
    if len(axes) != arr.ndim:
        raise AssertionError(f"{rel}: {len(axes)} axis names for {arr.ndim}-d array")
    desc = {
        "dtype": np.dtype(dtype).name,
        "word_bits": int(word_bits),
        "signed": bool(signed),
        "byte_order": "little",
        "shape": list(arr.shape),
        "axes": list(axes),
        "strides_words": [int(s) // arr.itemsize for s in arr.strides],
        "words": int(arr.size),
    }
    if "hex" in formats:
        memfile.write_hex(path / f"{rel}.hex", arr, word_bits, signed=signed)
        desc["hex"] = f"{rel}.hex"
    if "bin" in formats:
        memfile.write_bin(path / f"{rel}.bin", arr, dtype)
        desc["bin"] = f"{rel}.bin"
    return desc


def _wide(path, rel, words, word_bits, layout):
    memfile.write_hex(path / rel, words, word_bits)
    return {"hex": rel, "word_bits": int(word_bits), "words": len(words),
            "layout": layout}


def _check_name(name):
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ValueError(f"layer name must be a plain file name, got {name!r}")


def write_layer_vectors(out_dir, name, x_codes, w_codes, *, w_bits, a_bits, op="fc",
                        x_qmin=0, w_qmin=0, stride=1, padding=0, dilation=1, pad_code=0,
                        thresholds=None, out_bits=2, pe=4, simd=32,
                        formats=("hex", "bin", "npz"), meta=None):
    """Write one layer's golden vectors under ``out_dir/name`` and add it to the manifest.

    fc:   x_codes (N, K) int, w_codes (O, K) int        -> acc, codes (N, O)
    conv: x_codes (N, H, W, C) NHWC, w_codes (O, KH, KW, C) OHWI
                                                         -> acc, codes (N, OH, OW, O)
    Codes are integers q with u = q - qmin in [0, 2^bits - 1]. Convolution
    taps in the padding take activation code ``pad_code`` (unsigned, u domain).
    ``thresholds`` (O, 2^out_bits - 1) int, ascending per row, give the output
    codes; by default evenly spaced over the accumulator range. ``pe`` and
    ``simd`` fold the layer for the reference RTL (memory images in ``rtl/``).
    ``meta``: extra JSON-able keys for the manifest entry (e.g. the source layer).

    Returns the layer's manifest entry (dict). Raises ValueError on bad input.
    """
    _check_name(name)
    if op not in ("fc", "conv"):
        raise ValueError(f"op must be 'fc' or 'conv', got {op!r}")
    for key, v in (("w_bits", w_bits), ("a_bits", a_bits), ("out_bits", out_bits)):
        if not isinstance(v, (int, np.integer)) or not 1 <= v <= 8:
            raise ValueError(f"{key} must be an int in 1..8, got {v!r}")
    for key, v in (("pe", pe), ("simd", simd)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{key} must be a positive int, got {v!r}")
    bad = set(formats) - {"hex", "bin", "npz"}
    if bad:
        raise ValueError(f"formats may hold 'hex', 'bin', 'npz'; got {sorted(bad)}")
    x_u = golden.codes_to_unsigned(x_codes, a_bits, x_qmin, "x_codes")
    w_u = golden.codes_to_unsigned(w_codes, w_bits, w_qmin, "w_codes")

    entry = {"name": name, "op": op, "w_bits": int(w_bits), "a_bits": int(a_bits),
             "out_bits": int(out_bits), "x_qmin": int(x_qmin), "w_qmin": int(w_qmin)}
    if op == "fc":
        if x_u.ndim != 2 or w_u.ndim != 2 or x_u.shape[1] != w_u.shape[1]:
            raise ValueError(f"fc needs x_codes (N, K) and w_codes (O, K) with equal K; "
                             f"got x {x_u.shape}, w {w_u.shape}")
        k = x_u.shape[1]
        n_out = w_u.shape[0]
        x_rows, w_rows = x_u, w_u
        acc = golden.accumulate(x_u, a_bits, w_u, w_bits)
        out_axes = ["batch", "channel"]
        x_axes, w_axes = ["branch", "batch", "k_word"], ["branch", "channel", "k_word"]
    else:
        if x_u.ndim != 4 or w_u.ndim != 4 or x_u.shape[3] != w_u.shape[3]:
            raise ValueError(f"conv needs x_codes NHWC and w_codes OHWI with equal C; "
                             f"got x {x_u.shape}, w {w_u.shape}")
        if not 0 <= int(pad_code) <= (1 << a_bits) - 1:
            raise ValueError(f"pad_code must be in [0, {(1 << a_bits) - 1}], got {pad_code}")
        n_out, kh, kw, c = w_u.shape
        n, h, wd, _ = x_u.shape
        oh, ow = golden.conv_output_size(h, wd, kh, kw, stride, padding, dilation)
        k = kh * kw * c
        cols = golden.im2col(x_u, kh, kw, stride, padding, dilation, pad_code)
        x_rows, w_rows = cols.reshape(-1, k), w_u.reshape(n_out, k)
        acc = golden.accumulate_conv(x_u, a_bits, w_u, w_bits, stride, padding, dilation,
                                     pad_code)
        out_axes = ["batch", "y", "x", "channel"]
        x_axes = ["branch", "batch", "y", "x", "c_word"]
        w_axes = ["branch", "channel", "kh", "kw", "c_word"]
        entry["conv"] = {
            "layout": {"x": "NHWC", "w": "OHWI", "out": "NHWO"},
            "kernel": [kh, kw], "stride": list(golden._pair(stride, "stride")),
            "padding": list(golden._pair(padding, "padding")),
            "dilation": list(golden._pair(dilation, "dilation")),
            "pad_code": int(pad_code),
            "pad_value_E": 2 * int(pad_code) - ((1 << a_bits) - 1),
            "patch_order": "rows = (batch, y, x) C order; within a row taps (kh, kw, c), "
                           "c fastest, K = KH*KW*C",
        }

    adt = golden.acc_dtype(k, w_bits, a_bits)
    m = golden.acc_max_abs(k, w_bits, a_bits)
    nthr = (1 << out_bits) - 1
    if thresholds is None:
        thr = golden.default_thresholds(n_out, k, w_bits, a_bits, out_bits)
    else:
        thr = np.asarray(thresholds)
        if not np.issubdtype(thr.dtype, np.integer) or thr.shape != (n_out, nthr):
            raise ValueError(f"thresholds must be an integer array ({n_out}, {nthr}) for "
                             f"{n_out} channels and out_bits={out_bits}; got {thr.dtype} {thr.shape}")
        thr = thr.astype(np.int64)
    thr = np.clip(thr, -(m + 1), m + 1)     # same codes for every reachable acc
    codes = golden.threshold_codes(acc, thr)

    path = Path(out_dir) / name
    (path / "rtl").mkdir(parents=True, exist_ok=True)
    x_planes = golden.pack_planes(x_u, a_bits)
    w_planes = golden.pack_planes(w_u, w_bits)
    entry.update({
        "k": int(k), "n_out": int(n_out),
        "input_shape": list(x_u.shape), "weight_shape": list(w_u.shape),
        "output_shape": list(acc.shape), "output_axes": out_axes,
        "accumulator": {"dtype": adt.name, "bits": adt.itemsize * 8, "signed": True,
                        "max_abs": m},
    })
    fmts = tuple(formats)
    files = {
        "x_planes": _descriptor(path, "x_planes", x_planes, np.uint64, 64, False, x_axes, fmts),
        "w_planes": _descriptor(path, "w_planes", w_planes, np.uint64, 64, False, w_axes, fmts),
        "acc": _descriptor(path, "acc", acc, adt, adt.itemsize * 8, True, out_axes, fmts),
        "codes": _descriptor(path, "codes", codes, np.uint8, 8, False, out_axes, fmts),
        "thresholds": _descriptor(path, "thresholds", thr, adt, adt.itemsize * 8, True,
                                  ["channel", "threshold"], fmts),
    }
    if op == "conv":
        files["x_rows"] = _descriptor(path, "x_rows", golden.pack_planes(x_rows, a_bits),
                                      np.uint64, 64, False, ["branch", "row", "k_word"], fmts)
        files["w_rows"] = _descriptor(path, "w_rows", golden.pack_planes(w_rows, w_bits),
                                      np.uint64, 64, False, ["branch", "channel", "k_word"], fmts)
    entry["files"] = {k_: dict(v, **({"hex": f"{name}/{v['hex']}"} if "hex" in v else {}),
                               **({"bin": f"{name}/{v['bin']}"} if "bin" in v else {}))
                      for k_, v in files.items()}
    if "npz" in fmts:
        np.savez(path / "layer.npz", x_codes=np.asarray(x_codes), w_codes=np.asarray(w_codes),
                 x_planes=x_planes, w_planes=w_planes, x_rows=x_rows, w_rows=w_rows,
                 acc=acc.astype(adt), codes=codes, thresholds=thr.astype(adt))
        entry["files"]["npz"] = f"{name}/layer.npz"

    entry.update(meta or {})
    entry["rtl"] = _rtl_entry(path, name, x_rows, w_rows, thr, k, n_out, w_bits, a_bits,
                              out_bits, pe, simd)
    _upsert_manifest(Path(out_dir), entry)
    return entry


def _rtl_entry(path, name, x_rows, w_rows, thr, k, n_out, w_bits, a_bits, out_bits, pe, simd):
    acc_w = engine.acc_width(k, w_bits, a_bits)
    nf, nt = engine.folds(k, simd), engine.tiles(n_out, pe)
    rows = x_rows.shape[0]
    images = {
        "x_stream": _wide(path, "rtl/x_stream.hex", engine.stream_words(x_rows, a_bits, simd),
                          a_bits * simd,
                          "word r*NFOLD + f: plane j of row r, elements f*SIMD+s at bit j*SIMD+s"),
        "w_rom": _wide(path, "rtl/w_rom.hex", engine.weight_rom_words(w_rows, w_bits, pe, simd),
                       pe * simd,
                       "word (t*WBITS + i)*NFOLD + f: plane i of channel t*PE+p, element "
                       "f*SIMD+s at bit p*SIMD+s; channels past NOUT are 0"),
        "t_rom": _wide(path, "rtl/t_rom.hex", engine.threshold_rom_words(thr, pe, acc_w),
                       pe * ((1 << out_bits) - 1) * acc_w,
                       "word t: threshold n of channel t*PE+p at bits "
                       "[(p*NTHR + n)*ACC_W +: ACC_W], two's complement"),
    }
    for v in images.values():
        v["hex"] = f"{name}/{v['hex']}"
    return {
        "module": engine.MODULE,
        "sources": [f"rtl/{s}" for s in engine.SOURCES],
        "parameters": {"K": int(k), "NOUT": int(n_out), "WBITS": int(w_bits),
                       "ABITS": int(a_bits), "PE": int(pe), "SIMD": int(simd),
                       "ACC_W": int(acc_w), "OBITS": int(out_bits),
                       "WEIGHT_FILE": "w_rom.hex", "THRESH_FILE": "t_rom.hex"},
        "ports": dict(engine.PORTS),
        "rows": int(rows), "folds": nf, "tiles": nt,
        "files": images,
        "output": {"beats": rows * nt, "lanes": int(pe), "acc_lane_bits": int(acc_w),
                   "code_lane_bits": int(out_bits), "acc_signed": True,
                   "order": "beat b: row b // NTILE, tile b % NTILE; lane p at bits "
                            "[p*lane_bits +: lane_bits] is channel tile*PE + p; lanes past "
                            "NOUT are 0 and are not outputs"},
        "cycles": {"formula": "NFOLD + rows * NTILE * WBITS * ABITS * NFOLD + 1",
                   "expected": engine.expected_cycles(rows, k, n_out, w_bits, a_bits, pe, simd),
                   "counted": "first input handshake to last output handshake, both included, "
                              "no input gaps, no back-pressure"},
    }


def _upsert_manifest(out_dir, entry):
    mpath = out_dir / MANIFEST
    if mpath.exists():
        manifest = read_manifest(out_dir)
    else:
        manifest = {"format": FORMAT, "version": FORMAT_VERSION, "word_bits": golden.WORD_BITS,
                    "conventions": CONVENTIONS, "layers": []}
    manifest["layers"] = [l for l in manifest["layers"] if l["name"] != entry["name"]] + [entry]
    tmp = mpath.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, mpath)


def read_manifest(vectors_dir):
    """Load and check ``DIR/manifest.json`` -> dict. ValueError names the problem."""
    mpath = Path(vectors_dir) / MANIFEST
    if not mpath.is_file():
        raise ValueError(f"{vectors_dir}: no {MANIFEST} (not a bitops vector set)")
    try:
        manifest = json.loads(mpath.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{mpath}: invalid JSON: {exc}") from None
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("layers"), list):
        raise ValueError(f"{mpath}: not a {FORMAT} manifest")
    return manifest


def load_layer(vectors_dir, layer=None):
    """The manifest entry of ``layer`` (a name; may be omitted if the set has one layer)."""
    layers = read_manifest(vectors_dir)["layers"]
    names = [l["name"] for l in layers]
    if layer is None:
        if len(layers) != 1:
            raise ValueError(f"{vectors_dir} holds {len(layers)} layers {names}; choose one")
        return layers[0]
    for l in layers:
        if l["name"] == layer:
            return l
    raise ValueError(f"{vectors_dir}: no layer {layer!r}; layers are {names}")
