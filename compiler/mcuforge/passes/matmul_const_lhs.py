"""A matmul whose LEFT operand is a constant matrix becomes a dense layer between two transposes.

MatMul(C, X) with C constant [M, K] and X an activation [..., K, N] is (X^T C^T)^T: transpose X's
last two axes to [..., N, K], a dense layer with C as its weights ([out = M][in = K], the dense
op's layout) gives [..., N, M], and a transpose back gives [..., M, N]. (A constant right operand
is a dense layer already, frontend/onnx_reduce.py.) As a dense layer the constant gets the weight
layers' treatment: per output channel int8 scales, sub-byte widths (--weight-bits 4 / 2 / mixed)
and their kernels; as a matmul it stays an int8 operand with one scale.

Requires: float graph (the constant without quantization parameters). Guarantees: no matmul with a
constant 2-D left operand; the float function is unchanged (the activation clamp moves to the
dense layer: it commutes with the transpose). Run by api.prepare_graph where sub-byte widths are
asked for; the int8 path of other models keeps its matmul."""
from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Node
from ..ir.tensor import Tensor


def matmul_const_lhs(g: Graph) -> Graph:
    for n in [n for n in g.topo_order() if n.op == "matmul"]:
        c, x = (g.tensors[t] for t in n.inputs[:2])
        if c.data is None or c.quant is not None or c.dtype != "float32" or len(c.shape) != 2 \
                or x.data is not None or len(x.shape) < 2:
            continue
        rank = len(x.shape)
        perm = tuple(range(rank - 2)) + (rank - 1, rank - 2)
        xt = g.add_tensor(Tensor(g.unique(n.name + "_xT"), tuple(x.shape[i] for i in perm), x.dtype))
        yt = g.add_tensor(Tensor(g.unique(n.name + "_yT"), xt.shape[:-1] + (c.shape[0],), x.dtype))
        w = g.const(n.name + "_w", np.asarray(c.data, np.float32), "float32")
        out = n.outputs[0]
        g.remove_node(n.name)
        g.add_node(Node(g.unique(n.name + "_T_in"), "transpose", [x.name], [xt.name], {"perm": perm}))
        g.add_node(Node(n.name, "dense", [xt.name, w.name], [yt.name],
                        {"act_min": n.attrs.get("act_min"), "act_max": n.attrs.get("act_max")}))
        g.add_node(Node(g.unique(n.name + "_T_out"), "transpose", [yt.name], [out], {"perm": perm}))
    g.prune_tensors()
    return g
