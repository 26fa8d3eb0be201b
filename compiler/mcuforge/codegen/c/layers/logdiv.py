"""C layers of int8 log-softmax, int8 division of two tensors and int16 hard-swish (kernels
runtime_c/kernels/mcf_log_softmax_s8.c, mcf_div_s8.c, mcf_hardswish_s16.c; rules in
reference/logdiv_arith.py)."""
from ....ir.ops import get_op
from ....ir.ops.int16 import int16_semantics
from ....reference import logdiv_arith
from .base import Layer, builder
from .elementwise import broadcast_layer
from .softmax import _split


@builder("log_softmax", "int8")
def log_softmax_s8(ctx, node, cid):
    p = get_op("log_softmax").int8_params(node, ctx.g)
    params = dict(_split(ctx.g.tensors[node.inputs[0]].shape, node.attrs["axis"]),
                  diff_min=p["diff_min"], rev_mult=p["rev_mult"], rev_shift=p["rev_shift"])
    kernel, sources = ctx.select.pick("mcf_log_softmax_s8", params)
    arrays = [ctx.array(cid, "diff_q5", "int32_t", p["diff_q5"]), ctx.array(cid, "exp_q12", "int32_t", p["exp_q12"])]
    return Layer(node, "log_softmax_s8", kernel, sources, [ctx.refs[node.inputs[0]]], [ctx.refs[node.outputs[0]]],
                 params, arrays)


@builder("div", "int8")
def div_s8(ctx, node, cid):
    layer = broadcast_layer(ctx, node, "mcf_div_s8", "div_s8", p=get_op("div").int8_params(node, ctx.g))
    layer.arrays.append(ctx.array(cid, "recip", "int32_t", logdiv_arith.divisor_reciprocals()))
    return layer


@builder("hardswish", "int16")
def hardswish_s16(ctx, node, cid):
    p = int16_semantics(node).params(node, ctx.g)
    params = dict(p, size=ctx.g.tensors[node.inputs[0]].size)
    kernel, sources = ctx.select.pick("mcf_hardswish_s16", params)
    return Layer(node, "hardswish_s16", kernel, sources, [ctx.refs[node.inputs[0]]], [ctx.refs[node.outputs[0]]],
                 params)
