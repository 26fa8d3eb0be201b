"""Reductions over axes: mean, reduce_sum, reduce_max, reduce_min (ONNX ReduceMean/Sum/Max/Min,
TFLite MEAN/SUM/REDUCE_MAX/REDUCE_MIN). `axes` lists the reduced dimensions (empty: all of them).

int8 follows TFLite Micro (reduce_common.cc):
- MEAN: the count is folded into the requantization multiplier (multiplier * 2**k / count,
  shift - k, k = floor(log2(count)) capped so that the shift stays valid) and the
  zero-point-corrected int32 sum is requantized once. The tflite-micro build we check against
  takes this path even when input and output quantization are equal (older TFLM versions divided
  the raw sum there, truncating; the parity test would catch a change back).
- SUM: the same rule without the division (k = 0, count 1 in the multiplier): the int32 sum minus
  count * zero point, requantized by s_in / s_out.
- REDUCE_MAX / REDUCE_MIN: no arithmetic; input and output share one grid (TFLM refuses anything
  else; an ONNX model asking for another output grid gets a requantize op after it)."""
import numpy as np

from ...reference import arith
from .base import REQUIRED, OpDef, register


def reduced_axes(node, rank) -> tuple:
    axes = node.attrs["axes"]
    if not len(axes):
        return tuple(range(rank))
    return tuple(sorted({int(a) % rank for a in axes}))



class _Reduce(OpDef):
    attrs = {"axes": REQUIRED, "keepdims": 1}
    np_fn = None

    def infer(self, node, ins):
        x = ins[0]
        for a in node.attrs["axes"]:
            if not -len(x.shape) <= int(a) < len(x.shape):
                raise ValueError(f"{node.op} {node.name}: axis {a} out of range for shape {x.shape}")
        axes = reduced_axes(node, len(x.shape))
        if node.attrs["keepdims"]:
            shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        else:
            shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        return [(shape, x.dtype)]

    def run_float(self, node, xs):
        axes = reduced_axes(node, xs[0].ndim)
        y = type(self).np_fn(xs[0].astype(np.float64), axis=axes, keepdims=bool(node.attrs["keepdims"]))
        return [np.asarray(y, np.float32)]

    def count(self, node, g) -> int:
        x = g.tensors[node.inputs[0]]
        return int(np.prod([x.shape[a] for a in reduced_axes(node, len(x.shape))]))

    def macs(self, node, g):
        return g.tensors[node.inputs[0]].size


class _SumRequant(_Reduce):
    """int32 sum of (x - zp), requantized once; `divide` folds 1 / count into the multiplier."""
    divide = True

    def int8_params(self, node, g):
        x = g.tensors[node.inputs[0]]
        iq, oq = x.quant, g.tensors[node.outputs[0]].quant
        count = self.count(node, g)
        mult, shift = arith.quantize_multiplier(iq.s / oq.s)
        if self.divide:
            k = min(count.bit_length() - 1, 32, 31 + shift)
            mult = (mult << k) // count
            shift -= k
        return {"count": count, "in_zp": iq.zp, "out_zp": oq.zp, "mult": mult, "shift": shift}

    def run_int8(self, node, xs, p):
        axes = reduced_axes(node, xs[0].ndim)
        s = xs[0].astype(np.int64).sum(axis=axes, keepdims=bool(node.attrs["keepdims"]))
        y = arith.multiply_by_quantized_multiplier(arith.wrap_int32(s - p["in_zp"] * p["count"]),
                                                   p["mult"], p["shift"]) + p["out_zp"]
        return [np.clip(y, -128, 127).astype(np.int8)]


@register
class Mean(_SumRequant):
    name = "mean"
    np_fn = staticmethod(np.mean)


@register
class ReduceSum(_SumRequant):
    name = "reduce_sum"
    np_fn = staticmethod(np.sum)
    divide = False


class _Extreme(_Reduce):
    keeps_quant = True

    def run_int8(self, node, xs, p):
        axes = reduced_axes(node, xs[0].ndim)
        return [type(self).np_fn(xs[0], axis=axes, keepdims=bool(node.attrs["keepdims"])).astype(np.int8)]


@register
class ReduceMax(_Extreme):
    name = "reduce_max"
    np_fn = staticmethod(np.max)


@register
class ReduceMin(_Extreme):
    name = "reduce_min"
    np_fn = staticmethod(np.min)
