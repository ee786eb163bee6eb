"""The output unit: turns a merged sum into the next layer's `out_bits` code.

Two implementations, as in FINN: for narrow outputs (at most THRESHOLD_MAX_BITS
bits) `2^B - 1` thresholds per channel compared against the sum (LUTs only);
for wider outputs, or when the hardware says `output_unit: scale`, one
multiply-add per lane (a DSP on FPGA, a multiplier on ASIC).
"""
import math

DEPTH = 1
THRESHOLD_MAX_BITS = 4


def uses_thresholds(mode, out_bits):
    return mode == "threshold" and out_bits <= THRESHOLD_MAX_BITS


def ops(out_elems):
    return out_elems


def luts(mode, out_bits, width, channels_per_lane):
    """FINN: comparators (2^B-1)*width plus thresholds held in LUTRAM, *ceil(TMEM/64)."""
    if uses_thresholds(mode, out_bits):
        thresholds = 2 ** out_bits - 1
        return thresholds * width * (1 + math.ceil(channels_per_lane / 64))
    return width   # the bias adder beside the DSP multiply


def flops(out_bits, width):
    return width + out_bits


def dsp(mode, out_bits):
    """DSP slices per lane."""
    return 0 if uses_thresholds(mode, out_bits) else 1


def area_um2(mode, out_bits, width, channels_per_lane, area):
    if uses_thresholds(mode, out_bits):
        stored = (2 ** out_bits - 1) * width * channels_per_lane
        return (2 ** out_bits - 1) * width * area.full_adder_um2 + stored * area.sram_bit_um2
    return area.multiplier_um2 + width * area.full_adder_um2
