"""Executes a Model's layers in order.

Two backends share this file:

- ``"kernels"`` (the default): quantized conv / fc layers take integer codes
  through `bitops.model.kernels` (the packed xnor-popcount kernels); values
  between layers are float32, and a quantized tensor travels as a `QValue`
  (codes + grid) so that max-pooling, flattening and reshaping keep it in the
  integer domain and the next layer packs the codes directly.
- ``"reference"``: every tensor is float64; quantizers fake-quantize
  (quantize then dequantize) and conv / fc layers run on dequantized weights.
  It checks the kernels backend and is what a reader can follow line by line.
"""
import numpy as np

from bitops.model import kernels, numpy_ops as ops
from bitops.model.quant import QValue

BACKENDS = ("kernels", "reference")
TO_NCHW = (0, 3, 1, 2)
TO_NHWC = (0, 2, 3, 1)


class Runtime:
    def __init__(self, backend):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.backend = backend
        self.dtype = np.float32 if backend == "kernels" else np.float64

    # -- value helpers ------------------------------------------------------------
    def real(self, v):
        if isinstance(v, QValue):
            return v.real(self.dtype)
        return np.asarray(v, dtype=self.dtype) if np.asarray(v).dtype != self.dtype else v

    def run_layer(self, layer, args):
        fn = getattr(self, "op_" + layer.op, None)
        if fn is None:
            raise ValueError(f"layer {layer.name!r}: no runtime for op {layer.op!r}")
        return fn(layer, *args)

    # -- quantizers ------------------------------------------------------------------
    def op_quant(self, layer, x, *_):
        spec = layer.out_spec
        if isinstance(x, QValue) and x.spec.same_grid(spec):
            return x if self.backend == "kernels" else x.real(self.dtype)
        q = spec.quantize(self.real(x))
        if self.backend == "reference":
            return spec.dequantize(q, self.dtype)
        return QValue(q, spec)

    def op_dequant(self, layer, x, *_):
        """DequantizeLinear: the codes keep their values, the grid may be restated."""
        spec = layer.out_spec
        if isinstance(x, QValue):
            return QValue(x.q, spec) if not x.spec.same_grid(spec) else x
        return x

    def op_trunc(self, layer, x, *_):
        a = layer.attrs
        dt = self.dtype
        v = self.real(x) / dt(a["scale"]) + dt(a["zero_point"])
        v = np.rint(v)
        v = v / dt(a["trunc_scale"])
        if a.get("out_min") is not None:
            v = np.clip(v, a["out_min"], a["out_max"])
        v = a["round"](v)
        return ((v - dt(a["out_zero_point"])) * dt(a["out_scale"])).astype(dt)

    # -- linear layers ---------------------------------------------------------------
    def op_conv(self, layer, x, *_):
        pad = layer.padding
        if layer.attrs.get("pad_value", 0.0) != 0.0 and any(pad):
            # Larq pad_values: padded taps read this (already quantized) value, not zero.
            if not isinstance(x, QValue):
                x = self._float_input(layer, x)
            x = self._pad(x, pad, layer.attrs["pad_value"])
            pad = (0, 0, 0, 0)
        if layer.quantized and self.backend == "kernels":
            xq = x.q if isinstance(x, QValue) else layer.act_spec.quantize(self.real(x))
            xs = x.spec if isinstance(x, QValue) else layer.act_spec
            y = kernels.conv2d(xq, xs, layer.weight, layer.weight_spec, layer.bias, layer.stride,
                               pad, layer.dilation, layer.groups, layer=layer)
        else:
            w = self._float_weight(layer)
            xr = self._float_input(layer, x)
            y = ops.conv2d(xr, w, layer.bias, layer.stride, pad, layer.dilation, layer.groups)
        return self._output_transform(layer, y)

    def op_fc(self, layer, x, *_):
        lead = x.shape[:-1]
        if layer.quantized and self.backend == "kernels":
            xq = x.q if isinstance(x, QValue) else layer.act_spec.quantize(self.real(x))
            xs = x.spec if isinstance(x, QValue) else layer.act_spec
            y = kernels.linear(xq.reshape(-1, xq.shape[-1]), xs, layer.weight, layer.weight_spec, layer.bias,
                               layer=layer)
        else:
            w = self._float_weight(layer)
            xr = self._float_input(layer, x).reshape(-1, x.shape[-1])
            y = xr @ w.T
            if layer.bias is not None:
                y = y + layer.bias.astype(self.dtype)
        y = y.reshape(lead + (y.shape[-1],))
        return self._output_transform(layer, y)

    def _float_weight(self, layer):
        if layer.weight_spec is None:
            return layer.weight.astype(self.dtype)
        return layer.weight_spec.dequantize(layer.weight, self.dtype)

    def _float_input(self, layer, x):
        if layer.act_spec is not None and not isinstance(x, QValue):
            return layer.act_spec.fake_quantize(self.real(x))
        return self.real(x)

    def _output_transform(self, layer, y):
        """Gemm alpha, a folded BatchNorm, and a QLinear op's requantization."""
        a = layer.attrs
        y = np.asarray(y, dtype=self.dtype)
        if a.get("alpha", 1.0) != 1.0:
            y = y * self.dtype(a["alpha"])
        if "post_scale" in a:
            y = y * a["post_scale"].astype(self.dtype) + a["post_bias"].astype(self.dtype)
        if layer.out_spec is not None:
            return self.op_quant(layer, y)
        return y

    # -- element-wise --------------------------------------------------------------------
    def op_relu(self, layer, x, *_):
        if isinstance(x, QValue) and not x.spec.per_channel and not x.spec.bipolar and x.spec.scale.item() > 0:
            z = int(x.spec.zero_point.item())
            return QValue(np.maximum(x.q, z), x.spec)
        return np.maximum(self.real(x), self.dtype(0))

    def op_clip(self, layer, x, *_):
        lo, hi = layer.attrs.get("min"), layer.attrs.get("max")
        v = self.real(x)
        if lo is not None:
            v = np.maximum(v, self.dtype(lo))
        if hi is not None:
            v = np.minimum(v, self.dtype(hi))
        return v

    def op_sigmoid(self, layer, x, *_):
        return (1 / (1 + np.exp(-self.real(x)))).astype(self.dtype)

    def op_tanh(self, layer, x, *_):
        return np.tanh(self.real(x))

    def op_softmax(self, layer, x, *_):
        return ops.softmax(self.real(x), layer.attrs["axis"])

    def _binary(self, layer, x, y, fn):
        a = layer.attrs
        vals = []
        for i, v in enumerate((x, y)):
            c = a.get(f"const{i}")
            vals.append(self.real(c) if c is not None else self.real(v))
        return fn(vals[0], vals[1]).astype(self.dtype)

    def op_add(self, layer, x=None, y=None):
        return self._binary(layer, x, y, np.add)

    def op_sub(self, layer, x=None, y=None):
        return self._binary(layer, x, y, np.subtract)

    def op_mul(self, layer, x=None, y=None):
        return self._binary(layer, x, y, np.multiply)

    def op_div(self, layer, x=None, y=None):
        return self._binary(layer, x, y, np.divide)

    def op_batchnorm(self, layer, x, *_):
        a = layer.attrs
        return ops.batchnorm(self.real(x), a["gamma"], a["beta"], a["mean"], a["var"], a["eps"])

    # -- pools -----------------------------------------------------------------------------
    def op_pad(self, layer, x, *_):
        return self._pad(x, layer.padding, layer.attrs.get("value", 0.0))

    def _pad(self, x, padding, value):
        """Pads H and W with `value`; codes stay codes when `value` has a code on their grid."""
        if isinstance(x, QValue):
            code = x.spec.code_of(value)
            if code is not None:
                return QValue(ops.pad_nhwc(x.q, padding, code), x.spec)
        return ops.pad_nhwc(self.real(x), padding, self.dtype(value))

    def op_maxpool(self, layer, x, *_):
        args = (layer.kernel, layer.stride, layer.padding, layer.dilation, layer.attrs.get("ceil_mode", False))
        if isinstance(x, QValue) and not x.spec.per_channel and (x.spec.bipolar or x.spec.scale.item() > 0):
            return QValue(ops.maxpool(x.q, *args), x.spec)
        return ops.maxpool(self.real(x), *args)

    def op_avgpool(self, layer, x, *_):
        return ops.avgpool(self.real(x), layer.kernel, layer.stride, layer.padding,
                           layer.attrs.get("ceil_mode", False), layer.attrs.get("count_include_pad", False))

    def op_gap(self, layer, x, *_):
        return self.real(x).mean(axis=(1, 2), keepdims=True)

    def op_gmp(self, layer, x, *_):
        return self.real(x).max(axis=(1, 2), keepdims=True)

    # -- shapes ------------------------------------------------------------------------------
    def _reshape_like_source(self, layer, x, fn):
        """Apply a reshape in the source file's layout (NCHW for ONNX), keeping codes as codes."""
        keep = isinstance(x, QValue) and not x.spec.per_channel
        v = x.q if keep else self.real(x)
        nchw = layer.attrs.get("source_layout") == "NCHW"
        if nchw and v.ndim == 4:
            v = v.transpose(TO_NCHW)
        v = fn(v)
        if nchw and v.ndim == 4:
            v = v.transpose(TO_NHWC)
        v = np.ascontiguousarray(v)
        return QValue(v, x.spec) if keep else v

    def op_flatten(self, layer, x, *_):
        axis = layer.attrs.get("axis", 1)
        return self._reshape_like_source(
            layer, x, lambda v: v.reshape(int(np.prod(v.shape[:axis])), -1))

    def op_reshape(self, layer, x, *_):
        shape = layer.attrs["shape"]
        return self._reshape_like_source(layer, x, lambda v: v.reshape(_resolve_shape(v.shape, shape)))

    def op_transpose(self, layer, x, *_):
        perm = layer.attrs["perm"]
        return self._reshape_like_source(layer, x, lambda v: v.transpose(perm))

    def op_identity(self, layer, x, *_):
        return x

    def op_concat(self, layer, *xs):
        axis = layer.attrs["axis"]
        return np.concatenate([self.real(v) for v in xs], axis=axis)


def _resolve_shape(in_shape, shape):
    """ONNX Reshape: 0 copies the input dimension, -1 is inferred."""
    out = [in_shape[i] if d == 0 else int(d) for i, d in enumerate(shape)]
    return tuple(out)
