"""Receptive fields: which input rows and columns an output row/column range needs.

    need = input_ranges(g, node, Box(y0, y1, x0, x1))   # one Box (or None) per input of node
    inside, pads = need[0].clip(h, w)                     # the part inside the tensor + padding

A Box is a half-open rectangle [y0, y1) x [x0, x1) of an NHWC tensor's spatial plane; the box an
op needs from its input may reach outside the tensor (into the op's padding). clip() splits it
into the part inside and how many rows/columns lie outside on each side (top, left, bottom,
right): those sides touch the image border and a patch computes them as padding, exactly as the
whole-tensor op does, so a patch's values equal the layer-wise ones.

Per op, along one axis with kernel k, stride s, dilation d and leading padding p, output
[o0, o1) needs input [o0*s - p, (o1-1)*s - p + d*(k-1) + 1): conv2d (any groups, so depthwise
too), maxpool, avgpool. pad (constant mode) shifts by its leading pad. Elementwise ops (add, sub,
mul with both inputs, activations, LUT, requantize, quantize) need the same box from every input
of the output's spatial size; constant inputs and broadcast ones (H or W of 1 against a larger
output) are read whole (None). Any other op cannot be computed patch by patch:
`patchable(g, node)` says why not, in a few words, or returns None.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir.graph import Graph, Node

WINDOW_OPS = ("conv2d", "maxpool", "avgpool")
ELEMENTWISE = {"add", "sub", "mul", "max", "min", "relu", "relu_tflm", "clip", "sigmoid", "tanh", "hardswish",
               "hardsigmoid", "leakyrelu", "lut", "requantize", "quantize", "dequantize", "elu", "gelu", "silu"}


@dataclass(frozen=True)
class Box:
    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def h(self) -> int:
        return self.y1 - self.y0

    @property
    def w(self) -> int:
        return self.x1 - self.x0

    def hull(self, other: "Box | None") -> "Box":
        if other is None:
            return self
        return Box(min(self.y0, other.y0), max(self.y1, other.y1), min(self.x0, other.x0), max(self.x1, other.x1))

    def clip(self, h: int, w: int) -> tuple["Box", tuple[int, int, int, int]]:
        """(the part inside an h x w plane, rows/cols outside per side: top, left, bottom, right)."""
        inside = Box(max(self.y0, 0), min(self.y1, h), max(self.x0, 0), min(self.x1, w))
        return inside, (max(0, -self.y0), max(0, -self.x0), max(0, self.y1 - h), max(0, self.x1 - w))

    def shift(self, dy: int, dx: int) -> "Box":
        return Box(self.y0 + dy, self.y1 + dy, self.x0 + dx, self.x1 + dx)

    def within(self, h: int, w: int) -> bool:
        return 0 <= self.y0 < self.y1 <= h and 0 <= self.x0 < self.x1 <= w


def _window_axis(o0: int, o1: int, k: int, s: int, d: int, p: int) -> tuple[int, int]:
    return o0 * s - p, (o1 - 1) * s - p + d * (k - 1) + 1


def window_params(g: Graph, node: Node):
    """(kernel, strides, dilations, pads t/l/b/r) of a windowed op."""
    a = node.attrs
    k = g.tensors[node.inputs[1]].shape[1:3] if node.op == "conv2d" else a["kernel"]
    return tuple(k), tuple(a["strides"]), tuple(a.get("dilations", (1, 1))), tuple(a["pads"])


def _spatial(g: Graph, t: str):
    s = g.tensors[t].shape
    return (s[1], s[2]) if len(s) == 4 else None


def patchable(g: Graph, node: Node) -> str | None:
    """None when `node` can run patch by patch, else why not (a few words)."""
    out = _spatial(g, node.outputs[0]) if len(node.outputs) == 1 else None
    if out is None or g.tensors[node.outputs[0]].shape[0] != 1:
        return "its output is not one NHWC feature map"
    if node.op in WINDOW_OPS:
        if _spatial(g, node.inputs[0]) is None:
            return "its input is not NHWC"
        if out == (1, 1):
            return "a global window (the whole map at once)"
        return None
    if node.op == "pad":
        pads = node.attrs["pads"]
        if node.attrs.get("mode", "constant") != "constant":
            return f"{node.attrs['mode']} padding reads across patches"
        if len(pads) != 4 or any(pads[0]) or any(pads[3]):
            return "padding of the batch or channel axis"
        return None
    if node.op in ELEMENTWISE:
        for t in node.inputs:
            if not t or g.tensors[t].is_const:
                continue
            sp = _spatial(g, t)
            if sp != out and not (sp is not None and sp[0] == 1 and sp[1] == 1):
                return "a broadcast input"
        return None
    return "no patch rule for this op"


def input_ranges(g: Graph, node: Node, box: Box) -> list[Box | None]:
    """The box each input of `node` needs to compute output `box` (None: read whole or const)."""
    why = patchable(g, node)
    if why is not None:
        from ..errors import UnsupportedOpError
        raise UnsupportedOpError(node.op, node.name, f"cannot be computed patch by patch: {why}")
    if node.op in WINDOW_OPS:
        (kh, kw), (sh, sw), (dh, dw), (pt, pl, _, _) = window_params(g, node)
        y0, y1 = _window_axis(box.y0, box.y1, kh, sh, dh, pt)
        x0, x1 = _window_axis(box.x0, box.x1, kw, sw, dw, pl)
        return [Box(y0, y1, x0, x1)] + [None] * (len(node.inputs) - 1)
    if node.op == "pad":
        pads = node.attrs["pads"]
        return [box.shift(-pads[1][0], -pads[2][0])]
    out = _spatial(g, node.outputs[0])
    return [box if t and not g.tensors[t].is_const and _spatial(g, t) == out else None for t in node.inputs]


def backward(g: Graph, nodes: list[Node], boxes: dict[str, Box]) -> dict[str, Box]:
    """Propagate output boxes back through `nodes` (in execution order): every tensor they read
    gets the hull of the boxes its readers need (unclipped: it may reach into padding; clip it
    with the tensor's size). `boxes` holds the wanted boxes of the nodes' outputs."""
    need = dict(boxes)
    for node in reversed(nodes):
        box = need.get(node.outputs[0])
        if box is None:
            continue
        for t, b in zip(node.inputs, input_ranges(g, node, box)):
            if b is not None:
                h, w = _spatial(g, t)
                inside, _ = b.clip(h, w)
                need[t] = inside.hull(need.get(t))
    return need
