"""The accumulator of one branch pair: adds the tree's partial popcounts over
the ceil(K/simd) reduction folds.

A sum of K values in {-1,+1} lies in [-K, K], so it needs
ceil(log2(K + 1)) + 1 bits (the sign).
"""
import math

DEPTH = 1


def bits(k):
    return math.ceil(math.log2(k + 1)) + 1


def ops(out_elems, pairs, folds_in):
    """Adds per layer: every output of every branch pair takes one add per reduction fold."""
    return out_elems * pairs * folds_in


def luts(width):
    return width


def flops(width):
    return width


def area_um2(width, area):
    return width * (area.full_adder_um2 + area.flop_um2)
