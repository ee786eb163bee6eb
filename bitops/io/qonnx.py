"""QONNX (Brevitas, FINN): Quant / IntQuant, BipolarQuant and Trunc nodes.

Semantics follow the QONNX operator documents (qonnx docs/qonnx-custom-ops):

- Quant(x, scale, zeropt, bitwidth; signed, narrow, rounding_mode):
  q = round(clip(x/scale + zeropt, min_int, max_int)), y = (q - zeropt) * scale,
  with min_int / max_int from (bitwidth, signed, narrow).
- BipolarQuant(x, scale): y = scale * (x >= 0 ? +1 : -1).
- Trunc v1 (x, scale, zeropt, in_bits, out_bits): codes are divided by
  2^(in_bits - out_bits) and rounded (FLOOR by default), then rescaled by the
  input scale. Trunc v2 (x, scale, zeropt, in_bits, out_scale, out_bits;
  signed, narrow): divided by 2^round(log2(out_scale/scale)), clipped to the
  output range, rounded, and rescaled by out_scale with zeropt/trunc_scale.

A Quant node whose input is a constant (a latent float weight) becomes
integer codes on that constant; one on a computed tensor becomes a 'quant'
layer, and the tensor it produces is known to lie on that grid.
"""
import numpy as np

from bitops.io.onnx_common import attrs_of, handles
from bitops.model.layer import Layer
from bitops.model.quant import ROUNDING, QuantSpec, int_range


def _scalar_int(b, node, i, what):
    v = np.asarray(b.const(node, i), dtype=np.float64)
    if v.size != 1 or not np.isfinite(v).all() or v.item() != round(v.item()) or v.item() < 1:
        raise b.error(node, f"{what} must be one positive integer, got {v.reshape(-1)[:4]}")
    return int(v.item())


def _axis_of(arr):
    big = [d for d in range(arr.ndim) if arr.shape[d] > 1]
    return big[0] if len(big) == 1 else None


@handles("Quant", "IntQuant")
def quant(b, node):
    a = attrs_of(node)
    bits = _scalar_int(b, node, 3, "bitwidth")
    signed, narrow = bool(a.get("signed", 1)), bool(a.get("narrow", 0))
    if bits == 1 and signed and narrow:
        raise b.error(node, "a 1-bit signed narrow range holds only zero")
    qmin, qmax = int_range(bits, signed, narrow)
    scale = np.asarray(b.const(node, 1), dtype=np.float64)
    zp = np.asarray(b.const(node, 2), dtype=np.float64)
    rounding = str(a.get("rounding_mode", "ROUND")).upper()
    if rounding not in ROUNDING:
        raise b.error(node, f"unknown rounding_mode {rounding!r}")
    axis = _axis_of(scale if scale.size > 1 else zp)
    spec = QuantSpec(scale, zp, qmin, qmax, axis=axis, rounding=rounding, name=node.output[0])
    _apply(b, node, spec)


@handles("BipolarQuant")
def bipolar_quant(b, node):
    scale = np.asarray(b.const(node, 1), dtype=np.float64)
    if np.any(scale < 0):
        raise b.error(node, "negative scale")
    spec = QuantSpec(scale, np.zeros(1), -1, 1, axis=_axis_of(scale), bipolar=True, name=node.output[0])
    _apply(b, node, spec)


def _apply(b, node, spec):
    x = node.input[0]
    if b.is_const(x):
        w = np.asarray(b.const(node, 0), dtype=np.float64)
        if not np.all(np.isfinite(w)):
            raise b.error(node, f"constant {x!r} has non-finite values")
        _check_broadcast(b, node, spec, w.shape)
        b.qconsts[node.output[0]] = (spec.quantize(w), spec)
        return
    x = b.dynamic(node, 0)
    rank = b.rank(x)
    src_shape = b.samples[x].shape
    if rank == 4:
        src_shape = tuple(src_shape[i] for i in (0, 3, 1, 2))
    _check_broadcast(b, node, spec, src_shape)
    rspec = b.spec_to_runtime(spec, rank)
    layer = Layer(b.unique_name(node, "quant"), "quant", [x], [node.output[0]], out_spec=rspec,
                  attrs={"source_op": node.op_type})
    b.add_layer(node, layer, act_out=rspec)


def _check_broadcast(b, node, spec, shape):
    for what, arr in (("scale", spec.scale), ("zero point", spec.zero_point)):
        try:
            np.broadcast_shapes(arr.shape, tuple(shape))
        except ValueError:
            raise b.error(node, f"{what} of shape {arr.shape} does not broadcast to {tuple(shape)}") from None
        if arr.ndim > len(shape):
            raise b.error(node, f"{what} of shape {arr.shape} has more dimensions than {tuple(shape)}")


@handles("Trunc")
def trunc(b, node):
    a = attrs_of(node)
    x = b.dynamic(node, 0)
    out_spec = None
    scale = np.asarray(b.const(node, 1), dtype=np.float64)
    zp = np.asarray(b.const(node, 2), dtype=np.float64)
    if scale.size != 1 or zp.size != 1:
        raise b.error(node, "per-channel Trunc is not supported")
    if not np.isfinite(scale).all() or scale.item() == 0:
        raise b.error(node, f"scale must be finite and non-zero, got {scale.item()}")
    in_bits = _scalar_int(b, node, 3, "input bit width")
    rounding = str(a.get("rounding_mode", "FLOOR")).upper()
    if rounding not in ROUNDING:
        raise b.error(node, f"unknown rounding_mode {rounding!r}")
    attrs = {"scale": scale.item(), "zero_point": zp.item(), "round": ROUNDING[rounding], "source_op": "Trunc"}
    if len(node.input) >= 6:        # version 2: x, scale, zeropt, in_bits, out_scale, out_bits
        out_scale = np.asarray(b.const(node, 4), dtype=np.float64).item()
        out_bits = _scalar_int(b, node, 5, "output bit width")
        if not np.isfinite(out_scale) or out_scale <= 0:
            raise b.error(node, f"output scale must be positive, got {out_scale}")
        ts = 2.0 ** np.round(np.log2(out_scale / scale.item()))
        lo, hi = int_range(out_bits, bool(a.get("signed", 1)), bool(a.get("narrow", 0)))
        attrs.update(trunc_scale=ts, out_min=lo, out_max=hi, out_scale=out_scale, out_zero_point=zp.item() / ts)
        ozp = zp.item() / ts
        if ozp == round(ozp):
            # The output lies on the grid out_scale * (q - ozp), q in [lo, hi]: a conv after it can pack it.
            out_spec = QuantSpec(out_scale, ozp, lo, hi, rounding="ROUND", name=node.output[0])
    else:                            # version 1: x, scale, zeropt, in_bits, out_bits
        out_bits = _scalar_int(b, node, 4, "output bit width")
        if out_bits > in_bits:
            raise b.error(node, f"output bit width {out_bits} exceeds input bit width {in_bits}")
        attrs.update(trunc_scale=2.0 ** (in_bits - out_bits), out_min=None, out_max=None,
                     out_scale=scale.item(), out_zero_point=zp.item())
    b.add_layer(node, Layer(b.unique_name(node, "trunc"), "trunc", [x], [node.output[0]], attrs=attrs),
                act_out=out_spec)
