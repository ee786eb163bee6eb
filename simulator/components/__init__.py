"""The parts of the engine template, each with its own cost formulas.

Every module answers the same questions for its part -- pipeline depth
(cycles), events per layer, LUTs/flip-flops per PE lane, ASIC area per lane --
so that `simulator.schedule` only composes them. Energies are in pJ, areas in
um2; the per-event energies and cell areas come from the hardware file.
"""
from . import accumulator, buffers, combiner, offchip, output_unit, popcount, xnor

__all__ = ["accumulator", "buffers", "combiner", "offchip", "output_unit", "popcount", "xnor"]
