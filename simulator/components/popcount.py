"""The popcount tree: sums the `simd` xnor bits of a lane in one pipelined tree.

A balanced tree of two-input adders over `simd` leaves has
`ceil(log2(simd))` levels; level l (1-based) has ceil(simd / 2^l) adders of
l bits with (l + 1)-bit registered results. Each level is one pipeline stage.
"""
import math
from functools import lru_cache

DEPTH_PER_LEVEL = 1


def depth(simd):
    """Pipeline stages of the tree: ceil(log2(simd)) (0 for a single bit)."""
    return math.ceil(math.log2(simd)) if simd > 1 else 0


@lru_cache(maxsize=None)
def _levels(simd):
    """(adders, adder_bits) per level, for simd leaves."""
    out, width = [], simd
    for level in range(1, depth(simd) + 1):
        width = math.ceil(width / 2)
        out.append((width, level))
    return tuple(out)


def luts(simd):
    """LUTs per lane: FINN-R's adder-tree estimate (W+A)*(2Q-1) at W = A = 1."""
    return 2 * (2 * simd - 1)


@lru_cache(maxsize=None)
def flops(simd):
    return sum(n * (bits + 1) for n, bits in _levels(simd))


@lru_cache(maxsize=None)
def area_um2(simd, area):
    cells = sum(n * bits for n, bits in _levels(simd))
    return cells * area.full_adder_um2 + flops(simd) * area.flop_um2
