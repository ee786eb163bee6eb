"""The model IR (layers over named tensors) and its runtime."""
from bitops.model.layer import Layer
from bitops.model.model import Model
from bitops.model.quant import QuantSpec, QValue

__all__ = ["Layer", "Model", "QuantSpec", "QValue"]
