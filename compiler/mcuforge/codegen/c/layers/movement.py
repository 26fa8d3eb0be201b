"""Layers that move bytes: reshape (a copy, or nothing when planned as an alias), transpose,
concat, pad. They work for any element type."""
import numpy as np

from ....ir.ops import get_op
from .base import Layer, builder

MAX_DIMS = 6


def _elem(t):
    return np.dtype(t.np_dtype).itemsize


def reshape(ctx, node, cid):
    t = ctx.g.tensors[node.inputs[0]]
    src, dst = ctx.refs[node.inputs[0]], ctx.refs[node.outputs[0]]
    alias = src.kind == dst.kind == "arena" and src.offset == dst.offset
    params = {"nbytes": t.nbytes, "alias": alias}
    return Layer(node, "copy", "mcf_copy", [] if alias else ["mcf_copy.c"], [src], [dst], params)


def transpose(ctx, node, cid):
    t = ctx.g.tensors[node.inputs[0]]
    perm = node.attrs["perm"]
    if len(perm) > MAX_DIMS:
        raise ValueError(f"transpose of rank {len(perm)}")
    in_strides = np.cumprod((t.shape[1:] + (1,))[::-1])[::-1] if t.shape else np.array([1])
    params = {"rank": len(perm), "elem_size": _elem(t),
              "out_shape": list(ctx.g.tensors[node.outputs[0]].shape),
              "in_strides": [int(in_strides[p]) for p in perm]}
    kernel, sources = ctx.select.pick("mcf_transpose", params)
    return Layer(node, "transpose", kernel, sources, [ctx.refs[node.inputs[0]]], [ctx.refs[node.outputs[0]]], params)


def concat(ctx, node, cid):
    g = ctx.g
    if g.tensors[node.outputs[0]].dtype == "int8":
        get_op("concat").int8_params(node, g)  # checks the shared quantization
    out = g.tensors[node.outputs[0]]
    axis = node.attrs["axis"] % len(out.shape)
    outer = int(np.prod(out.shape[:axis]))
    chunks = [g.tensors[t].nbytes // max(outer, 1) for t in node.inputs]
    params = {"outer": outer, "n_inputs": len(node.inputs)}
    kernel, sources = ctx.select.pick("mcf_concat", params)
    arrays = [ctx.array(cid, "chunk_bytes", "int32_t", np.array(chunks, np.int32))]
    return Layer(node, "concat", kernel, sources, [ctx.refs[t] for t in node.inputs], [ctx.refs[node.outputs[0]]],
                 params, arrays)


def pad(ctx, node, cid):
    g = ctx.g
    t = g.tensors[node.inputs[0]]
    if t.dtype in ("int8", "int16"):
        from ....reference.executor import integer_params
        fill = np.array([integer_params(g, node)["fill"]], t.np_dtype)
    else:
        fill = np.array([node.attrs["value"]], t.np_dtype)
    params = {"rank": len(t.shape), "elem_size": _elem(t), "in_shape": list(t.shape),
              "out_shape": list(g.tensors[node.outputs[0]].shape),
              "pad_before": [int(p[0]) for p in node.attrs["pads"]],
              "mode": "MCF_PAD_" + node.attrs.get("mode", "constant").upper()}
    kernel, sources = ctx.select.pick("mcf_pad", params)
    arrays = [ctx.array(cid, "fill", t.c_type, fill)]
    return Layer(node, "pad", kernel, sources, [ctx.refs[node.inputs[0]]], [ctx.refs[node.outputs[0]]], params, arrays)


for _dtype in ("int8", "float32"):
    builder("reshape", _dtype)(reshape)
    builder("transpose", _dtype)(transpose)
    builder("concat", _dtype)(concat)
    builder("pad", _dtype)(pad)
