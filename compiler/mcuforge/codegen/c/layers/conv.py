"""Convolution, depthwise convolution and fully connected layers (matrix products: matmul.py)."""
import numpy as np

from ....errors import McuforgeError
from ....ir.ops import get_op
from ..kernel_select import prepare_arrays
from .base import Layer, builder, float_act, window

ACC_LIMIT = (1 << 31) - 1


def _check_accumulator(node, w_q: np.ndarray, bias, in_zp: int):
    """Prove the int32 accumulator cannot overflow: worst case sum |x - zp| * |w| + |bias|."""
    per_out = np.abs(w_q.astype(np.int64)).reshape(w_q.shape[0], -1).sum(axis=1)
    worst = per_out * (128 + abs(in_zp)) + (np.abs(bias.astype(np.int64)) if bias is not None else 0)
    if worst.max(initial=0) > ACC_LIMIT:
        raise McuforgeError(f"node {node.name}: int32 accumulator could overflow "
                            f"(worst case {int(worst.max())}); the layer is too large for the int8 kernels")


def _requant(p):
    return {"in_zp": p["in_zp"], "out_zp": p["out_zp"], "act_min": p["act_min"], "act_max": p["act_max"]}


def _int8_weighted(ctx, node, cid, template: str, kernel: str, geometry: dict) -> Layer:
    """conv2d and dense in int8: requantization constants, the accumulator proof, the kernel
    variant (which may reorder the weights at compile time) and the constant arrays."""
    g = ctx.g
    w = g.tensors[node.inputs[1]]
    p = get_op(node.op).int8_params(node, g)
    bias = g.tensors[node.inputs[2]].data if len(node.inputs) > 2 else None
    _check_accumulator(node, w.data, bias, p["in_zp"])
    if int(node.attrs.get("weight_bits", 8)) < 8:
        from .subbyte import subbyte_weighted
        return subbyte_weighted(ctx, node, cid, template, kernel, geometry, p, bias)
    params = dict(geometry, rq=_requant(p), has_bias=bias is not None,
                  consts={"weights": w.data, "bias": bias, "mult": p["mult"], "shift": p["shift"]})
    variant = ctx.select.choose(kernel, params)
    arrays = [ctx.array(cid, "weights", "int8_t", w.data.reshape(-1)),
              ctx.array(cid, "mult", "int32_t", p["mult"]), ctx.array(cid, "shift", "int32_t", p["shift"])]
    if bias is not None:
        arrays.append(ctx.array(cid, "bias", "int32_t", bias))
    arrays = prepare_arrays(ctx, cid, variant, params, params.pop("consts"), arrays)
    return Layer(node, template, variant.function, list(variant.sources), [ctx.refs[node.inputs[0]]],
                 [ctx.refs[node.outputs[0]]], params, arrays, macs=get_op(node.op).macs(node, g))


def _f32_weighted(ctx, node, cid, template: str, kernel: str, geometry: dict) -> Layer:
    """conv2d and dense in float32: weights, optional bias, the fused clamp."""
    g = ctx.g
    lo, hi = float_act(node)
    has_bias = len(node.inputs) > 2
    params = dict(geometry, act_min=lo, act_max=hi, has_bias=has_bias)
    function, sources = ctx.select.pick(kernel, params)
    arrays = [ctx.array(cid, "weights", "float", g.tensors[node.inputs[1]].data.reshape(-1))]
    if has_bias:
        arrays.append(ctx.array(cid, "bias", "float", g.tensors[node.inputs[2]].data))
    return Layer(node, template, function, sources, [ctx.refs[node.inputs[0]]], [ctx.refs[node.outputs[0]]],
                 params, arrays, macs=get_op(node.op).macs(node, g))


def _conv_geometry(ctx, node) -> dict:
    g, a = ctx.g, node.attrs
    w = g.tensors[node.inputs[1]]
    win = window(g, node, node.inputs[0], node.outputs[0], w.shape[1:3], a["strides"], a["dilations"], a["pads"])
    return {"win": win, "groups": a["groups"]}


def _dense_geometry(ctx, node) -> dict:
    x, w = ctx.g.tensors[node.inputs[0]], ctx.g.tensors[node.inputs[1]]
    return {"rows": int(np.prod(x.shape[:-1])), "in_features": w.shape[1], "out_features": w.shape[0]}


@builder("conv2d", "int8")
def conv2d_s8(ctx, node, cid):
    x, w = ctx.g.tensors[node.inputs[0]], ctx.g.tensors[node.inputs[1]]
    # one input channel: a plain convolution (its GEMM kernels beat the depthwise ones at a depth
    # multiplier of out_c: kws_dscnn's first layer, 10x4 -> 64, 1.2 instead of 0.3 instr/MAC on M55)
    depthwise = node.attrs["groups"] == x.shape[-1] and w.shape[3] == 1 and x.shape[-1] > 1
    kernel = "mcf_depthwise_conv2d_s8" if depthwise else "mcf_conv2d_s8"
    return _int8_weighted(ctx, node, cid, "conv2d_s8", kernel, _conv_geometry(ctx, node))


@builder("conv2d", "float32")
def conv2d_f32(ctx, node, cid):
    return _f32_weighted(ctx, node, cid, "conv2d_f32", "mcf_conv2d_f32", _conv_geometry(ctx, node))


@builder("dense", "int8")
def dense_s8(ctx, node, cid):
    return _int8_weighted(ctx, node, cid, "dense_s8", "mcf_fully_connected_s8", _dense_geometry(ctx, node))


@builder("dense", "float32")
def dense_f32(ctx, node, cid):
    return _f32_weighted(ctx, node, cid, "dense_f32", "mcf_fully_connected_f32", _dense_geometry(ctx, node))
