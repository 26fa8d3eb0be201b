"""Max and average pooling layers."""
from ....ir.ops import get_op
from .base import Layer, builder, float_act, window


def _win(ctx, node):
    a = node.attrs
    return window(ctx.g, node, node.inputs[0], node.outputs[0], a["kernel"], a["strides"], a["dilations"], a["pads"])


def _pool_s8(ctx, node, cid):
    p = get_op(node.op).int8_params(node, ctx.g)
    params = {"win": _win(ctx, node), "act_min": p["act_min"], "act_max": p["act_max"],
              "count_include_pad": int(node.attrs.get("count_include_pad", 0)), "pad_value": p.get("zp", 0)}
    kernel, sources = ctx.select.pick(f"mcf_{node.op}_s8", params)
    return Layer(node, "pool_s8", kernel, sources, [ctx.refs[node.inputs[0]]], [ctx.refs[node.outputs[0]]],
                 params, macs=get_op(node.op).macs(node, ctx.g))


def _pool_f32(ctx, node, cid):
    lo, hi = float_act(node)
    params = {"win": _win(ctx, node), "act_min": lo, "act_max": hi,
              "count_include_pad": int(node.attrs.get("count_include_pad", 0))}
    kernel, sources = ctx.select.pick(f"mcf_{node.op}_f32", params)
    return Layer(node, "pool_f32", kernel, sources, [ctx.refs[node.inputs[0]]], [ctx.refs[node.outputs[0]]],
                 params, macs=get_op(node.op).macs(node, ctx.g))


for _op in ("maxpool", "avgpool"):
    builder(_op, "int8")(_pool_s8)
    builder(_op, "float32")(_pool_f32)
