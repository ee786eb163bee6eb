"""On-chip buffers: BRAM18 counts, energy per bit by size, SRAM area.

BRAM18 for a weight memory follows FINN-R's table for a memory `width` bits
wide and `depth` words deep in simple dual-port RAMB18 (aspect ratios
16K x 1, 8K x 2, 4K x 4, 2K x 9, 1K x 18, 512 x 36). Other buffers are costed
by capacity (18 Kib per BRAM18) and width (36 bits per BRAM18). Memories
under LUTRAM_BITS bits go to LUTRAM, as FINN's synthesis does.
"""
import math

BRAM18_BITS = 18 * 1024
LUTRAM_BITS = 1024


def weight_bram18(width, depth):
    if width * depth <= LUTRAM_BITS:
        return 0
    if width == 1:
        return math.ceil(depth / 16384)
    if width == 2:
        return math.ceil(depth / 8192)
    if width <= 4:
        return math.ceil(depth / 4096) * math.ceil(width / 4)
    if width <= 9:
        return math.ceil(depth / 2048) * math.ceil(width / 9)
    if width <= 18 or depth > 512:
        return math.ceil(depth / 1024) * math.ceil(width / 18)
    return math.ceil(depth / 512) * math.ceil(width / 36)


def bram18(bits, width=36):
    """BRAM18 for a buffer of `bits` capacity read `width` bits at a time."""
    if bits <= LUTRAM_BITS:
        return 0
    return max(math.ceil(bits / BRAM18_BITS), math.ceil(width / 36))


def energy_pj(bits, size_kb, energy):
    return bits * energy.sram_bit(size_kb)


def area_um2(bits, area):
    return bits * area.sram_bit_um2
