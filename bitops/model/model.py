"""The model IR: an ordered list of layers over named tensors.

A loader fills it from a file; `run` executes it. Inputs and outputs are
given and returned in the source file's layout (NCHW for ONNX and PyTorch,
NHWC for Keras); inside, every 4-D tensor is NHWC.
"""
import numpy as np

from bitops.model.quant import QValue
from bitops.model.runtime import TO_NCHW, TO_NHWC, Runtime


class Model:
    """
    layers:  list of `Layer`, in execution order.
    inputs:  list of (name, shape) in the runtime's layout (NHWC for 4-D); the
             batch dimension is the one the model was built for (1 by default).
    outputs: list of tensor names.
    source_layout: "NCHW" or "NHWC", the layout of 4-D inputs and outputs of `run`.
    fmt:     the format the file was read as ("qonnx", "onnx-qdq", "keras", ...).
    """

    def __init__(self, layers, inputs, outputs, source_layout="NCHW", fmt="?", path=None):
        self.layers = list(layers)
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.source_layout = source_layout
        self.format = fmt
        self.path = path

    # -- execution --------------------------------------------------------------------
    def run(self, x, backend="kernels"):
        """Run the model. x: one array, or a dict from input name to array, in the source layout.

        Returns one float array (float32 for "kernels", float64 for "reference")
        or, for several outputs, a list in `outputs` order.
        """
        values = self._execute(x, backend, keep=False)
        outs = [values[name] for name in self.outputs]
        return outs[0] if len(outs) == 1 else outs

    def trace(self, x, backend="kernels"):
        """Every tensor the run computes, by name, as float arrays in the source layout."""
        return self._execute(x, backend, keep=True)

    def _execute(self, x, backend, keep):
        rt = Runtime(backend)
        env = {}
        feeds = x if isinstance(x, dict) else {self.inputs[0][0]: x}
        if len(feeds) != len(self.inputs):
            raise ValueError(f"model has {len(self.inputs)} inputs {[n for n, _ in self.inputs]}, got {len(feeds)}")
        for name, shape in self.inputs:
            if name not in feeds:
                raise ValueError(f"missing input {name!r}")
            a = np.asarray(feeds[name], dtype=rt.dtype)
            if a.ndim == 4 and self.source_layout == "NCHW":
                a = a.transpose(TO_NHWC)
            if a.ndim != len(shape) or tuple(a.shape[1:]) != tuple(shape[1:]):
                raise ValueError(f"input {name!r}: expected shape (batch, {', '.join(map(str, shape[1:]))}) "
                                 f"in the runtime's layout, got {a.shape}")
            env[name] = np.ascontiguousarray(a)
        last_use = self._last_use() if not keep else {}
        for i, layer in enumerate(self.layers):
            args = [env[n] if n else None for n in layer.inputs]
            env[layer.outputs[0]] = rt.run_layer(layer, args)
            if not keep:
                for n in layer.inputs:
                    if n and last_use.get(n) == i and n not in self.outputs:
                        env.pop(n, None)
        result = {}
        for name, v in env.items():
            if not keep and name not in self.outputs:
                continue
            r = rt.real(v) if isinstance(v, QValue) else np.asarray(v)
            if r.ndim == 4 and self.source_layout == "NCHW":
                r = np.ascontiguousarray(r.transpose(TO_NCHW))
            result[name] = r
        return result

    def _last_use(self):
        last = {}
        for i, layer in enumerate(self.layers):
            for n in layer.inputs:
                last[n] = i
        return last

    # -- description ---------------------------------------------------------------
    def layer(self, name):
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    @property
    def quantized_layers(self):
        return [layer for layer in self.layers if layer.quantized]

    def totals(self):
        params = sum(layer.params for layer in self.layers)
        return {
            "layers": len(self.layers),
            "params": params,
            "macs": sum(layer.macs for layer in self.layers),
            "binary_ops": sum(layer.binary_ops for layer in self.layers),
            "packed_bytes": int(sum(layer.packed_bytes() for layer in self.layers)),
            "float32_bytes": 4 * params,
        }

    def summary(self):
        """The `bitops info` table: one row per layer, then totals."""
        head = ("name", "op", "in", "out", "kernel/stride/pad", "w", "a", "params", "MACs", "binary ops")
        rows = []
        for layer in self.layers:
            geom = ""
            if layer.kernel is not None:
                geom = f"{_pair(layer.kernel)}/{_pair(layer.stride)}/{','.join(map(str, layer.padding))}"
            w = "" if layer.weight is None else (layer.weight_spec.describe() if layer.weight_spec else "f32")
            a = "" if layer.op not in ("conv", "fc", "quant") else (
                (layer.act_spec or layer.out_spec).describe() if (layer.act_spec or layer.out_spec) else "f32")
            if layer.op == "quant" and layer.out_spec is not None:
                a = layer.out_spec.describe()
            rows.append((layer.name, layer.op, _shape(layer.in_shape), _shape(layer.out_shape), geom, w, a,
                         _num(layer.params), _num(layer.macs), _num(layer.binary_ops)))
        widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
        lines = ["  ".join(str(c).ljust(w) for c, w in zip(head, widths)).rstrip()]
        lines.append("  ".join("-" * w for w in widths))
        for r in rows:
            lines.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
        t = self.totals()
        ratio = t["float32_bytes"] / t["packed_bytes"] if t["packed_bytes"] else float("nan")
        lines.append("")
        lines.append(f"format: {self.format}   inputs: "
                     + ", ".join(f"{n} {_shape(s)}" for n, s in self.inputs) + f" (runtime layout NHWC)")
        lines.append(f"layers: {t['layers']} ({len(self.quantized_layers)} on the packed kernels)   "
                     f"parameters: {_num(t['params'])}   MACs: {_num(t['macs'])}   binary ops: {_num(t['binary_ops'])}")
        lines.append(f"packed size: {_bytes(t['packed_bytes'])}   float32 size: {_bytes(t['float32_bytes'])}   "
                     f"({ratio:.1f}x smaller)")
        return "\n".join(lines)

    def __repr__(self):
        return f"Model({self.format}, {len(self.layers)} layers, inputs={self.inputs}, outputs={self.outputs})"


def _pair(p):
    return f"{p[0]}x{p[1]}"


def _shape(s):
    return "(" + ",".join(str(d) for d in s) + ")"


def _num(n):
    return f"{n:,}" if n else "0" if n == 0 else ""


def _bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
