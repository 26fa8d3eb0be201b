"""Random layer configurations for the three-way bit-exactness tests: a float graph of random
conv / depthwise / residual add / pooling / dense layers with random weights, then the fixed
scheme with random widths, binary points pushed too high or too low (so saturation and wrapping
happen) and random rounding and overflow modes per tensor."""
from __future__ import annotations

import numpy as np

from mcuforge.ir.graph import Graph, Node
from mcuforge.ir.ops import infer_shapes
from mcuforge.ir.tensor import Tensor
from mcuforge.quant.calibrate import calibrate
from mcuforge.quant.fixed import quantize_fixed
from mcuforge.reference.fixed_arith import FixedType


class Builder:
    def __init__(self, rng, shape):
        self.rng, self.g = rng, Graph("random")
        self.g.add_tensor(Tensor("x", shape))
        self.g.inputs = ["x"]
        self.cur, self.n = "x", 0

    def shape(self, t=None):
        return self.g.tensors[t or self.cur].shape

    def node(self, op, inputs, attrs):
        self.n += 1
        out = f"t{self.n}"
        self.g.add_node(Node(f"{op}{self.n}", op, inputs, [out], attrs))
        infer_shapes(self.g)
        return out

    def act(self):
        return [{}, {"act_min": 0.0}, {"act_min": 0.0, "act_max": 1.5}][self.rng.integers(3)]

    def conv(self, src, cout, k, stride, pad, groups=1):
        cin = self.shape(src)[3]
        w = self.g.const("w", self.rng.normal(0, 0.6, (cout, k, k, cin // groups)).astype(np.float32))
        b = self.g.const("b", self.rng.normal(0, 0.3, cout).astype(np.float32))
        return self.node("conv2d", [src, w.name, b.name], {"strides": (stride, stride), "pads": pad,
                                                           "groups": groups, **self.act()})


def random_float_graph(seed: int) -> Graph:
    rng = np.random.default_rng(seed)
    hw = int(rng.choice([5, 6, 8]))
    b = Builder(rng, (1, hw, hw, int(rng.choice([1, 2, 3]))))
    k = int(rng.choice([1, 2, 3]))
    pad = tuple(int(v) for v in rng.integers(0, k, 4)) if k > 1 else (0, 0, 0, 0)
    b.cur = b.conv("x", 4, k, int(rng.choice([1, 2])), pad)
    if rng.random() < 0.7:  # depthwise
        b.cur = b.conv(b.cur, 4, 3, 1, (1, 1, 1, 1), groups=4)
    if rng.random() < 0.7:  # residual add over a 1x1 conv
        branch = b.conv(b.cur, 4, 1, 1, (0, 0, 0, 0))
        b.cur = b.node(str(rng.choice(["add", "sub"])), [b.cur, branch], b.act())
    if b.shape()[1] >= 4 and rng.random() < 0.8:
        op = str(rng.choice(["maxpool", "avgpool"]))
        b.cur = b.node(op, [b.cur], {"kernel": (2, 2), "strides": (2, 2), "pads": (0, 0, 0, 0)})
    n = int(np.prod(b.shape()))
    flat = b.node("reshape", [b.cur], {"shape": (1, n)})
    w = b.g.const("fc_w", rng.normal(0, 0.5, (6, n)).astype(np.float32))
    bias = b.g.const("fc_b", rng.normal(0, 0.3, 6).astype(np.float32))
    b.cur = b.node("dense", [flat, w.name, bias.name], b.act())
    b.g.outputs = [b.cur]
    return b.g


def random_fixed_graph(seed: int) -> Graph:
    rng = np.random.default_rng(seed + 1000)
    g = random_float_graph(seed)
    samples = [{"x": rng.uniform(-2, 2, g.tensors["x"].shape).astype(np.float32)} for _ in range(16)]
    ranges = calibrate(g, samples)
    modes = lambda: (str(rng.choice(["rnd", "trn"])), str(rng.choice(["sat", "wrap"])))  # noqa: E731
    base = quantize_fixed(g, ranges, int(rng.integers(8, 25)), int(rng.integers(4, 13)), *modes())
    overrides = {}
    for n in base.topo_order():
        t = n.outputs[0]
        if n.op in ("conv2d", "dense", "add", "sub") and rng.random() < 0.6:
            ft = base.tensors[t].meta["fixed"]
            width = int(rng.integers(6, 33))
            frac = width - ft.int_bits + int(rng.integers(-2, 3))  # +: too few integer bits -> overflow
            overrides[t] = FixedType(width, frac, *modes())
    return quantize_fixed(g, ranges, base.meta["fixed_config"]["act_bits"],
                          base.meta["fixed_config"]["weight_bits"], base.meta["fixed_config"]["rounding"],
                          base.meta["fixed_config"]["overflow"], overrides)
