"""Layer shapes from an ONNX graph, read with the `onnx` package (no runtime).

Conv nodes give NCHW input shapes (from shape inference) and OIHW weights;
Gemm and MatMul with a constant 2-D weight are fc layers. Bit widths come from
the quantizer feeding a tensor: QONNX `Quant` (its bit-width input),
`BipolarQuant` (1 bit), or ONNX `QuantizeLinear`/`DequantizeLinear` (the width
of the zero point's integer type). Anything else is costed as `float_bits`.
"""
from onnx import TensorProto, helper, numpy_helper, shape_inference, load

from .workload import Layer

_QDQ_BITS = {TensorProto.INT8: 8, TensorProto.UINT8: 8, TensorProto.INT16: 16, TensorProto.UINT16: 16}
for _name, _bits in (("INT4", 4), ("UINT4", 4), ("INT2", 2), ("UINT2", 2)):
    if hasattr(TensorProto, _name):
        _QDQ_BITS[getattr(TensorProto, _name)] = _bits


def layers_from_onnx(path, float_bits):
    """List of `Layer` for the Conv/Gemm/MatMul nodes of the ONNX file at `path`."""
    model = shape_inference.infer_shapes(load(str(path), load_external_data=False))
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    shapes = {}
    for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = tuple(d.dim_value if d.dim_value > 0 else 1 for d in dims)
    for name, t in inits.items():
        shapes[name] = tuple(t.dims)

    def const_shape(name):
        """Shape of a constant weight, looking through quantizer nodes."""
        while name not in inits and name in producer and producer[name].op_type in _QUANT_OPS:
            name = producer[name].input[0]
        return tuple(inits[name].dims) if name in inits else None

    def bits_of(name):
        node = producer.get(name)
        if node is None:
            return float_bits
        if node.op_type == "BipolarQuant":
            return 1
        if node.op_type == "Quant" and len(node.input) > 3 and node.input[3] in inits:
            return int(numpy_helper.to_array(inits[node.input[3]]).item())
        if node.op_type in ("DequantizeLinear", "QuantizeLinear"):
            zp = node.input[2] if len(node.input) > 2 else ""
            if zp in inits:
                return _QDQ_BITS.get(inits[zp].data_type, 8)
            return bits_of(node.input[0]) if node.op_type == "DequantizeLinear" else 8
        return float_bits

    layers = []
    for index, node in enumerate(graph.node):
        name = node.name or f"{node.op_type.lower()}{index}"
        if node.op_type == "Conv":
            w_shape = const_shape(node.input[1])
            x_shape = shapes.get(node.input[0])
            if w_shape is None or x_shape is None or len(x_shape) != 4:
                raise ValueError(f"{path}: node {name!r}: needs a constant 4-D weight and a known NCHW input shape")
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            n, c, h, w = x_shape
            pads = list(attrs.get("pads", [0, 0, 0, 0]))      # ONNX: top, left, bottom, right
            layers.append(Layer(name, "conv", h, w, c, w_shape[0],
                                kernel=tuple(attrs.get("kernel_shape", w_shape[2:])),
                                stride=tuple(attrs.get("strides", (1, 1))),
                                padding=tuple(pads), dilation=tuple(attrs.get("dilations", (1, 1))),
                                groups=int(attrs.get("group", 1)),
                                w_bits=bits_of(node.input[1]), a_bits=bits_of(node.input[0]), batch=n))
        elif node.op_type in ("Gemm", "MatMul"):
            w_shape = const_shape(node.input[1])
            x_shape = shapes.get(node.input[0])
            if w_shape is None or len(w_shape) != 2:
                continue   # activation x activation product: not a weight layer
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            k, out = (w_shape[1], w_shape[0]) if attrs.get("transB", 0) else w_shape
            batch = x_shape[0] if x_shape else 1
            layers.append(Layer(name, "fc", 1, 1, int(k), int(out), w_bits=bits_of(node.input[1]),
                                a_bits=bits_of(node.input[0]), batch=int(batch)))
    if not layers:
        raise ValueError(f"{path}: no Conv, Gemm or MatMul nodes with constant weights")
    return layers


_QUANT_OPS = ("Quant", "BipolarQuant", "QuantizeLinear", "DequantizeLinear")
