"""bitops.simulator: a cycle-approximate cost model for multi-branch binary engines.

    hw = simulator.presets.get("fpga-zu3eg-like")        # or Hardware.from_file("hw.yaml")
    wl = simulator.workloads.get("resnet18")             # or Workload.from_file / from_model / from_onnx
    rep = simulator.estimate(wl, hw, bits=(2, 2))
    rep.total.latency_s, rep.total.energy_j, rep.layers[0].cycles

The hardware template is DESIGN section 5; the cycle model is written out in
`simulator.schedule`. Only light modules are imported here (matplotlib and
onnx load when a plot or an ONNX file needs them).
"""
from . import presets, workloads
from .hardware import Fold, Hardware
from .report import Report
from .schedule import estimate, pipeline_depth
from .sweep import pareto_front, sweep
from .workload import Layer, Workload

__all__ = ["Fold", "Hardware", "Layer", "Report", "Workload", "estimate", "pareto_front",
           "pipeline_depth", "presets", "sweep", "workloads"]
