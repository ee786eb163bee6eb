"""The reference accelerator's view of a layer (rtl/bitops_mb_layer.v).

This file is the one place that knows the engine's folding: how a layer's
planes are laid out in its weight and threshold ROMs and its input stream,
how output beats map back to channels, and how many cycles it takes.

Folding: PE output lanes by SIMD bits per cycle. NFOLD = ceil(K/SIMD) folds,
NTILE = ceil(NOUT/PE) tiles, P = WBITS*ABITS branch pairs.

- input stream, per input vector (fc row or conv patch): NFOLD beats of
  ABITS*SIMD bits; beat f holds plane j's elements f*SIMD .. f*SIMD+SIMD-1 at
  bits [j*SIMD +: SIMD] (element f*SIMD+s at bit s), pad bits 0.
- weight ROM: word (t*WBITS + i)*NFOLD + f, PE*SIMD bits; lane p's bits
  [p*SIMD +: SIMD] = plane i of channel t*PE+p over the same elements.
- threshold ROM: word t, PE*NTHR*ACC_W bits; threshold n of lane p at
  [(p*NTHR + n)*ACC_W +: ACC_W], two's complement.
- output: one beat per (vector, tile); lane p of beat b is channel
  (b % NTILE)*PE + p of vector b // NTILE; lanes past NOUT carry 0.
- cycles, from the first input handshake to the last output handshake, both
  counted, with no input gaps and no back-pressure:
      NFOLD + R * NTILE * P * NFOLD + 1
  (the first vector's load, then compute with loads hidden behind it by the
  double-buffered input, then the output register).
"""
import numpy as np

from .golden import acc_max_abs, plane_bits

MODULE = "bitops_mb_layer"
SOURCES = ("bitops_popcount.v", "bitops_mb_layer.v")
PORTS = {"clock": "clk", "in_valid": "s_valid", "in_ready": "s_ready", "in_data": "s_data",
         "out_valid": "m_valid", "out_ready": "m_ready", "acc": "m_acc", "code": "m_code",
         "last": "m_last"}

__all__ = ["MODULE", "SOURCES", "PORTS", "acc_width", "folds", "tiles", "expected_cycles",
           "stream_words", "weight_rom_words", "threshold_rom_words", "unpack_lanes", "unpack_beats", "rtl_dir"]


def rtl_dir():
    """Path of the Verilog sources in a source checkout (``rtl/``), or None."""
    from pathlib import Path

    d = Path(__file__).resolve().parents[2] / "rtl"
    return d if (d / SOURCES[-1]).exists() else None


def acc_width(k, w_bits, a_bits):
    """ACC_W: signed bits that hold every accumulator and every useful threshold.

    |acc| <= K(2^M-1)(2^N-1) = m; thresholds are clipped to [-(m+1), m+1],
    which keeps every code, so bit_length(m) + 2 bits suffice.
    """
    return acc_max_abs(k, w_bits, a_bits).bit_length() + 2


def folds(k, simd):
    return -(-int(k) // int(simd))


def tiles(n_out, pe):
    return -(-int(n_out) // int(pe))


def expected_cycles(rows, k, n_out, w_bits, a_bits, pe, simd):
    """Cycles of one layer on the engine with no stalls (formula in the module docstring)."""
    nf = folds(k, simd)
    return nf + int(rows) * tiles(n_out, pe) * w_bits * a_bits * nf + 1


def _bits_to_int(bits):
    """0/1 vector, element 0 = bit 0 -> Python int."""
    return int.from_bytes(np.packbits(np.asarray(bits, dtype=np.uint8), bitorder="little").tobytes(),
                          "little")


def _fold_pad(b, simd):
    """(..., K) bits -> (..., NFOLD, SIMD) with zero pad bits."""
    k = b.shape[-1]
    nf = folds(k, simd)
    pad = [(0, 0)] * (b.ndim - 1) + [(0, nf * simd - k)]
    return np.pad(b, pad).reshape(b.shape[:-1] + (nf, simd))


def stream_words(x_rows_u, a_bits, simd):
    """Input rows (R, K) unsigned codes -> R*NFOLD stream words (ABITS*SIMD bits)."""
    b = _fold_pad(plane_bits(x_rows_u, a_bits), simd)        # (A, R, NF, SIMD)
    beats = np.moveaxis(b, 0, 2).reshape(b.shape[1], b.shape[2], a_bits * simd)
    return [_bits_to_int(v) for v in beats.reshape(-1, a_bits * simd)]


def weight_rom_words(w_rows_u, w_bits, pe, simd):
    """Weight rows (O, K) unsigned codes -> NTILE*WBITS*NFOLD ROM words (PE*SIMD bits)."""
    o = w_rows_u.shape[0]
    nt = tiles(o, pe)
    b = _fold_pad(plane_bits(w_rows_u, w_bits), simd)          # (M, O, NF, SIMD)
    b = np.pad(b, [(0, 0), (0, nt * pe - o), (0, 0), (0, 0)])
    b = b.reshape(w_bits, nt, pe, b.shape[2], simd)             # (M, T, PE, NF, SIMD)
    words = np.transpose(b, (1, 0, 3, 2, 4)).reshape(-1, pe * simd)   # (T, M, NF) x lanes
    return [_bits_to_int(v) for v in words]


def threshold_rom_words(thresholds, pe, acc_w):
    """Thresholds (O, NTHR) int -> NTILE ROM words (PE*NTHR*ACC_W bits)."""
    o, nthr = thresholds.shape
    nt = tiles(o, pe)
    mask = (1 << acc_w) - 1
    words = []
    for t in range(nt):
        word = 0
        for p in range(pe):
            ch = t * pe + p
            for n in range(nthr):
                v = int(thresholds[ch, n]) if ch < o else 0
                word |= (v & mask) << ((p * nthr + n) * acc_w)
        words.append(word)
    return words


def unpack_lanes(word, pe, lane_bits, signed):
    """One output beat (Python int) -> its PE lane values, lane 0 first."""
    mask = (1 << lane_bits) - 1
    half = 1 << (lane_bits - 1)
    out = []
    for p in range(pe):
        v = (int(word) >> (p * lane_bits)) & mask
        out.append(v - (1 << lane_bits) if signed and v >= half else v)
    return out


def unpack_beats(beats, pe, lane_bits, n_out, signed):
    """Output beats (Python ints, PE lanes each) -> values in (vector, channel) order.

    Lanes past ``n_out`` in the last tile are dropped. Returns int64 (n_vectors, n_out);
    a trailing partial vector raises ValueError.
    """
    nt = tiles(n_out, pe)
    if len(beats) % nt:
        raise ValueError(f"{len(beats)} output beats is not a whole number of vectors "
                         f"({nt} beats of {pe} lanes per vector)")
    out = np.zeros((len(beats) // nt, nt * pe), dtype=np.int64)
    for b, word in enumerate(beats):
        r, t = divmod(b, nt)
        out[r, t * pe:(t + 1) * pe] = unpack_lanes(word, pe, lane_bits, signed)
    return out[:, :n_out]
