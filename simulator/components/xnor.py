"""The xnor array: `simd` one-bit products per lane per cycle.

For {-1,+1} values stored as bits, x*y = +1 exactly when the bits agree, so one
branch-pair product is an XNOR gate. One register stage holds the operands.
"""
DEPTH = 1   # operand register


def luts(simd):
    """LUTs per lane: FINN-R's multiplier estimate Q*(2*ceil((W+A)/6)-1)*(W+A) at W = A = 1."""
    return 2 * simd


def flops(simd):
    return simd


def area_um2(simd, area):
    return simd * (area.xnor_um2 + area.flop_um2)
