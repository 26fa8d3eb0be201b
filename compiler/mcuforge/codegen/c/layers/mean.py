"""Mean over axes (TFLite MEAN)."""
import numpy as np

from ....ir.ops import get_op
from .base import Layer, builder


def _geometry(shape, axes) -> dict:
    strides = [int(s) for s in np.cumprod((tuple(shape[1:]) + (1,))[::-1])[::-1]]
    red = sorted({a % len(shape) for a in axes})
    kept = [d for d in range(len(shape)) if d not in red]
    return {"n_kept": len(kept), "n_red": len(red),
            "kept_shape": [shape[d] for d in kept] or [1], "kept_strides": [strides[d] for d in kept] or [0],
            "red_shape": [shape[d] for d in red] or [1], "red_strides": [strides[d] for d in red] or [0],
            "count": int(np.prod([shape[d] for d in red]))}


def _mean(ctx, node, cid):
    t = ctx.g.tensors[node.inputs[0]]
    params = _geometry(t.shape, node.attrs["axes"])
    if t.dtype == "int8":
        p = get_op("mean").int8_params(node, ctx.g)
        params.update(in_zp=p["in_zp"], out_zp=p["out_zp"], mult=p["mult"], shift=p["shift"])
        kernel = "mcf_mean_s8"
    else:
        params.update(in_zp=0, out_zp=0, mult=0, shift=0)
        kernel = "mcf_mean_f32"
    kernel, sources = ctx.select.pick(kernel, params)
    return Layer(node, "mean", kernel, sources, [ctx.refs[node.inputs[0]]], [ctx.refs[node.outputs[0]]],
                 params, macs=t.size)


builder("mean", "int8")(_mean)
builder("mean", "float32")(_mean)
