"""Workloads: the conv and fc layers of a network, as shapes and bit widths.

Every compute layer is a (grouped) matrix product. With `G` groups, output
channels `C_out`, reduction length per group `K = kh * kw * C_in / G`, and
`P = batch * H_out * W_out` output pixels (1 per sample for fc):

    macs = C_out * K * P,   weights = C_out * K,
    H_out = floor((H_in + pad_top + pad_bottom - dh*(kh-1) - 1) / sh) + 1   (W alike)

Non-compute operations (pooling, additions, activations) are not costed: on a
binary engine they are folded into the output unit or are a small fraction of
the work.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .hardware import load_mapping

COMPUTE_OPS = ("conv", "fc")
DEFAULT_FLOAT_BITS = 8     # a layer that stays float is costed as 8-bit fixed point


@dataclass(frozen=True)
class Layer:
    """One conv or fc layer; fc layers have a 1x1 spatial extent and kernel."""

    name: str
    op: str
    in_h: int
    in_w: int
    in_c: int
    out_c: int
    kernel: tuple = (1, 1)
    stride: tuple = (1, 1)
    padding: tuple = (0, 0, 0, 0)       # top, left, bottom, right
    dilation: tuple = (1, 1)
    groups: int = 1
    w_bits: int = 1
    a_bits: int = 1
    batch: int = 1

    def __post_init__(self):
        where = f"layer {self.name!r}"
        if self.op not in COMPUTE_OPS:
            raise ValueError(f"{where}: op must be one of {COMPUTE_OPS}, got {self.op!r}")
        for key in ("in_h", "in_w", "in_c", "out_c", "groups", "w_bits", "a_bits", "batch"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{where}: {key} must be a positive integer, got {value!r}")
        for key, size in (("kernel", 2), ("stride", 2), ("dilation", 2), ("padding", 4)):
            value = getattr(self, key)
            low = 0 if key == "padding" else 1
            if len(value) != size or any(not isinstance(v, int) or v < low for v in value):
                raise ValueError(f"{where}: {key} must be {size} integers >= {low}, got {value!r}")
        if self.in_c % self.groups or self.out_c % self.groups:
            raise ValueError(f"{where}: groups={self.groups} must divide in_c={self.in_c} and out_c={self.out_c}")
        if self.out_h < 1 or self.out_w < 1:
            raise ValueError(f"{where}: kernel {self.kernel} does not fit input {self.in_h}x{self.in_w}")

    @cached_property
    def out_h(self):
        span = self.dilation[0] * (self.kernel[0] - 1) + 1
        return (self.in_h + self.padding[0] + self.padding[2] - span) // self.stride[0] + 1

    @cached_property
    def out_w(self):
        span = self.dilation[1] * (self.kernel[1] - 1) + 1
        return (self.in_w + self.padding[1] + self.padding[3] - span) // self.stride[1] + 1

    @cached_property
    def k(self):
        """Reduction length per output: kh * kw * in_c / groups."""
        return self.kernel[0] * self.kernel[1] * (self.in_c // self.groups)

    @cached_property
    def pixels(self):
        """Output positions per batch: batch * out_h * out_w."""
        return self.batch * self.out_h * self.out_w

    @cached_property
    def macs(self):
        return self.out_c * self.k * self.pixels

    @cached_property
    def weights(self):
        return self.out_c * self.k

    @cached_property
    def in_elems(self):
        return self.batch * self.in_h * self.in_w * self.in_c

    @cached_property
    def out_elems(self):
        return self.out_c * self.pixels

    def with_bits(self, w_bits, a_bits):
        """A copy with other (already checked) bit widths; the shapes and their cached sizes carry over."""
        out = copy.copy(self)
        object.__setattr__(out, "w_bits", w_bits)
        object.__setattr__(out, "a_bits", a_bits)
        return out

    def to_dict(self):
        """The layer in the net.yaml layer format."""
        d = {"name": self.name, "op": self.op}
        if self.op == "fc":
            d.update(in_features=self.in_c, out_features=self.out_c)
        else:
            d.update(**{"in": [self.in_h, self.in_w, self.in_c]}, out_channels=self.out_c,
                     kernel=list(self.kernel), stride=list(self.stride), padding=list(self.padding))
            if self.dilation != (1, 1):
                d["dilation"] = list(self.dilation)
            if self.groups != 1:
                d["groups"] = self.groups
        d.update(w_bits=self.w_bits, a_bits=self.a_bits)
        return d


@dataclass(frozen=True)
class Workload:
    """An ordered list of compute layers (`layers`, a tuple of `Layer`)."""

    name: str
    layers: tuple

    def __post_init__(self):
        if not self.layers:
            raise ValueError(f"workload {self.name!r}: has no conv or fc layers")
        names = [layer.name for layer in self.layers]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"workload {self.name!r}: duplicate layer names {sorted(dup)}")

    @cached_property
    def macs(self):
        return sum(layer.macs for layer in self.layers)

    def layer(self, name):
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"workload {self.name!r}: no layer named {name!r}")

    def with_bits(self, bits):
        """A copy with bits replaced: None, a (w_bits, a_bits) pair for all, or {name: pair}."""
        if bits is None:
            return self
        if isinstance(bits, dict):
            unknown = set(bits) - {layer.name for layer in self.layers}
            if unknown:
                raise ValueError(f"bits: no layer named {sorted(unknown)[0]!r} in workload {self.name!r}")
            pairs = [bits.get(layer.name, (layer.w_bits, layer.a_bits)) for layer in self.layers]
        else:
            pairs = [bits] * len(self.layers)
        layers = []
        for layer, pair in zip(self.layers, pairs):
            w, a = _bit_pair(pair, f"bits for layer {layer.name!r}")
            layers.append(layer if (w, a) == (layer.w_bits, layer.a_bits) else layer.with_bits(w, a))
        return Workload(self.name, tuple(layers))

    def to_dict(self):
        return {"name": self.name, "layers": [layer.to_dict() for layer in self.layers]}

    # ---- construction -------------------------------------------------------

    @classmethod
    def from_dict(cls, data, source="workload"):
        """Build from the net.yaml mapping (DESIGN section 6)."""
        if not isinstance(data, dict) or not isinstance(data.get("layers"), list):
            raise ValueError(f"{source}: expected a mapping with a 'layers' list")
        unknown = set(data) - {"name", "layers", "batch", "description"}
        if unknown:
            raise ValueError(f"{source}: unknown key {sorted(unknown)[0]!r}")
        batch = data.get("batch", 1)
        layers = tuple(_layer_from_dict(d, i, batch, source) for i, d in enumerate(data["layers"]))
        return cls(str(data.get("name", Path(source).stem)), layers)

    @classmethod
    def from_file(cls, path):
        path = Path(path)
        return cls.from_dict(load_mapping(path), source=str(path))

    @classmethod
    def from_model(cls, model, name=None, float_bits=DEFAULT_FLOAT_BITS):
        """Build from a loaded model (duck-typed, see `bitops.load`).

        `model.layers` items need `name`, `op`, `in_shape` (NHWC for conv, (N, K)
        for fc), `out_shape`, `kernel`, `stride`, `padding` (top, left, bottom,
        right), `dilation`, `groups`, `w_bits`, `a_bits` (None = stays float,
        costed as `float_bits`). Layers whose op is not conv or fc are skipped.
        """
        layers = []
        for src in model.layers:
            op = getattr(src, "op", None)
            if op not in COMPUTE_OPS:
                continue
            lname = str(src.name)
            try:
                n, *rest = (int(v) for v in src.in_shape)
                out_c = int(src.out_shape[-1])
            except (TypeError, ValueError, AttributeError) as exc:
                raise ValueError(f"layer {lname!r}: bad in_shape/out_shape ({exc})") from None
            if len(rest) != (3 if op == "conv" else 1):
                raise ValueError(f"layer {lname!r}: {op} in_shape must be {'NHWC' if op == 'conv' else '(N, K)'}, "
                                 f"got {tuple(src.in_shape)}")
            w_bits = src.w_bits if src.w_bits is not None else float_bits
            a_bits = src.a_bits if src.a_bits is not None else float_bits
            if op == "fc":
                layers.append(Layer(lname, "fc", 1, 1, rest[-1], out_c, w_bits=int(w_bits),
                                    a_bits=int(a_bits), batch=n))
            else:
                h, w, c = rest
                layers.append(Layer(lname, "conv", h, w, c, out_c,
                                    kernel=_pair(src.kernel, lname, "kernel"),
                                    stride=_pair(src.stride, lname, "stride"),
                                    padding=_quad(src.padding, lname),
                                    dilation=_pair(getattr(src, "dilation", 1) or 1, lname, "dilation"),
                                    groups=int(getattr(src, "groups", 1) or 1),
                                    w_bits=int(w_bits), a_bits=int(a_bits), batch=n))
        path = getattr(model, "path", None)
        return cls(name or (Path(path).stem if path else "model"), tuple(layers))

    @classmethod
    def from_onnx(cls, path, float_bits=DEFAULT_FLOAT_BITS):
        """Shapes (and QONNX/QDQ bit widths where present) of an ONNX file's Conv, Gemm and MatMul nodes."""
        from .onnx_shapes import layers_from_onnx

        path = Path(path)
        return cls(path.stem, tuple(layers_from_onnx(path, float_bits)))


def _bit_pair(pair, where):
    try:
        w, a = (int(v) for v in pair)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected a (w_bits, a_bits) pair, got {pair!r}") from None
    if w < 1 or a < 1:
        raise ValueError(f"{where}: bit widths must be >= 1, got {pair!r}")
    return w, a


def _pair(value, name, key):
    if isinstance(value, int):
        return (value, value)
    try:
        out = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"layer {name!r}: {key} must be an int or a pair, got {value!r}") from None
    if len(out) != 2:
        raise ValueError(f"layer {name!r}: {key} must be an int or a pair, got {value!r}")
    return out


def _quad(value, name):
    """Padding as (top, left, bottom, right) from an int, a (h, w) pair or four values."""
    if isinstance(value, int):
        return (value,) * 4
    vals = tuple(int(v) for v in value)
    if len(vals) == 2:
        return (vals[0], vals[1], vals[0], vals[1])
    if len(vals) == 4:
        return vals
    raise ValueError(f"layer {name!r}: padding must be an int, a pair or 4 values, got {value!r}")


_CONV_KEYS = {"name", "op", "in", "out_channels", "kernel", "stride", "padding", "dilation", "groups",
              "w_bits", "a_bits", "batch"}
_FC_KEYS = {"name", "op", "in_features", "out_features", "w_bits", "a_bits", "batch"}


def _layer_from_dict(d, index, batch, source):
    if not isinstance(d, dict):
        raise ValueError(f"{source}: layer {index}: expected a mapping, got {d!r}")
    name = str(d.get("name", f"layer{index}"))
    op = d.get("op")
    allowed = {"conv": _CONV_KEYS, "fc": _FC_KEYS}.get(op)
    if allowed is None:
        raise ValueError(f"{source}: layer {name!r}: op must be one of {COMPUTE_OPS}, got {op!r}")
    unknown = set(d) - allowed
    if unknown:
        raise ValueError(f"{source}: layer {name!r}: unknown key {sorted(unknown)[0]!r}")
    missing = {"conv": ("in", "out_channels"), "fc": ("in_features", "out_features")}[op]
    for key in missing:
        if key not in d:
            raise ValueError(f"{source}: layer {name!r}: missing key {key!r}")
    common = dict(w_bits=d.get("w_bits", 1), a_bits=d.get("a_bits", 1), batch=d.get("batch", batch))
    try:
        if op == "fc":
            return Layer(name, "fc", 1, 1, d["in_features"], d["out_features"], **common)
        shape = d["in"]
        if not isinstance(shape, (list, tuple)) or len(shape) != 3:
            raise ValueError(f"layer {name!r}: in must be [height, width, channels], got {shape!r}")
        return Layer(name, "conv", *shape, d["out_channels"],
                     kernel=_pair(d.get("kernel", 1), name, "kernel"),
                     stride=_pair(d.get("stride", 1), name, "stride"),
                     padding=_quad(d.get("padding", 0), name),
                     dilation=_pair(d.get("dilation", 1), name, "dilation"),
                     groups=d.get("groups", 1), **common)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None
