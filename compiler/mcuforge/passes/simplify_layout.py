"""Layout clean-up after import: transposes that only move size-1 axes are reshapes, chains of
reshapes collapse, and a transpose that feeds a flatten into a dense layer is absorbed by
permuting the dense weights' columns (the NHWC -> NCHW flatten costs nothing on the device).

Guarantees: no transpose that could be expressed as a reshape or a weight permutation."""
import numpy as np

from ..ir.graph import Graph, Node
from ..ir.ops import infer_node


def _moves_only_unit_axes(shape, perm) -> bool:
    real = [ax for ax in perm if shape[ax] != 1]
    return real == sorted(real)


def transpose_to_reshape(g: Graph) -> Graph:
    for n in g.topo_order():
        if n.op == "transpose" and _moves_only_unit_axes(g.tensors[n.inputs[0]].shape, n.attrs["perm"]):
            n.op, n.attrs = "reshape", {"shape": g.tensors[n.outputs[0]].shape}
    return g


def merge_reshapes(g: Graph) -> Graph:
    for n in g.topo_order():
        if n.op != "reshape" or n.name not in g.nx:
            continue
        prod = g.producer(n.inputs[0])
        if prod is not None and prod.op == "reshape" and len(g.consumers(n.inputs[0])) == 1 \
                and n.inputs[0] not in g.outputs:
            g.set_inputs(n, [prod.inputs[0]])
            g.remove_node(prod.name)
    # a reshape to the same shape is nothing, unless it is what a graph output is made of
    for n in g.topo_order():
        if n.op == "reshape" and g.tensors[n.inputs[0]].shape == g.tensors[n.outputs[0]].shape \
                and n.outputs[0] not in g.outputs:
            g.remove_node(n.name)
            g.replace_uses(n.outputs[0], n.inputs[0])
    g.prune_tensors()
    return g


def absorb_transpose_into_dense(g: Graph) -> Graph:
    for tr in [n for n in g.topo_order() if n.op == "transpose"]:
        users = g.consumers(tr.outputs[0])
        if len(users) != 1 or users[0].op != "reshape" or tr.outputs[0] in g.outputs:
            continue
        rs = users[0]
        dense_users = g.consumers(rs.outputs[0])
        flat_shape = g.tensors[rs.outputs[0]].shape
        if (len(flat_shape) != 2 or not dense_users or rs.outputs[0] in g.outputs
                or any(d.op != "dense" or d.inputs[0] != rs.outputs[0] for d in dense_users)):
            continue
        src_shape = g.tensors[tr.inputs[0]].shape
        batch = flat_shape[0]
        if src_shape[0] != batch or int(np.prod(src_shape[1:])) != flat_shape[1]:
            continue
        # column k of the flattened transposed tensor reads element index[k] of the source
        index = np.transpose(np.arange(int(np.prod(src_shape[1:]))).reshape((1,) + src_shape[1:]),
                             tr.attrs["perm"]).reshape(-1)
        for d in dense_users:
            w = g.tensors[d.inputs[1]]
            new = np.empty_like(w.data)
            new[:, index] = w.data
            nw = g.const(w.name + "_perm", new, w.dtype, w.quant)
            if "q_int" in w.meta:
                qi = np.empty_like(w.meta["q_int"])
                qi[:, index] = w.meta["q_int"]
                nw.meta["q_int"] = qi
            if "q_bits" in w.meta:  # a QONNX weight's grid (sub-byte layers) moves with it
                nw.meta["q_bits"] = w.meta["q_bits"]
            g.set_inputs(d, [d.inputs[0], nw.name] + d.inputs[2:])
        g.set_inputs(rs, [tr.inputs[0]])
        g.remove_node(tr.name)
    g.prune_tensors()
    return g


def simplify_layout(g: Graph) -> Graph:
    for p in (transpose_to_reshape, absorb_transpose_into_dense, merge_reshapes):
        g = p(g)
    return g


__all__ = ["simplify_layout", "transpose_to_reshape", "merge_reshapes", "absorb_transpose_into_dense",
           "Node", "infer_node"]
