"""Reductions over axes (TFLite MEAN / SUM / REDUCE_MAX / REDUCE_MIN, ONNX Reduce*): one geometry
(kept dims walked by the output, reduced dims summed per output) shared by every kernel."""
import numpy as np

from ....errors import UnsupportedOpError
from ....ir.ops import get_op
from ....ir.ops.mean import reduced_axes
from .base import Layer, builder

MAX_DIMS = 6  # MCF_MAX_DIMS
REDUCE_OP = {"reduce_sum": 0, "reduce_max": 1, "reduce_min": 2}


def _geometry(shape, red) -> dict:
    strides = [int(s) for s in np.cumprod((tuple(shape[1:]) + (1,))[::-1])[::-1]]
    kept = [d for d in range(len(shape)) if d not in red]
    return {"n_kept": len(kept), "n_red": len(red),
            "kept_shape": [shape[d] for d in kept] or [1], "kept_strides": [strides[d] for d in kept] or [0],
            "red_shape": [shape[d] for d in red] or [1], "red_strides": [strides[d] for d in red] or [0],
            "count": int(np.prod([shape[d] for d in red]))}


def _reduce(ctx, node, cid):
    t = ctx.g.tensors[node.inputs[0]]
    if len(t.shape) > MAX_DIMS:
        raise UnsupportedOpError(node.op, node.name, f"rank {len(t.shape)} (the C kernels take up to {MAX_DIMS})")
    params = _geometry(t.shape, reduced_axes(node, len(t.shape)))
    params.update(in_zp=0, out_zp=0, mult=0, shift=0, op=REDUCE_OP.get(node.op, 0))
    if t.dtype == "int8" and node.op in ("reduce_max", "reduce_min"):
        kernel = "mcf_reduce_minmax_s8"
    elif t.dtype == "int8":
        p = get_op(node.op).int8_params(node, ctx.g)
        params.update(in_zp=p["in_zp"], out_zp=p["out_zp"], mult=p["mult"], shift=p["shift"])
        kernel = "mcf_mean_s8"
    else:
        kernel = "mcf_mean_f32" if node.op == "mean" else "mcf_reduce_f32"
    kernel, sources = ctx.select.pick(kernel, params)
    return Layer(node, "mean", kernel, sources, [ctx.refs[node.inputs[0]]], [ctx.refs[node.outputs[0]]],
                 params, macs=t.size)


for _op in ("mean", "reduce_sum", "reduce_max", "reduce_min"):
    builder(_op, "int8")(_reduce)
    builder(_op, "float32")(_reduce)
