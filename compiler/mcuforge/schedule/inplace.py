"""In-place execution: which op outputs may overlap an input that dies at that op, and by how much.

An output may start `gap` bytes *below* its dying input and run over it, as long as every byte
written lands on input bytes that no later read needs. Our kernels compute output pixels in
address order (all channels of a pixel, then the next pixel) and, for output pixel p of a window
op, read only input pixels at or after first(p) = (max(0, y*sh - pad_top), max(0, x*sw - pad_left))
in row-major order. With Ci/Co bytes per input/output pixel, writing pixel p is safe when

    out_offset + (p + 1) * Co  <=  in_offset + min(first(q) for q >= p) * Ci

so gap = max over p of ((p + 1) * Co - min_{q>=p} first(q) * Ci). For depthwise and 1x1 convs
that is a few pixels, for elementwise ops and reshape 0 (the exact alias). This generalizes
TinyEngine's in-place depthwise convolution to every windowed op. A kernel variant that breaks
"write pixels in order, read windows forward" (im2col over many rows, multi-row tiles) must not
be covered by this list.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.graph import Graph, Node

WINDOW_OPS = {"conv2d", "maxpool", "avgpool"}
ELEMENTWISE_OPS = {"lut", "add", "sub", "mul", "requantize", "relu", "clip", "sigmoid", "hardswish",
                   "reshape", "patch_paste"}


@dataclass(frozen=True)
class Overlap:
    output: str
    input: str
    gap: int          # bytes: output offset <= input offset - gap (or no overlap at all)
    # the kernel is safe only when the output starts exactly where the input starts (a
    # channel-by-channel depthwise kernel: each byte it writes belongs to a channel it has consumed)
    exact: bool = False


def window_gap(node: Node, in_shape, out_shape, itemsize: int) -> int | None:
    if len(in_shape) != 4 or in_shape[0] != 1:
        return None
    _, hi, wi, ci = in_shape
    _, ho, wo, co = out_shape
    (sh, sw), (pt, pl) = node.attrs["strides"], node.attrs["pads"][:2]
    r0 = np.minimum(hi - 1, np.maximum(0, np.arange(ho) * sh - pt))
    c0 = np.minimum(wi - 1, np.maximum(0, np.arange(wo) * sw - pl))
    first = (r0[:, None] * wi + c0[None, :]).reshape(-1)          # input pixel index, per output pixel
    live = np.minimum.accumulate(first[::-1])[::-1]               # min over this and later pixels
    written = np.arange(1, ho * wo + 1)
    return int(max(0, (written * co - live * ci).max()) * itemsize)


def overlaps(g: Graph, order: list[Node], arena: set[str]) -> list[Overlap]:
    """Allowed (output, dying input, gap) triples for the given execution order."""
    last_use: dict[str, int] = {}
    for i, n in enumerate(order):
        for t in n.inputs:
            if t:
                last_use[t] = i
    out = []
    for i, n in enumerate(order):
        if len(n.outputs) != 1 or n.outputs[0] not in arena:
            continue
        if n.op == "qm_dual":   # QuantMCU: both of its kernels follow the inner op's rule
            from ..ir.ops.quantmcu import inner_nodes
            n = inner_nodes(n)[0]
        y = g.tensors[n.outputs[0]]
        for k, src in enumerate(n.inputs):
            if not src or src not in arena or last_use.get(src) != i or src in g.outputs:
                continue  # (a graph output read by a later op lives to the end: never overwritten)
            x = g.tensors[src]
            if n.inputs.count(src) > 1:
                continue
            gap = None
            if n.op in WINDOW_OPS and k == 0:
                gap = window_gap(n, x.shape, y.shape, x.nbytes // max(1, x.size))
            elif n.op in ELEMENTWISE_OPS and x.nbytes == y.nbytes and (n.op == "reshape" or x.shape == y.shape):
                gap = 0
            if gap is not None:
                out.append(Overlap(n.outputs[0], src, gap))
        if n.op == "patch_paste":   # a patch stage's output over its input (schedule/patches.py)
            out += [Overlap(n.outputs[0], src, gap) for src, gap in n.attrs.get("over", {}).items() if src in arena]
    return out
