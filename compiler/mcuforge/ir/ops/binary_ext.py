"""More broadcasting binary ops: div, max, min, and prelu (a slope tensor broadcast over x).

div: a division by a constant becomes a multiplication by its reciprocal in the frontend; int8
division of two variables is TFLite Micro's DIV (a fixed-point reciprocal of the divisor,
reference/logdiv_arith.py), with a zero divisor defined as saturation.
max / min in int8 bring both inputs to the output grid (TFLite's requantization) and compare;
with int_algo="tflm" (TFLite MAXIMUM / MINIMUM) they compare raw values, as TFLM does. The
requantization shifts the input left by 20 bits first (as TFLite's ADD does), so it rounds once:
MultiplyByQuantizedMultiplier on the bare difference rounds twice when the shift is negative.
"""
import numpy as np

from ...reference import arith, tflm_activations as tflm
from .base import OpDef, register
from .binary import ADD_LEFT_SHIFT, _Binary, broadcast_shape, rescaled_inputs


@register
class Div(_Binary):
    name = "div"
    fn = np.divide

    def int8_params(self, node, g):
        from ...reference import logdiv_arith
        from .base import act_range_int8
        q1, q2 = (g.tensors[t].quant for t in node.inputs[:2])
        qo = g.tensors[node.outputs[0]].quant
        try:
            p = logdiv_arith.div_params(q1.s, q2.s, qo.s)
        except ValueError as e:
            raise ValueError(f"div {node.name}: {e}") from None
        lo, hi = act_range_int8(node, qo)
        return dict(p, in1_zp=q1.zp, in2_zp=q2.zp, out_zp=qo.zp, act_min=lo, act_max=hi)

    def run_int8(self, node, xs, p):
        from ...reference import logdiv_arith
        return [logdiv_arith.div_int8(xs[0], xs[1], p)]


class _MaxMin(_Binary):
    attrs = {"act_min": None, "act_max": None, "int_algo": "float"}

    def int8_params(self, node, g):
        q1, q2 = (g.tensors[t].quant for t in node.inputs[:2])
        qo = g.tensors[node.outputs[0]].quant
        raw = node.attrs.get("int_algo") == "tflm" or (q1.same_as(qo) and q2.same_as(qo))
        m1, s1 = arith.quantize_multiplier(q1.s / qo.s / (1 << ADD_LEFT_SHIFT))
        m2, s2 = arith.quantize_multiplier(q2.s / qo.s / (1 << ADD_LEFT_SHIFT))
        return {"raw": int(raw), "in1_zp": q1.zp, "in2_zp": q2.zp, "out_zp": qo.zp, "left_shift": ADD_LEFT_SHIFT,
                "in1_mult": m1, "in1_shift": s1, "in2_mult": m2, "in2_shift": s2}

    def run_int8(self, node, xs, p):
        if p["raw"]:
            return [type(self).fn(xs[0], xs[1]).astype(np.int8)]
        a, b = rescaled_inputs(xs, p)
        a, b = a + p["out_zp"], b + p["out_zp"]
        return [np.clip(type(self).fn(a, b), -128, 127).astype(np.int8)]


@register
class Max(_MaxMin):
    name = "max"
    fn = np.maximum


@register
class Min(_MaxMin):
    name = "min"
    fn = np.minimum


@register
class PRelu(OpDef):
    """y = x if x >= 0 else x * slope; inputs (x, slope), slope broadcast against x (per channel
    in NHWC: shape [C] or [1, 1, C]). int8 follows TFLM's PRELU (two Q31 requantizations)."""
    name = "prelu"

    def infer(self, node, ins):
        shape = broadcast_shape(node, ins[0].shape, ins[1].shape)
        if tuple(shape) != tuple(ins[0].shape):
            raise ValueError(f"prelu {node.name}: slope {ins[1].shape} must broadcast to x {ins[0].shape}")
        return [(ins[0].shape, ins[0].dtype)]

    def run_float(self, node, xs):
        x, a = xs[0].astype(np.float32), xs[1].astype(np.float32)
        return [np.where(x >= 0, x, x * a).astype(np.float32)]

    def int8_params(self, node, g):
        xq, aq = g.tensors[node.inputs[0]].quant, g.tensors[node.inputs[1]].quant
        oq = g.tensors[node.outputs[0]].quant
        if aq.per_channel:
            raise ValueError(f"prelu {node.name}: per-channel slope quantization is not supported")
        return tflm.prelu_params(xq.s, xq.zp, aq.s, aq.zp, oq.s, oq.zp)

    def run_int8(self, node, xs, p):
        return [tflm.prelu_int8(xs[0], xs[1], p)]

    def macs(self, node, g):
        return g.tensors[node.outputs[0]].size


@register
class SquaredDifference(_Binary):
    """(a - b)^2 (TFLite's SQUARED_DIFFERENCE). int8 is TFLM's: both inputs shifted left 7 bits and
    rescaled to twice the larger input scale, the difference squared, then requantized."""
    name = "squared_difference"
    LEFT_SHIFT = 7  # 255^2 * 2^14 stays within int32

    @staticmethod
    def fn(a, b):
        return (a - b) * (a - b)

    def int8_params(self, node, g):
        q1, q2 = (g.tensors[t].quant for t in node.inputs[:2])
        qo = g.tensors[node.outputs[0]].quant
        s1, s2, so = (float(np.float32(q.s)) for q in (q1, q2, qo))
        twice_max = 2.0 * max(s1, s2)
        m1, sh1 = arith.quantize_multiplier(s1 / twice_max)
        m2, sh2 = arith.quantize_multiplier(s2 / twice_max)
        mo, sho = arith.quantize_multiplier(twice_max * twice_max / ((1 << (2 * self.LEFT_SHIFT)) * so))
        return {"in1_zp": q1.zp, "in2_zp": q2.zp, "out_zp": qo.zp, "left_shift": self.LEFT_SHIFT,
                "in1_mult": m1, "in1_shift": sh1, "in2_mult": m2, "in2_shift": sh2,
                "out_mult": mo, "out_shift": sho}

    def run_int8(self, node, xs, p):
        a, b = rescaled_inputs(xs, p)
        y = arith.multiply_by_quantized_multiplier((a - b) * (a - b), p["out_mult"], p["out_shift"]) + p["out_zp"]
        return [np.clip(y, -128, 127).astype(np.int8)]
