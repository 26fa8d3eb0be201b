"""Fully connected layer: y[..., M] = x[..., K] @ W[M, K]^T + b (TFLite's weight layout)."""
import numpy as np

from ...reference import arith
from .base import OpDef, act_range_int8, apply_act_float, per_channel_requant_params, register


@register
class Dense(OpDef):
    name = "dense"
    attrs = {"act_min": None, "act_max": None}

    def infer(self, node, ins):
        x, w = ins[0], ins[1]
        if x.shape[-1] != w.shape[1]:
            raise ValueError(f"dense {node.name}: input {x.shape} does not match weights {w.shape}")
        return [(x.shape[:-1] + (w.shape[0],), x.dtype)]

    def run_float(self, node, xs):
        y = xs[0].astype(np.float64) @ xs[1].astype(np.float64).T
        if len(xs) > 2 and xs[2] is not None:
            y = y + xs[2]
        return [apply_act_float(node, y.astype(np.float32))]

    def int8_params(self, node, g):
        return per_channel_requant_params(node, g)

    def run_int8(self, node, xs, p):
        acc = (xs[0].astype(np.int64) - p["in_zp"]) @ xs[1].astype(np.int64).T
        if len(xs) > 2 and xs[2] is not None:
            acc = acc + xs[2].astype(np.int64)
        y = arith.multiply_by_quantized_multiplier(acc, p["mult"], p["shift"]) + p["out_zp"]
        return [arith.saturate(y, p["act_min"], p["act_max"]).astype(np.int8)]

    def fixed_params(self, node, g):
        from ...reference import fixed_arith
        return fixed_arith.mac_params(g, node, g.tensors[node.inputs[1]].shape[1])

    def run_fixed(self, node, xs, p):
        from ...reference import fixed_arith
        acc = xs[0].astype(np.int64) @ xs[1].astype(np.int64).T
        acc = fixed_arith.shift_products(acc, p)  # per-channel weight scales
        if len(xs) > 2 and xs[2] is not None:
            acc = acc + xs[2].astype(np.int64)
        return [fixed_arith.requantize(acc, p)]

    def macs(self, node, g):
        x = g.tensors[node.inputs[0]].shape
        return int(np.prod(x)) * g.tensors[node.inputs[1]].shape[0]


@register
class MatMul(OpDef):
    """Batched matrix product of two tensors (both may be variable) with numpy's broadcasting of
    the batch dimensions and promotion of 1-D operands.

    int8 is TFLite's BATCH_MATMUL: sum over k of (a - a_zp) * (b - b_zp) in int32, requantized
    once by the Q31 multiplier of s_a * s_b / s_out (per-tensor scales only)."""
    name = "matmul"
    attrs = {"act_min": None, "act_max": None}

    def infer(self, node, ins):
        a, b = ins
        a2 = (1,) + a.shape if len(a.shape) == 1 else a.shape
        b2 = b.shape + (1,) if len(b.shape) == 1 else b.shape
        try:
            if len(a2) < 2 or len(b2) < 2 or a2[-1] != b2[-2]:
                raise ValueError
            shape = tuple(np.broadcast_shapes(a2[:-2], b2[:-2])) + (a2[-2], b2[-1])
        except ValueError:
            raise ValueError(f"matmul {node.name}: shapes {a.shape} and {b.shape} do not multiply") from None
        if len(a.shape) == 1:
            shape = shape[:-2] + shape[-1:]
        if len(b.shape) == 1:
            shape = shape[:-1]
        return [(shape, a.dtype)]

    def run_float(self, node, xs):
        y = np.matmul(xs[0].astype(np.float64), xs[1].astype(np.float64)).astype(np.float32)
        return [apply_act_float(node, y)]

    def int8_params(self, node, g):
        qa, qb = g.tensors[node.inputs[0]].quant, g.tensors[node.inputs[1]].quant
        qo = g.tensors[node.outputs[0]].quant
        for which, q in (("A", qa), ("B", qb)):
            if q.per_channel and np.unique(q.scale).size > 1:
                raise ValueError(f"matmul {node.name}: operand {which} is quantized per channel; "
                                 f"int8 matmul (BATCH_MATMUL) takes per-tensor scales")
        k = g.tensors[node.inputs[0]].shape[-1]
        if k * 256 * 256 > arith.INT32_MAX:
            raise ValueError(f"matmul {node.name}: inner dimension {k} could overflow the int32 accumulator")
        mult, shift = arith.quantize_multiplier(float(np.max(qa.scale)) * float(np.max(qb.scale)) / qo.s)
        lo, hi = act_range_int8(node, qo)
        return {"a_zp": int(np.max(qa.zero_point)), "b_zp": int(np.max(qb.zero_point)), "out_zp": qo.zp,
                "mult": mult, "shift": shift, "act_min": lo, "act_max": hi}

    def run_int8(self, node, xs, p):
        acc = np.matmul(xs[0].astype(np.int64) - p["a_zp"], xs[1].astype(np.int64) - p["b_zp"])
        y = arith.multiply_by_quantized_multiplier(acc, p["mult"], p["shift"]) + p["out_zp"]
        return [arith.saturate(y, p["act_min"], p["act_max"]).astype(np.int8)]

    def macs(self, node, g):
        out = g.tensors[node.outputs[0]].shape
        return int(np.prod(out)) * g.tensors[node.inputs[0]].shape[-1]
