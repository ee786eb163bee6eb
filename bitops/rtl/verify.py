"""Check an RTL simulation's outputs against a golden vector set.

Actual outputs come as a ``$readmemh``-style hex dump, a raw binary dump, or a
VCD waveform. Hex and binary dumps hold one value per output in the golden
order (C order of the layer's output shape: fc (batch, channel), conv
(batch, y, x, channel)). A VCD is sampled like the DUT's consumer would: at
every rising clock edge where the valid strobe (and the ready signal, if
given) are 1, the data bus is read as one output beat of the reference
engine (PE lanes; see engine.py) using the values from before the edge.
"""
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import engine, memfile
from .vectors import load_layer

WHAT = ("acc", "codes")
UNDEFINED = None  # an X/Z sample in a VCD

__all__ = ["Mismatch", "VerifyResult", "load_expected", "read_actual", "read_vcd_beats",
           "compare", "verify"]


class Mismatch(NamedTuple):
    index: int          # flat index in output order
    coords: dict        # batch, y, x, channel (y, x for conv only)
    expected: int
    actual: object      # int, or None for X/Z or a missing value


class VerifyResult:
    """Outcome of comparing actual outputs with a layer's golden values."""

    def __init__(self, layer, what, expected_count, actual_count, count, first, word_bits):
        self.layer = layer
        self.what = what
        self.expected_count = expected_count
        self.actual_count = actual_count
        self.count = count              # number of wrong (or missing, or extra) values
        self.first = first              # the first few Mismatch
        self.word_bits = word_bits

    @property
    def ok(self):
        return self.count == 0

    def _fmt(self, v):
        if v is None:
            return "none (X/Z or missing)"
        digits = memfile.hex_digits(self.word_bits)
        return f"0x{int(v) & ((1 << self.word_bits) - 1):0{digits}x} ({int(v)})"

    def report(self):
        """Human-readable report: the count and the first mismatches with coordinates."""
        head = f"layer {self.layer} ({self.what}): "
        if self.ok:
            return head + f"all {self.expected_count} values match"
        lines = [head + f"{self.count} mismatches in {self.expected_count} expected values"
                 + (f" ({self.actual_count} received)"
                    if self.actual_count != self.expected_count else "")]
        for m in self.first:
            where = " ".join(f"{k}={v}" for k, v in m.coords.items())
            lines.append(f"  [{m.index}] layer={self.layer} {where}: expected "
                         f"{self._fmt(m.expected)}, actual {self._fmt(m.actual)}")
        if self.count > len(self.first):
            lines.append(f"  ... and {self.count - len(self.first)} more")
        return "\n".join(lines)

    __str__ = report


def _coords(entry, index):
    shape = entry["output_shape"]
    axes = entry["output_axes"]
    idx = np.unravel_index(index, shape) if index < int(np.prod(shape)) else [None] * len(shape)
    c = {a: (int(i) if i is not None else None) for a, i in zip(axes, idx)}
    return {k: c[k] for k in ("batch", "channel", "y", "x") if k in c}


def _descriptor(entry, what):
    if what not in WHAT:
        raise ValueError(f"what must be one of {WHAT}, got {what!r}")
    return entry["files"][what]


def load_expected(vectors_dir, entry, what="acc"):
    """Golden values of one layer -> int64 array of the output shape."""
    desc = _descriptor(entry, what)
    root = Path(vectors_dir)
    if "bin" in desc and (root / desc["bin"]).is_file():
        flat = memfile.read_bin(root / desc["bin"], desc["dtype"])
    elif "hex" in desc and (root / desc["hex"]).is_file():
        flat = np.array(memfile.read_hex(root / desc["hex"], desc["word_bits"], desc["signed"]))
    elif "npz" in entry["files"] and (root / entry["files"]["npz"]).is_file():
        with np.load(root / entry["files"]["npz"]) as z:
            flat = z[what].ravel()
    else:
        raise ValueError(f"{vectors_dir}: layer {entry['name']} has no readable {what} file")
    if flat.size != int(np.prod(desc["shape"])):
        raise ValueError(f"{vectors_dir}: layer {entry['name']} {what} holds {flat.size} "
                         f"values, manifest says shape {desc['shape']}")
    return flat.astype(np.int64).reshape(desc["shape"])


def _guess_format(path):
    suffix = Path(path).suffix.lower()
    if suffix in (".hex", ".mem", ".txt"):
        return "hex"
    if suffix in (".bin", ".raw", ".dat"):
        return "bin"
    if suffix == ".vcd":
        return "vcd"
    raise ValueError(f"{path}: cannot tell the format from the suffix {suffix!r}; "
                     f"give one of hex, bin, vcd")


def read_vcd_beats(path, signal, clock, valid, ready=None):
    """Sample ``signal`` at rising edges of ``clock`` where ``valid`` (and ``ready``) are 1.

    Names match a variable's full dotted path or its tail (``m_acc`` matches
    ``TOP.bitops_mb_layer.m_acc``); the shallowest match wins, and a tie is an
    error. Returns a list of ints (None for samples holding X or Z).
    """
    from vcd.reader import TokenKind, VCDParseError, tokenize

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such VCD file")
    wanted = {"signal": signal, "clock": clock, "valid": valid}
    if ready:
        wanted["ready"] = ready
    found = {role: [] for role in wanted}     # role -> [(depth, id_code, full name)]
    scope = []
    values = {}
    ids = None
    beats = []
    pending = []
    clock_rose = False

    def flush():
        nonlocal clock_rose
        if clock_rose and values.get(ids["valid"]) == 1 and \
                ("ready" not in ids or values.get(ids["ready"]) == 1):
            beats.append(values.get(ids["signal"]))
        for id_code, v in pending:
            values[id_code] = v
        pending.clear()
        clock_rose = False

    def decode(v):
        if isinstance(v, int):
            return v
        v = str(v).lower()
        if v in ("0", "1"):
            return int(v)
        return UNDEFINED

    try:
        with open(path, "rb") as fh:
            for tok in tokenize(fh):
                kind = tok.kind
                if kind is TokenKind.SCOPE:
                    scope.append(tok.data.ident)
                elif kind is TokenKind.UPSCOPE:
                    scope.pop()
                elif kind is TokenKind.VAR:
                    full = ".".join(scope + [tok.data.reference])
                    for role, name in wanted.items():
                        if full == name or full.endswith("." + name):
                            found[role].append((len(scope), tok.data.id_code, full))
                elif kind is TokenKind.ENDDEFINITIONS:
                    ids = {}
                    for role, name in wanted.items():
                        if not found[role]:
                            raise ValueError(f"{path}: no signal named {name!r} ({role})")
                        depth = min(d for d, _, _ in found[role])
                        best = {(i, f) for d, i, f in found[role] if d == depth}
                        if len({i for i, _ in best}) > 1:
                            raise ValueError(f"{path}: {role} name {name!r} is ambiguous: "
                                             f"{sorted(f for _, f in best)}")
                        ids[role] = best.pop()[0]
                elif kind is TokenKind.CHANGE_TIME:
                    if ids is not None:
                        flush()
                elif kind in (TokenKind.CHANGE_SCALAR, TokenKind.CHANGE_VECTOR):
                    if ids is None:
                        continue
                    d = tok.data
                    v = decode(d.value)
                    if d.id_code == ids["clock"] and v == 1 and values.get(d.id_code) == 0:
                        clock_rose = True
                    pending.append((d.id_code, v))
    except VCDParseError as exc:
        raise ValueError(f"{path}: not a valid VCD: {exc}") from None
    if ids is None:
        raise ValueError(f"{path}: VCD has no $enddefinitions (empty or truncated)")
    flush()
    return beats


def read_actual(path, entry, what="acc", fmt=None, width=None, dtype=None,
                signal=None, clock=None, valid=None, ready=None, beats=False):
    """Read a dump of one layer's outputs -> list of values (int, or None) in output order.

    hex: ``width`` bits per word (default: the golden file's width), signed for acc.
    bin: ``dtype`` words (default: the golden file's dtype), little-endian.
    vcd: output beats of the reference engine (signal/clock/valid/ready
         default to its port names); lanes past NOUT are dropped.
    beats: the hex dump holds whole output beats (PE lanes of ``width`` bits,
         default the manifest's lane width, per line), e.g. from
         ``$fwrite(fd, "%h\\n", m_acc)`` on every output handshake.
    """
    desc = _descriptor(entry, what)
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file (actual outputs)")
    fmt = fmt or _guess_format(path)
    signed = what == "acc"
    rtl = entry["rtl"]
    out = rtl["output"]
    lane_bits = int(width or out["acc_lane_bits" if what == "acc" else "code_lane_bits"])
    if beats:
        if fmt != "hex":
            raise ValueError("--beats reads hex dumps only")
        words = memfile.read_hex(path, lane_bits * int(out["lanes"]))
    elif fmt == "hex":
        bits = int(width or desc["word_bits"])
        return memfile.read_hex(path, bits, signed)
    elif fmt == "bin":
        try:
            dt = np.dtype(dtype or desc["dtype"])
        except TypeError:
            raise ValueError(f"unknown dtype {dtype!r}") from None
        return memfile.read_bin(path, dt).astype(np.int64).tolist()
    elif fmt == "vcd":
        ports = rtl["ports"]
        words = read_vcd_beats(path, signal or ports["acc" if what == "acc" else "code"],
                               clock or ports["clock"], valid or ports["out_valid"],
                               ready if ready is not None else ports["out_ready"])
    else:
        raise ValueError(f"unknown format {fmt!r}; use hex, bin or vcd")
    # --beats dumps and VCD samples are both whole output beats of PE lanes
    return _beats_to_values(words, int(out["lanes"]), lane_bits, int(entry["n_out"]), signed)


def _beats_to_values(beats, pe, lane_bits, n_out, signed):
    """Beats -> flat values; an X beat yields None for its lanes; a partial vector is kept."""
    nt = engine.tiles(n_out, pe)
    out = []
    for b, word in enumerate(beats):
        t = b % nt
        lanes = min(pe, n_out - t * pe)
        if word is UNDEFINED:
            out.extend([UNDEFINED] * lanes)
            continue
        out.extend(engine.unpack_lanes(word, pe, lane_bits, signed)[:lanes])
    return out


def compare(entry, expected, actual, what="acc", max_report=10):
    """Compare golden ``expected`` (array) with ``actual`` values -> VerifyResult."""
    exp = np.asarray(expected, dtype=np.int64).ravel()
    act = list(actual)
    first = []
    count = 0
    for i in range(max(len(exp), len(act))):
        e = int(exp[i]) if i < len(exp) else None
        a = act[i] if i < len(act) else None
        a = None if a is None else int(a)
        if e is None or a != e:
            count += 1
            if len(first) < max_report:
                first.append(Mismatch(i, _coords(entry, i), e, a))
    desc = _descriptor(entry, what)
    return VerifyResult(entry["name"], what, len(exp), len(act), count, first, desc["word_bits"])


def verify(vectors_dir, actual, layer=None, what="acc", fmt=None, max_report=10, **read_opts):
    """Check a dump against the golden vectors of ``layer`` -> VerifyResult."""
    entry = load_layer(vectors_dir, layer)
    expected = load_expected(vectors_dir, entry, what)
    values = read_actual(actual, entry, what, fmt=fmt, **read_opts)
    return compare(entry, expected, values, what, max_report)
