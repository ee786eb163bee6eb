"""The branch combiner: merges the M*N branch-pair sums with shifts by i + j.

    E_w . E_a = sum_{i<M} sum_{j<N} 2^(i+j) * d_ij,   |d_ij| <= K

so the merged value is bounded by K * (2^M - 1) * (2^N - 1) and needs
accumulator.bits(K) + M + N bits. With `branch_units` arrays in parallel a
tree of (branch_units - 1) shift-adders merges one pass, ceil(log2(units))
stages deep; when a layer needs several passes, one more shift-add
accumulates the passes.
"""
import math

DEPTH_PER_LEVEL = 1


def depth(branch_units):
    return math.ceil(math.log2(branch_units)) if branch_units > 1 else 0


def bits(acc_bits, w_bits, a_bits):
    return acc_bits + w_bits + a_bits


def ops(out_elems, pairs):
    """Shift-adds per layer: merging `pairs` sums into one costs pairs - 1 adds per output."""
    return out_elems * (pairs - 1)


def adders(branch_units, passes):
    return (branch_units - 1) + (1 if passes > 1 else 0)


def luts(branch_units, passes, width):
    return adders(branch_units, passes) * width


def flops(branch_units, passes, width):
    return adders(branch_units, passes) * width


def area_um2(branch_units, passes, width, area):
    return adders(branch_units, passes) * width * (area.full_adder_um2 + area.flop_um2)
