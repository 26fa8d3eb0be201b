"""The golden model: executes a Graph in numpy, float32 or with the exact int8 integer rules.

A node runs its integer semantics when its input or output is int8 (a quantized tensor) and its
float semantics otherwise, so one executor serves float graphs, int8 graphs and the boundary ops.
"""
from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Node
from ..ir.ops import get_op
from . import arith
from ..ir.ops.int16 import int16_semantics, is_int16_node


def is_integer_node(g: Graph, node: Node) -> bool:
    first_in = g.tensors[node.inputs[0]] if node.inputs and node.inputs[0] else None
    return (first_in is not None and first_in.dtype in ("int8", "int16")) or \
        g.tensors[node.outputs[0]].dtype in ("int8", "int16")


def integer_params(g: Graph, node: Node) -> dict:
    """The node's compile-time integer parameters: 16x8 ones when it touches int16, else int8."""
    if is_int16_node(g, node):
        return int16_semantics(node).params(node, g)
    return get_op(node.op).int8_params(node, g)


class Executor:
    def __init__(self, g: Graph):
        with arith.rounding(g.meta.get("requant")):
            self._init(g)

    def run(self, feeds: dict[str, np.ndarray], keep_all: bool = False) -> dict[str, np.ndarray]:
        with arith.rounding(self.g.meta.get("requant")):
            return self._run(feeds, keep_all)

    def _init(self, g: Graph):
        self.g = g
        self.order = g.topo_order()
        # `fixed` graphs (quant/fixed.py) carry raw int64 values and run every node's run_fixed
        self.fixed = g.meta.get("quant") == "fixed"
        if self.fixed:
            self.params = {n.name: get_op(n.op).fixed_params(n, g) for n in self.order}
        else:
            self.params = {n.name: integer_params(g, n) for n in self.order if is_integer_node(g, n)}
            self.int16 = {n.name for n in self.order if is_int16_node(g, n)}

    def _run(self, feeds: dict[str, np.ndarray], keep_all: bool) -> dict[str, np.ndarray]:
        g = self.g
        env: dict[str, np.ndarray] = {}
        for name in g.inputs:
            t = g.tensors[name]
            x = np.asarray(feeds[name])
            if tuple(x.shape) != t.shape:
                raise ValueError(f"input {name}: expected shape {t.shape}, got {x.shape}")
            env[name] = x.astype(t.np_dtype)
        for node in self.order:
            xs = [self._value(env, t) for t in node.inputs]
            op = get_op(node.op)
            if self.fixed:
                ys = op.run_fixed(node, xs, self.params[node.name])
            elif node.name in self.int16:
                ys = int16_semantics(node).run(node, xs, self.params[node.name])
            elif node.name in self.params:
                ys = op.run_int8(node, xs, self.params[node.name])
            else:
                ys = op.run_float(node, xs)
            for name, y in zip(node.outputs, ys):
                env[name] = np.asarray(y).astype(g.tensors[name].np_dtype)
        if keep_all:
            return env
        return {name: self._value(env, name) for name in g.outputs}

    def _value(self, env, name):
        if not name:
            return None
        if name in env:
            return env[name]
        t = self.g.tensors[name]
        if t.data is None:
            raise KeyError(f"tensor {name} has no value")
        return t.data


def run_graph(g: Graph, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return Executor(g).run(feeds)
