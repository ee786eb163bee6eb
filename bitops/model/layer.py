"""One node of the model IR.

Shapes are in the runtime's layout: NHWC for 4-D tensors (convolutions,
pools), (N, K) for fully connected layers. Weights are stored once, at load
time, in the layout the kernels take: OHWI for convolutions, (N, K) for fully
connected layers, as integer codes when the layer is quantized (with
`weight_spec` giving scale and zero point) or as float arrays when it is not.
"""
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Layer:
    name: str
    op: str
    inputs: list
    outputs: list
    in_shape: tuple = ()
    out_shape: tuple = ()
    kernel: tuple = None          # (kh, kw) for conv and pools
    stride: tuple = None          # (sh, sw)
    padding: tuple = None         # (top, left, bottom, right)
    dilation: tuple = None        # (dh, dw)
    groups: int = 1
    weight: np.ndarray = None     # int64 codes (quantized) or float (OHWI / (N, K))
    weight_spec: object = None    # QuantSpec of the weight codes, or None for a float weight
    bias: np.ndarray = None       # float64 (out_channels,)
    act_spec: object = None       # QuantSpec of the input activation when it is quantized
    out_spec: object = None       # QuantSpec of the output ('quant' layers, requantizing QLinear ops)
    attrs: dict = field(default_factory=dict)
    # The weight prepared for the packed kernels (bitops.QTensor, its planes and
    # sums), made once on first use; not part of the layer's description.
    _kernel_weight: object = field(default=None, repr=False, compare=False)

    def kernel_weight(self, make):
        """The weight as the kernels take it: `make(weight, weight_spec)` on first use, then reused."""
        cached = self._kernel_weight
        if cached is None or cached[0] is not self.weight or cached[1] is not self.weight_spec:
            cached = (self.weight, self.weight_spec, make(self.weight, self.weight_spec))
            self._kernel_weight = cached
        return cached[2]

    # -- precision --------------------------------------------------------------
    @property
    def w_bits(self):
        return None if self.weight_spec is None else self.weight_spec.bits

    @property
    def a_bits(self):
        if self.op in ("conv", "fc"):
            return None if self.act_spec is None else self.act_spec.bits
        if self.op in ("quant", "dequant") and self.out_spec is not None:
            return self.out_spec.bits
        return None

    @property
    def quantized(self):
        """True when the layer runs on the packed kernels (both operands are integer codes)."""
        return self.op in ("conv", "fc") and self.weight_spec is not None and self.act_spec is not None

    # -- scales and zero points (named for the simulator and the RTL tools) ------
    @property
    def weight_scale(self):
        return None if self.weight_spec is None else self.weight_spec.scale.reshape(-1)

    @property
    def weight_zero_point(self):
        return None if self.weight_spec is None else self.weight_spec.zero_point.reshape(-1)

    @property
    def act_scale(self):
        return None if self.act_spec is None else self.act_spec.scale.reshape(-1)

    @property
    def act_zero_point(self):
        return None if self.act_spec is None else self.act_spec.zero_point.reshape(-1)

    # -- cost ------------------------------------------------------------------------
    @property
    def macs(self):
        if self.op == "conv":
            n, ho, wo, o = self.out_shape
            kh, kw = self.kernel
            cin = self.in_shape[-1] // self.groups
            return int(n * ho * wo * o * kh * kw * cin)
        if self.op == "fc":
            k = self.weight.shape[1]
            rows = int(np.prod(self.out_shape[:-1])) if len(self.out_shape) > 1 else 1
            return int(rows * self.out_shape[-1] * k)
        return 0

    @property
    def binary_ops(self):
        """macs * w_bits * a_bits: the xnor-popcount work of a quantized layer, else 0."""
        if not self.quantized:
            return 0
        return self.macs * self.w_bits * self.a_bits

    @property
    def params(self):
        n = 0 if self.weight is None else int(self.weight.size)
        return n + (0 if self.bias is None else int(self.bias.size))

    def packed_bytes(self):
        """Storage of the parameters as the kernels hold them: weight bits + float32 bias."""
        b = 0 if self.bias is None else 4 * self.bias.size
        if self.weight is None:
            return b
        if self.weight_spec is None:
            return b + 4 * self.weight.size
        return b + (self.weight.size * self.w_bits + 7) // 8

    def __repr__(self):
        bits = ""
        if self.op in ("conv", "fc"):
            bits = f", w_bits={self.w_bits}, a_bits={self.a_bits}"
        return f"Layer({self.name!r}, {self.op}, {self.in_shape} -> {self.out_shape}{bits})"
