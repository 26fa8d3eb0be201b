"""Layers of the elementwise ops beyond add / sub / mul: int8 max / min, PReLU (int8, float32),
float32 log-softmax, L2 normalization (int8, float32) and int8 squared difference. Unary int8 ops need no builder: lower_to_lut turns them into `lut` nodes."""
from ....ir.ops import get_op
from .base import Layer, builder
from .elementwise import broadcast_layer
from .softmax import _split


def _maxmin_s8(ctx, node, cid):
    p = get_op(node.op).int8_params(node, ctx.g)
    return broadcast_layer(ctx, node, "mcf_maxmin_s8", "maxmin_s8", p=p, is_max=int(node.op == "max"))


builder("max", "int8")(_maxmin_s8)
builder("min", "int8")(_maxmin_s8)


@builder("prelu", "int8")
def prelu_s8(ctx, node, cid):
    return broadcast_layer(ctx, node, "mcf_prelu_s8", "prelu_s8", p=get_op("prelu").int8_params(node, ctx.g))


@builder("prelu", "float32")
def prelu_f32(ctx, node, cid):
    return broadcast_layer(ctx, node, "mcf_prelu_f32", "prelu_f32")


@builder("log_softmax", "float32")
def log_softmax_f32(ctx, node, cid):
    params = _split(ctx.g.tensors[node.inputs[0]].shape, node.attrs["axis"])
    kernel, sources = ctx.select.pick("mcf_log_softmax_f32", params)
    return Layer(node, "log_softmax_f32", kernel, sources, [ctx.refs[node.inputs[0]]],
                 [ctx.refs[node.outputs[0]]], params)


def _l2norm(ctx, node, cid):
    int8 = ctx.g.tensors[node.outputs[0]].dtype == "int8"
    params = dict(_split(ctx.g.tensors[node.inputs[0]].shape, node.attrs["axis"]), eps=node.attrs["eps"],
                  in_zp=get_op("l2_normalize").int8_params(node, ctx.g)["in_zp"] if int8 else 0)
    kernel, sources = ctx.select.pick("mcf_l2norm_s8" if int8 else "mcf_l2norm_f32", params)
    return Layer(node, "l2norm", kernel, sources, [ctx.refs[node.inputs[0]]], [ctx.refs[node.outputs[0]]], params)


builder("l2_normalize", "int8")(_l2norm)
builder("l2_normalize", "float32")(_l2norm)


@builder("squared_difference", "int8")
def sqdiff_s8(ctx, node, cid):
    p = dict(get_op("squared_difference").int8_params(node, ctx.g), act_min=-128, act_max=127)
    return broadcast_layer(ctx, node, "mcf_sqdiff_s8", "add_s8", p=p, subtract=0)
