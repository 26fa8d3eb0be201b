"""Small float NHWC graphs for the patch-schedule tests, written op by op with the IR's API."""
from __future__ import annotations

import numpy as np

from mcuforge.ir.graph import Graph, Node
from mcuforge.ir.ops.base import infer_node
from mcuforge.ir.tensor import Tensor


class Builder:
    def __init__(self, h: int, w: int, c: int, seed: int = 0, name: str = "pg"):
        self.g = Graph(name)
        self.g.add_tensor(Tensor("x", (1, h, w, c)))
        self.g.inputs = ["x"]
        self.rng = np.random.default_rng(seed)
        self.last = "x"
        self.n = 0

    def _node(self, op, inputs, **attrs) -> str:
        self.n += 1
        out = f"t{self.n}"
        node = Node(f"{op}{self.n}", op, list(inputs), [out], dict(attrs))
        self.g.add_node(node)
        infer_node(self.g, node)
        self.last = out
        return out

    def conv(self, cout, k, stride=1, pads=(0, 0, 0, 0), dil=1, groups=1, src=None, relu=False):
        src = src or self.last
        cin = self.g.tensors[src].shape[-1]
        kh, kw = (k, k) if isinstance(k, int) else k
        w = self.g.const(f"w{self.n + 1}", self.rng.uniform(-1, 1, (cout, kh, kw, cin // groups)).astype(np.float32))
        b = self.g.const(f"b{self.n + 1}", self.rng.uniform(-0.2, 0.2, cout).astype(np.float32))
        attrs = dict(strides=(stride, stride), pads=tuple(pads), dilations=(dil, dil), groups=groups)
        if relu:
            attrs.update(act_min=0.0)
        return self._node("conv2d", [src, w.name, b.name], **attrs)

    def pool(self, op, k, stride=1, pads=(0, 0, 0, 0), src=None):
        return self._node(op, [src or self.last], kernel=(k, k), strides=(stride, stride), pads=tuple(pads))

    def pad(self, top, left, bottom, right, src=None, value=0.0):
        return self._node("pad", [src or self.last], pads=((0, 0), (top, bottom), (left, right), (0, 0)), value=value)

    def unary(self, op, src=None):
        return self._node(op, [src or self.last])

    def binary(self, op, a, b):
        return self._node(op, [a, b])

    def finish(self, outputs=None) -> Graph:
        self.g.outputs = list(outputs or [self.last])
        return self.g
