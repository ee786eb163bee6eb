"""The shapes and bit configurations the benchmark measures, and their work counts.

Work is counted in binary operations, the unit of the popcount roofline:

    GEMM  M x N x K with Wb-bit weights, Ab-bit activations:  M*N*K * Wb*Ab bit-ops
    conv  B x OH x OW x O outputs, KH*KW*C taps each:         B*OH*OW*O*KH*KW*C * Wb*Ab bit-ops

(one bit-op = one xnor plus its share of the popcount; every tap of a padded
convolution is counted, as the kernel computes it). Peers that multiply
integers or floats do the same number of multiply-accumulates (the bit-op count
divided by Wb*Ab), so time ratios compare equal work.
"""
from dataclasses import dataclass

# (w_bits, a_bits): the configurations the issue asks for, named "W{w}A{a}".
BIT_CONFIGS = ((1, 1), (1, 2), (2, 2), (4, 4), (8, 8))


def config_name(w_bits, a_bits):
    return f"W{w_bits}A{a_bits}"


def parse_bits(text):
    """Bit configurations from text: 'default' (BIT_CONFIGS), 'all' (every W, A in 1..8),
    or a comma-separated list of 'W2A4' / '2x4' items (weights first). Returns a tuple of (w, a)."""
    text = text.strip()
    if text == "default":
        return BIT_CONFIGS
    if text == "all":
        return tuple((w, a) for w in range(1, 9) for a in range(1, 9))
    out = []
    for item in text.split(","):
        item = item.strip().upper()
        try:
            w, a = (item[1:].split("A") if item.startswith("W") else item.split("X"))
            pair = (int(w), int(a))
        except ValueError:
            raise ValueError(f"bits: cannot read {item!r}; use e.g. 'W2A4', '2x4', 'all' or 'default'") from None
        if not all(1 <= b <= 8 for b in pair):
            raise ValueError(f"bits: {item!r} is out of range (1..8 bits each)")
        out.append(pair)
    if not out:
        raise ValueError("bits: no configuration given")
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class GemmCase:
    """out (M, N) = a (M, K) @ w (N, K).T"""

    m: int
    n: int
    k: int
    kind: str = "gemm"

    @property
    def name(self):
        return f"gemm {self.m}x{self.n}x{self.k}"

    @property
    def macs(self):
        return self.m * self.n * self.k


@dataclass(frozen=True)
class ConvCase:
    """NHWC input (batch, h, w, c) * OHWI weights (o, kh, kw, c), square stride and symmetric padding."""

    h: int
    w: int
    c: int
    o: int
    kh: int = 3
    kw: int = 3
    stride: int = 1
    padding: int = 1
    batch: int = 1
    kind: str = "conv"

    @property
    def out_hw(self):
        oh = (self.h + 2 * self.padding - self.kh) // self.stride + 1
        ow = (self.w + 2 * self.padding - self.kw) // self.stride + 1
        return oh, ow

    @property
    def name(self):
        return f"conv {self.h}x{self.w}x{self.c}->{self.o} {self.kh}x{self.kw}"

    @property
    def macs(self):
        oh, ow = self.out_hw
        return self.batch * oh * ow * self.o * self.kh * self.kw * self.c


def bit_ops(case, w_bits, a_bits):
    """Binary operations of one bitops call on `case` (see the module docstring)."""
    return case.macs * w_bits * a_bits


# The shapes (item 5) and a small set that runs in seconds (--quick, the harness tests).
FULL = {"gemm": GemmCase(1024, 1024, 1024), "conv": ConvCase(56, 56, 256, 256)}
QUICK = {"gemm": GemmCase(256, 256, 256), "conv": ConvCase(14, 14, 64, 64)}


def cases(quick=False, only=None):
    """The cases to run: a list of GemmCase / ConvCase, optionally only one kind ('gemm' or 'conv')."""
    table = QUICK if quick else FULL
    if only is not None and only not in table:
        raise ValueError(f"only must be one of {sorted(table)}, got {only!r}")
    return [case for kind, case in table.items() if only in (None, kind)]
