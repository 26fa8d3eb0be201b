"""Mean over axes. int8 follows TFLite Micro's MEAN: the count is folded into the requantization
multiplier (multiplier * 2**k / count, shift - k, k = floor(log2(count)) capped so that the shift
stays valid) and the zero-point-corrected int32 sum is requantized once. The tflite-micro build we
check against takes this path even when input and output quantization are equal (older TFLM
versions divided the raw sum there, truncating; the parity test would catch a change back)."""
import numpy as np

from ...reference import arith
from .base import REQUIRED, OpDef, register


def _axes(node, rank):
    return tuple(sorted({a % rank for a in node.attrs["axes"]}))


@register
class Mean(OpDef):
    name = "mean"
    attrs = {"axes": REQUIRED, "keepdims": 1}

    def infer(self, node, ins):
        x = ins[0]
        axes = _axes(node, len(x.shape))
        if node.attrs["keepdims"]:
            shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        else:
            shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        return [(shape, x.dtype)]

    def run_float(self, node, xs):
        axes = _axes(node, xs[0].ndim)
        y = xs[0].astype(np.float64).mean(axis=axes, keepdims=bool(node.attrs["keepdims"]))
        return [y.astype(np.float32)]

    def int8_params(self, node, g):
        x = g.tensors[node.inputs[0]]
        iq, oq = x.quant, g.tensors[node.outputs[0]].quant
        count = int(np.prod([x.shape[a] for a in _axes(node, len(x.shape))]))
        mult, shift = arith.quantize_multiplier(iq.s / oq.s)
        k = min(count.bit_length() - 1, 32, 31 + shift)
        mult = (mult << k) // count
        return {"count": count, "in_zp": iq.zp, "out_zp": oq.zp,
                "mult": mult, "shift": shift - k}

    def run_int8(self, node, xs, p):
        axes = _axes(node, xs[0].ndim)
        s = xs[0].astype(np.int64).sum(axis=axes, keepdims=bool(node.attrs["keepdims"]))
        y = arith.multiply_by_quantized_multiplier(arith.wrap_int32(s - p["in_zp"] * p["count"]),
                                                   p["mult"], p["shift"]) + p["out_zp"]
        return [np.clip(y, -128, 127).astype(np.int8)]

    def macs(self, node, g):
        return g.tensors[node.inputs[0]].size
