"""Elementwise binary ops with numpy broadcasting: add, sub, mul (TFLite int8 arithmetic)."""
import numpy as np

from ...reference import arith, ort_float
from .base import OpDef, act_range_int8, apply_act_float, register

ADD_LEFT_SHIFT = 20  # headroom TFLite gives int8 inputs before rescaling them to a common scale


def broadcast_shape(node, a, b):
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        raise ValueError(f"{node.op} {node.name}: shapes {a} and {b} do not broadcast") from None


def rescaled_inputs(xs, p) -> tuple[np.ndarray, np.ndarray]:
    """TFLite's two-input preamble: each int8 input minus its zero point, shifted left by
    p["left_shift"] and rescaled by its Q31 multiplier to the common grid (int64, exact)."""
    mbqm = arith.multiply_by_quantized_multiplier
    a = mbqm((xs[0].astype(np.int64) - p["in1_zp"]) << p["left_shift"], p["in1_mult"], p["in1_shift"])
    b = mbqm((xs[1].astype(np.int64) - p["in2_zp"]) << p["left_shift"], p["in2_mult"], p["in2_shift"])
    return a, b


class _Binary(OpDef):
    attrs = {"act_min": None, "act_max": None}
    fn = None

    def infer(self, node, ins):
        return [(broadcast_shape(node, ins[0].shape, ins[1].shape), ins[0].dtype)]

    def run_float(self, node, xs):
        y = type(self).fn(xs[0].astype(np.float32), xs[1].astype(np.float32))
        return [apply_act_float(node, y.astype(np.float32))]

    def macs(self, node, g):
        return g.tensors[node.outputs[0]].size


class _AddSub(_Binary):
    sign = 1

    def int8_params(self, node, g, left_shift: int = ADD_LEFT_SHIFT, qmin: int = -128, qmax: int = 127):
        """int8 (int16 activations: left_shift 15 and the int16 bounds, as TFLite Micro's ADD)."""
        q1 = g.tensors[node.inputs[0]].quant
        q2 = g.tensors[node.inputs[1]].quant
        qo = g.tensors[node.outputs[0]].quant
        twice_max = 2 * max(q1.s, q2.s)
        m1, s1 = arith.quantize_multiplier(q1.s / twice_max)
        m2, s2 = arith.quantize_multiplier(q2.s / twice_max)
        mo, so = arith.quantize_multiplier(twice_max / ((1 << left_shift) * qo.s))
        lo, hi = act_range_int8(node, qo, qmin, qmax)
        p = {"in1_zp": q1.zp, "in2_zp": q2.zp, "out_zp": qo.zp, "left_shift": left_shift,
             "in1_mult": m1, "in1_shift": s1, "in2_mult": m2, "in2_shift": s2,
             "out_mult": mo, "out_shift": so, "act_min": lo, "act_max": hi}
        return ort_float.ort_params(node, g, p) if ort_float.uses_ort_rule(node) else p

    def fixed_params(self, node, g):
        # Both operands move to the finer binary point (a left shift, exact), then one cast.
        from ...reference import fixed_arith
        a, b, o = (fixed_arith.tensor_type(g, t) for t in (node.inputs[0], node.inputs[1], node.outputs[0]))
        frac = max(a.frac, b.frac)
        width = max(a.int_bits, b.int_bits) + 1 + frac
        if width > fixed_arith.MAX_WIDTH:
            from ...errors import McuforgeError
            raise McuforgeError(f"{node.op} {node.name}: aligned sum needs {width} bits, over the "
                                f"{fixed_arith.MAX_WIDTH}-bit limit")
        lo, hi = fixed_arith.act_bounds(o, node.attrs.get("act_min"), node.attrs.get("act_max"))
        return {"a_frac": a.frac, "b_frac": b.frac, "acc_frac": frac, "acc_width": width, "out": o,
                "act_lo": lo, "act_hi": hi}

    def run_fixed(self, node, xs, p):
        from ...reference import fixed_arith
        a = fixed_arith.shift_round(xs[0], p["a_frac"], p["acc_frac"], "trn")
        b = fixed_arith.shift_round(xs[1], p["b_frac"], p["acc_frac"], "trn")
        return [fixed_arith.requantize(a + self.sign * b, p)]

    def run_int8(self, node, xs, p):
        if ort_float.uses_ort_rule(node):   # requant="ort": onnxruntime's float32 sequence
            return [ort_float.add_sub_f32(xs[0], xs[1], p, self.sign)]
        a, b = rescaled_inputs(xs, p)
        y = arith.multiply_by_quantized_multiplier(a + self.sign * b, p["out_mult"], p["out_shift"]) + p["out_zp"]
        return [arith.saturate(y, p["act_min"], p["act_max"]).astype(np.int8)]


@register
class Add(_AddSub):
    name = "add"
    fn = np.add


@register
class Sub(_AddSub):
    name = "sub"
    fn = np.subtract
    sign = -1


@register
class Mul(_Binary):
    name = "mul"
    fn = np.multiply

    def int8_params(self, node, g):
        q1 = g.tensors[node.inputs[0]].quant
        q2 = g.tensors[node.inputs[1]].quant
        qo = g.tensors[node.outputs[0]].quant
        m, s = arith.quantize_multiplier(q1.s * q2.s / qo.s)
        lo, hi = act_range_int8(node, qo)
        return {"in1_zp": q1.zp, "in2_zp": q2.zp, "out_zp": qo.zp, "mult": m, "shift": s,
                "act_min": lo, "act_max": hi}

    def run_int8(self, node, xs, p):
        prod = (xs[0].astype(np.int64) - p["in1_zp"]) * (xs[1].astype(np.int64) - p["in2_zp"])
        y = arith.multiply_by_quantized_multiplier(prod, p["mult"], p["shift"]) + p["out_zp"]
        return [arith.saturate(y, p["act_min"], p["act_max"]).astype(np.int8)]
