"""Exporters write some activations as small chains of elementwise ops; each chain becomes the one
op it computes, which in int8 is a single 256-entry table instead of several requantized steps:
- x * sigmoid(x)                    -> silu       (torch's SiLU / Swish)
- x * hardsigmoid(x) (1/6, 1/2)     -> hardswish  (the TorchScript exporter's HardSwish before opset 14)
- x * (erf(x / sqrt 2) + 1) * 1/2   -> gelu       (both torch exporters' exact GELU, any order of
                                                   the two multiplies)

Also: an n-input ONNX Max / Min arrives as a chain of two-input ops; when the model's QDQ gives
the chain's output a grid, the inner partial results take that grid too, so that int8 compares
every input on one grid as a single n-input op would (no extra rounding in between).

Requires: a float graph, constants folded (a division by a constant is a multiply already).
Guarantees: no such chain remains whose inner values are used elsewhere or carry a QDQ
quantization (a QDQ model quantizes each step; it is kept step by step to match its producer).
"""
import math

import numpy as np

from ..ir.graph import Graph, Node


def _scalar(g: Graph, name: str):
    t = g.tensors[name]
    if t.data is None or t.data.size != 1:
        return None
    return float(np.asarray(t.data).reshape(-1)[0])


def _private(g: Graph, tensor: str) -> bool:
    """Used by exactly one node, not a graph output, not QDQ-annotated: safe to fold away."""
    return len(g.consumers(tensor)) == 1 and tensor not in g.outputs and g.tensors[tensor].quant is None


def _mul_operands(g: Graph, n: Node):
    """(variable operand, scalar constant) of a mul by a scalar, else None."""
    if n.op != "mul":
        return None
    for i in (0, 1):
        c = _scalar(g, n.inputs[1 - i])
        if c is not None and g.tensors[n.inputs[i]].data is None:
            return n.inputs[i], c
    return None


def _replace(g: Graph, first: Node, last: Node, dead: list[Node], op: str, x: str, attrs: dict):
    """Put one `op` node computing last's output from x in place of the chain."""
    out = last.outputs[0]
    for n in dead:
        g.remove_node(n.name)
    g.add_node(Node(g.unique(first.name + f"_{op}"), op, [x], [out], attrs))


def _fuse_gate(g: Graph, n: Node) -> bool:
    """mul(x, f(x)) with f = sigmoid or hardsigmoid(1/6, 1/2)."""
    if n.op != "mul" or n.attrs.get("act_min") is not None or n.attrs.get("act_max") is not None:
        return False
    for i in (0, 1):
        x, gate = n.inputs[i], n.inputs[1 - i]
        p = g.producer(gate)
        if p is None or p.inputs[0] != x or not _private(g, gate):
            continue
        if p.op == "sigmoid":
            _replace(g, p, n, [p, n], "silu", x, {})
            return True
        if p.op == "hardsigmoid" and math.isclose(p.attrs["alpha"], 1 / 6, rel_tol=1e-6) \
                and math.isclose(p.attrs["beta"], 0.5, rel_tol=1e-6):
            _replace(g, p, n, [p, n], "hardswish", x, {})
            return True
    return False


def _fuse_gelu(g: Graph, erf: Node) -> bool:
    scaled = g.producer(erf.inputs[0])
    if scaled is None or not _private(g, erf.inputs[0]):
        return False
    m = _mul_operands(g, scaled)
    if m is None or not math.isclose(m[1], 1 / math.sqrt(2), rel_tol=1e-5):
        return False
    x = m[0]
    if not _private(g, erf.outputs[0]):
        return False
    add = g.consumers(erf.outputs[0])[0]
    if add.op != "add" or _scalar(g, add.inputs[1 if add.inputs[0] == erf.outputs[0] else 0]) != 1.0:
        return False
    a = add.outputs[0]
    if not _private(g, a):
        return False
    m1 = g.consumers(a)[0]
    if m1.op != "mul" or not _private(g, m1.outputs[0]):
        return False
    other = m1.inputs[1] if m1.inputs[0] == a else m1.inputs[0]
    nxt = g.consumers(m1.outputs[0])[0]
    if other == x:                                           # (x * a) * 0.5
        h = _mul_operands(g, nxt)
        ok = h is not None and h[0] == m1.outputs[0] and h[1] == 0.5
    elif _scalar(g, other) == 0.5:                           # x * (a * 0.5)
        ok = nxt.op == "mul" and set(nxt.inputs) == {x, m1.outputs[0]}
    else:                                                    # (x * 0.5) * a
        hp = g.producer(other)
        h = _mul_operands(g, hp) if hp is not None else None
        ok = h is not None and h[0] == x and h[1] == 0.5 and _private(g, other)
        if ok:
            _replace(g, scaled, m1, [scaled, erf, add, hp, m1], "gelu", x, {"approximate": "none"})
            return True
        return False
    if not ok or nxt.attrs.get("act_min") is not None or nxt.attrs.get("act_max") is not None:
        return False
    _replace(g, scaled, nxt, [scaled, erf, add, m1, nxt], "gelu", x, {"approximate": "none"})
    return True


def _share_maxmin_grid(g: Graph):
    for n in reversed(g.topo_order()):
        if n.op not in ("max", "min") or g.tensors[n.outputs[0]].quant is None:
            continue
        for i in n.inputs:
            p = g.producer(i)
            if p is not None and p.op == n.op and g.tensors[i].quant is None and _private_but_quant(g, i):
                g.tensors[i].quant = g.tensors[n.outputs[0]].quant


def _private_but_quant(g: Graph, tensor: str) -> bool:
    return len(g.consumers(tensor)) == 1 and tensor not in g.outputs


def fuse_elementwise(g: Graph) -> Graph:
    if g.meta.get("quant") == "int8":
        return g
    _share_maxmin_grid(g)
    changed = True
    while changed:
        changed = False
        for n in g.topo_order():
            if n.name not in g.nodes:
                continue
            if (n.op == "erf" and _fuse_gelu(g, n)) or _fuse_gate(g, n):
                changed = True
    g.prune_tensors()
    return g
