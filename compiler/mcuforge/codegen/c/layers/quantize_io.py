"""Layers at a model's float/int8 boundary: quantize (float32 in, int8 out) and dequantize
(int8 in, float32 out), e.g. a TFLite model whose output is DEQUANTIZE'd to float."""
import numpy as np

from ....ir.ops import get_op
from .base import Layer, builder


def _affine(kernel):
    def build(ctx, node, cid):
        p = get_op(node.op).int8_params(node, ctx.g)
        params = {"size": ctx.g.tensors[node.outputs[0]].size, "zero_point": int(p["zp"]),
                  "scale": repr(float(np.float32(p["scale"]))) + "f"}
        fn, sources = ctx.select.pick(kernel, params)
        return Layer(node, "affine", fn, sources, [ctx.refs[node.inputs[0]]], [ctx.refs[node.outputs[0]]], params)
    return build


builder("quantize", "int8")(_affine("mcf_quantize_f32_s8"))
builder("dequantize", "int8")(_affine("mcf_dequantize_s8_f32"))
