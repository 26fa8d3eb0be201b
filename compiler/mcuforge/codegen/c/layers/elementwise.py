"""Elementwise layers: add/sub/mul with broadcasting, int8 tables, float functions."""
import numpy as np

from ....ir.ops import get_op
from .base import Layer, builder, float_act

MAX_DIMS = 6


def broadcast_params(a_shape, b_shape, out_shape) -> dict:
    """Output shape and per-input element strides (0 on broadcast dims), left-padded to rank."""
    rank = len(out_shape)
    if rank > MAX_DIMS:
        raise ValueError(f"broadcast over {rank} dims (at most {MAX_DIMS})")

    def strides(shape):
        shape = (1,) * (rank - len(shape)) + tuple(shape)
        st, acc = [0] * rank, 1
        for d in range(rank - 1, -1, -1):
            st[d] = 0 if shape[d] == 1 and out_shape[d] != 1 else acc
            acc *= shape[d]
        return st

    same = tuple(a_shape) == tuple(b_shape) == tuple(out_shape)
    return {"rank": max(rank, 1), "out_shape": list(out_shape) or [1], "a_strides": strides(a_shape) or [1],
            "b_strides": strides(b_shape) or [1], "size": int(np.prod(out_shape)), "same_shape": int(same)}


def _bc(g, node):
    return broadcast_params(g.tensors[node.inputs[0]].shape, g.tensors[node.inputs[1]].shape,
                            g.tensors[node.outputs[0]].shape)


def _io(ctx, node):
    return [ctx.refs[t] for t in node.inputs[:2]], [ctx.refs[node.outputs[0]]]


def broadcast_layer(ctx, node, kernel: str, template: str, **params) -> Layer:
    """A two-input layer with numpy broadcasting: the broadcast geometry ("bc") plus `params`."""
    params = {"bc": _bc(ctx.g, node), **params}
    function, sources = ctx.select.pick(kernel, params)
    ins, outs = _io(ctx, node)
    return Layer(node, template, function, sources, ins, outs, params, macs=params["bc"]["size"])


def _add_s8(ctx, node, cid):
    if node.attrs.get("float_rule") == "ort":   # requant="ort": onnxruntime's float32 add
        from .ort_float import add_sub_ort
        return add_sub_ort(ctx, node, cid)
    p = get_op(node.op).int8_params(node, ctx.g)
    return broadcast_layer(ctx, node, "mcf_add_s8", "add_s8", p=p, subtract=int(node.op == "sub"))


builder("add", "int8")(_add_s8)
builder("sub", "int8")(_add_s8)


@builder("mul", "int8")
def mul_s8(ctx, node, cid):
    return broadcast_layer(ctx, node, "mcf_mul_s8", "mul_s8", p=get_op("mul").int8_params(node, ctx.g))


BINARY_F32 = {"add": "MCF_ADD", "sub": "MCF_SUB", "mul": "MCF_MUL", "div": "MCF_DIV", "max": "MCF_MAXIMUM",
              "min": "MCF_MINIMUM", "squared_difference": "MCF_SQDIFF"}


def _binary_f32(ctx, node, cid):
    lo, hi = float_act(node)
    return broadcast_layer(ctx, node, "mcf_binary_f32", "binary_f32", op=BINARY_F32[node.op], act_min=lo, act_max=hi)


for _op in BINARY_F32:
    builder(_op, "float32")(_binary_f32)


@builder("lut", "int8")
def lut_s8(ctx, node, cid):
    params = {"size": ctx.g.tensors[node.outputs[0]].size}
    kernel, sources = ctx.select.pick("mcf_lut_s8", params)
    table = ctx.array(cid, "table", "int8_t", ctx.g.tensors[node.inputs[1]].data)
    return Layer(node, "lut_s8", kernel, sources, [ctx.refs[node.inputs[0]]], [ctx.refs[node.outputs[0]]],
                 params, [table])


UNARY_F32 = {"relu": "MCF_RELU", "clip": "MCF_CLIP", "sigmoid": "MCF_SIGMOID", "hardswish": "MCF_HARDSWISH",
             "hardsigmoid": "MCF_HARDSIGMOID", "relu_tflm": "MCF_CLIP", "tanh": "MCF_TANH",
             "leakyrelu": "MCF_LEAKYRELU", "elu": "MCF_ELU", "erf": "MCF_ERF", "gelu": "MCF_GELU", "silu": "MCF_SILU",
             "pow": "MCF_POW", "rsqrt": "MCF_RSQRT"}


def _unary_f32(ctx, node, cid):
    op = UNARY_F32[node.op]
    if node.op == "gelu" and node.attrs.get("approximate") == "tanh":
        op = "MCF_GELU_TANH"
    params = {"size": ctx.g.tensors[node.outputs[0]].size, "op": op,
              "lo": node.attrs.get("min", -np.inf), "hi": node.attrs.get("max", np.inf),
              "alpha": node.attrs.get("alpha", node.attrs.get("exponent", 0.0)), "beta": node.attrs.get("beta", 0.0)}
    kernel, sources = ctx.select.pick("mcf_unary_f32", params)
    return Layer(node, "unary_f32", kernel, sources, [ctx.refs[node.inputs[0]]], [ctx.refs[node.outputs[0]]], params)


for _op in UNARY_F32:
    builder(_op, "float32")(_unary_f32)
