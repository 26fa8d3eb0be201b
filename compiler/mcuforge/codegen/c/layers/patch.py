"""The patch_paste layer of a patch-based stage (ir/ops/patch.py): rows of a dense patch copied
into the whole map; with the previous map aliased (the plan's exact in-place pair) nothing else
moves."""
import numpy as np

from .base import Layer, builder


def patch_paste(ctx, node, cid):
    g = ctx.g
    patch, out = g.tensors[node.inputs[-1]], g.tensors[node.outputs[0]]
    elem = np.dtype(out.np_dtype).itemsize
    _, h, w, c = out.shape
    params = {"rows": patch.shape[1], "row_bytes": patch.shape[2] * c * elem, "dst_stride": w * c * elem,
              "dst_offset": (node.attrs["y0"] * w + node.attrs["x0"]) * c * elem, "total_bytes": node.attrs.get("defined", out.nbytes)}
    return Layer(node, "patch_paste", "mcf_patch_paste", ["mcf_patch_paste.c"],
                 [ctx.refs[t] for t in node.inputs], [ctx.refs[node.outputs[0]]], params)


for _dtype in ("int8", "float32"):
    builder("patch_paste", _dtype)(patch_paste)
