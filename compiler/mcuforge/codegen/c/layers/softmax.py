"""Softmax layers (int8 with a compile-time exp table, float32)."""
import numpy as np

from ....ir.ops import get_op
from .base import Layer, builder


def _split(shape, axis):
    axis %= len(shape)
    return {"outer": int(np.prod(shape[:axis])), "axis_len": shape[axis], "inner": int(np.prod(shape[axis + 1:]))}


@builder("softmax", "int8")
def softmax_s8(ctx, node, cid):
    p = get_op("softmax").int8_params(node, ctx.g)
    params = _split(ctx.g.tensors[node.inputs[0]].shape, node.attrs["axis"])
    kernel, sources = ctx.select.pick("mcf_softmax_s8", params)
    table = ctx.array(cid, "exp_table", "int32_t", p["exp_table"])
    return Layer(node, "softmax_s8", kernel, sources, [ctx.refs[node.inputs[0]]], [ctx.refs[node.outputs[0]]],
                 params, [table])


@builder("softmax", "float32")
def softmax_f32(ctx, node, cid):
    params = dict(_split(ctx.g.tensors[node.inputs[0]].shape, node.attrs["axis"]), beta=node.attrs["beta"])
    kernel, sources = ctx.select.pick("mcf_softmax_f32", params)
    return Layer(node, "softmax_f32", kernel, sources, [ctx.refs[node.inputs[0]]], [ctx.refs[node.outputs[0]]], params)
