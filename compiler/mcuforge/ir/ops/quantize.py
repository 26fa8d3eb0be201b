"""Conversions at the float/int8 boundary (TFLite rounding: half away from zero)."""
import numpy as np

from ...reference.arith import round_half_away
from .base import OpDef, register


@register
class Quantize(OpDef):
    """float32 -> int8 (or `to`: int16) with the output tensor's scale and zero point."""
    name = "quantize"
    attrs = {"to": "int8"}

    def infer(self, node, ins):
        return [(ins[0].shape, node.attrs.get("to", "int8"))]

    def run_float(self, node, xs):
        return [xs[0]]  # in a float graph Q/DQ pairs are folded away before execution

    def int8_params(self, node, g):
        q = g.tensors[node.outputs[0]].quant
        return {"scale": q.s, "zp": q.zp}

    def run_int8(self, node, xs, p):
        return [np.clip(round_half_away(xs[0] / p["scale"]) + p["zp"], -128, 127).astype(np.int8)]


@register
class Dequantize(OpDef):
    name = "dequantize"

    def infer(self, node, ins):
        return [(ins[0].shape, "float32")]

    def run_float(self, node, xs):
        return [xs[0]]

    def int8_params(self, node, g):
        q = g.tensors[node.inputs[0]].quant
        return {"scale": q.s, "zp": q.zp}

    def run_int8(self, node, xs, p):
        return [((xs[0].astype(np.float32) - p["zp"]) * np.float32(p["scale"])).astype(np.float32)]
