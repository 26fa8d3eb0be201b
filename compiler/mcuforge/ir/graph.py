"""The graph IR: op nodes in SSA form on a networkx.DiGraph, tensors by name.

Each node produces its own output tensors; an edge u -> v means v reads a tensor u writes.
Graph inputs and constants have no producer node.
"""
from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field

import networkx as nx

from .tensor import Tensor


@dataclass
class Node:
    name: str
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict = field(default_factory=dict)

    def __repr__(self):
        return f"{self.op}:{self.name}({', '.join(self.inputs)}) -> {', '.join(self.outputs)}"


class Graph:
    def __init__(self, name: str = "model"):
        self.name = name
        self.nx = nx.DiGraph()
        self.tensors: dict[str, Tensor] = {}
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.meta: dict = {}
        self._producer: dict[str, str] = {}
        self._uid = itertools.count()

    # -- tensors -----------------------------------------------------------------------------
    def add_tensor(self, t: Tensor) -> Tensor:
        if t.name in self.tensors:
            raise ValueError(f"tensor {t.name!r} defined twice")
        self.tensors[t.name] = t
        return t

    def const(self, name: str, data, dtype: str | None = None, quant=None) -> Tensor:
        import numpy as np
        data = np.asarray(data)
        dtype = dtype or str(data.dtype)
        return self.add_tensor(Tensor(self.unique(name), data.shape, dtype, data, quant))

    def unique(self, base: str) -> str:
        name = base
        while name in self.tensors or name in self.nx:
            name = f"{base}_{next(self._uid)}"
        return name

    # -- nodes -------------------------------------------------------------------------------
    @property
    def nodes(self) -> dict[str, Node]:
        return {n: d["node"] for n, d in self.nx.nodes(data=True)}

    def node(self, name: str) -> Node:
        return self.nx.nodes[name]["node"]

    def add_node(self, node: Node) -> Node:
        if node.name in self.nx:
            raise ValueError(f"node {node.name!r} defined twice")
        self.nx.add_node(node.name, node=node)
        for out in node.outputs:
            self._producer[out] = node.name
        self._connect(node)
        for out in node.outputs:
            for consumer in self.consumers(out):
                self.nx.add_edge(node.name, consumer.name)
        return node

    def _connect(self, node: Node):
        for t in node.inputs:
            p = self._producer.get(t)
            if p is not None and p in self.nx:
                self.nx.add_edge(p, node.name)

    def remove_node(self, name: str):
        node = self.node(name)
        for out in node.outputs:
            if self._producer.get(out) == name:
                del self._producer[out]
        self.nx.remove_node(name)

    def set_inputs(self, node: Node, inputs: list[str]):
        for pred in list(self.nx.predecessors(node.name)):
            self.nx.remove_edge(pred, node.name)
        node.inputs = list(inputs)
        self._connect(node)

    def producer(self, tensor: str) -> Node | None:
        p = self._producer.get(tensor)
        return self.node(p) if p is not None else None

    def consumers(self, tensor: str) -> list[Node]:
        return [n for n in self.nodes.values() if tensor in n.inputs]

    def replace_uses(self, old: str, new: str):
        """Every reader of `old` (and the graph outputs) reads `new` instead."""
        for n in self.consumers(old):
            self.set_inputs(n, [new if t == old else t for t in n.inputs])
        if old in self.outputs:
            self.outputs = [new if t == old else t for t in self.outputs]
            perms = self.meta.get("io_perm", {})
            if old in perms:  # the output's layout for the user moves with it
                perms[new] = perms.pop(old)

    def topo_order(self) -> list[Node]:
        # Deterministic: ties broken by insertion order.
        order = {n: i for i, n in enumerate(self.nx.nodes)}
        return [self.node(n) for n in nx.lexicographical_topological_sort(self.nx, key=order.get)]

    def prune_tensors(self):
        used = set(self.inputs) | set(self.outputs)
        for n in self.nodes.values():
            used.update(t for t in n.inputs if t)
            used.update(n.outputs)
        for name in list(self.tensors):
            if name not in used:
                del self.tensors[name]

    def copy(self) -> "Graph":
        return copy.deepcopy(self)

    def __repr__(self):
        lines = [f"Graph {self.name}: inputs {self.inputs} outputs {self.outputs}"]
        lines += [f"  {n}" for n in self.topo_order()]
        return "\n".join(lines)
