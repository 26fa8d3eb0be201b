"""Layers for slice, gather, broadcast_to and tile. Each is a strided view of its input
(an offset and one stride per output dim, zero for broadcast dims, negative for reversed ones),
copied densely by mcf_strided_copy; a gather with unevenly spaced indices uses mcf_gather."""
import numpy as np

from ....errors import UnsupportedOpError
from .base import Layer, builder
from .movement import MAX_DIMS


def _contiguous_strides(shape) -> list[int]:
    strides, s = [], 1
    for d in reversed(shape):
        strides.append(s)
        s *= int(d)
    return strides[::-1]


def view(op: str, attrs: dict, in_shape) -> tuple[int, list[int], list[int]]:
    """(offset, out_shape, in_strides) in elements: out[i] = in_flat[offset + sum(i_d * stride_d)]."""
    st = _contiguous_strides(in_shape)
    if op == "slice":
        off = sum(s * k for s, k in zip(attrs["starts"], st))
        return off, list(attrs["sizes"]), [step * k for step, k in zip(attrs["steps"], st)]
    if op == "gather":
        ax, idx = attrs["axis"], list(attrs["indices"])
        step = idx[1] - idx[0] if len(idx) > 1 else 1
        if any(b - a != step for a, b in zip(idx, idx[1:])):
            raise ValueError("indices not evenly spaced")
        shape = list(in_shape)
        shape[ax] = len(idx)
        strides = list(st)
        strides[ax] = step * st[ax]
        return idx[0] * st[ax], shape, strides
    if op == "broadcast_to":
        out = list(attrs["shape"])
        pad = len(out) - len(in_shape)
        ins = [1] * pad + list(in_shape)
        sts = [0] * pad + st
        return 0, out, [0 if i == 1 and o != 1 else k for i, o, k in zip(ins, out, sts)]
    if op == "tile":
        shape, strides = [], []
        for r, d, k in zip(attrs["reps"], in_shape, st):
            shape += [int(r), int(d)]
            strides += [0, k]
        return 0, shape, strides
    raise KeyError(op)


def canonical(shape, strides, elem: int) -> tuple[list[int], list[int], int]:
    """Drop size-1 dims, merge dims that step through memory as one, and fold a contiguous
    innermost run into the copy size: (shape, byte strides, run bytes)."""
    dims = [(int(n), int(s)) for n, s in zip(shape, strides) if n != 1]
    merged: list[list[int]] = []
    for n, s in dims:
        if merged and merged[-1][1] == s * n:
            merged[-1] = [merged[-1][0] * n, s]
        else:
            merged.append([n, s])
    run = elem
    if merged and merged[-1][1] == 1:
        run = elem * merged[-1][0]
        merged.pop()
    return [n for n, _ in merged], [s * elem for _, s in merged], run


def _strided(ctx, node, cid):
    g = ctx.g
    x = g.tensors[node.inputs[0]]
    elem = np.dtype(x.np_dtype).itemsize
    try:
        off, shape, strides = view(node.op, node.attrs, x.shape)
    except ValueError:
        return _gather(ctx, node, cid)
    shape, strides, run = canonical(shape, strides, elem)
    if len(shape) > MAX_DIMS:
        raise UnsupportedOpError(node.op, node.name, f"a view of {len(shape)} dims after merging "
                                 f"(the C copy kernel walks at most {MAX_DIMS})")
    pad = MAX_DIMS - len(shape)
    params = {"rank": len(shape), "run_bytes": run, "in_offset": off * elem,
              "out_shape": shape + [1] * pad, "in_strides": strides + [0] * pad}
    kernel, sources = ctx.select.pick("mcf_strided_copy", params)
    return Layer(node, "strided_copy", kernel, sources, [ctx.refs[node.inputs[0]]],
                 [ctx.refs[node.outputs[0]]], params)


def _gather(ctx, node, cid):
    x = ctx.g.tensors[node.inputs[0]]
    ax = node.attrs["axis"]
    elem = np.dtype(x.np_dtype).itemsize
    params = {"outer": int(np.prod(x.shape[:ax])), "axis_len": x.shape[ax],
              "inner_bytes": int(np.prod(x.shape[ax + 1:])) * elem, "n_indices": len(node.attrs["indices"])}
    kernel, sources = ctx.select.pick("mcf_gather", params)
    arrays = [ctx.array(cid, "indices", "int32_t", np.array(node.attrs["indices"], np.int32))]
    return Layer(node, "gather", kernel, sources, [ctx.refs[node.inputs[0]]], [ctx.refs[node.outputs[0]]],
                 params, arrays)


for _op in ("slice", "gather", "broadcast_to", "tile"):
    for _dtype in ("int8", "float32"):
        builder(_op, _dtype)(_strided)
