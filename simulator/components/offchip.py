"""The off-chip port: a transfer of `bits` costs a fixed latency plus the
bits at the sustained bandwidth,

    cycles = latency + ceil(bits / bits_per_cycle),   bits_per_cycle = GB/s * 8e9 / clock_hz

and offchip_bit picojoules per bit.
"""
import math


def cycles(bits, hw):
    if bits <= 0:
        return 0
    return hw.memory.offchip_latency_cycles + math.ceil(bits / hw.offchip_bits_per_cycle)


def energy_pj(bits, energy):
    return bits * energy.offchip_bit
