"""A per-channel scale and shift kept as a layer of its own (QONNX's BatchNorm between Quant nodes:
Mul by a constant, then Add of a constant) becomes a 1x1 depthwise convolution: weights = the scale,
bias = the shift. In the fixed contract that is exact: the product x * s at F_x + F_s, the shift on
its own grid added to it (qonnx_fixed_types raises the weights' binary point where the shift's grid
is finer), one cast to the output type.

Requires: a float graph (constants not folded into the scale/shift), NHWC 4-D values.
Guarantees: no `mul` by a per-channel (or scalar) constant on a 4-D value remains; a following
`add` of such a constant, when the product feeds nothing else and carries no quantization of its
own, is the convolution's bias and its fused clamp the convolution's.
"""
from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Node
from ..ir.ops import infer_node


def _channel_const(g: Graph, name: str, channels: int):
    """(values [C], integers [C] or None) of a constant broadcast over the last axis of a 4-D value."""
    t = g.tensors[name]
    if t.data is None or t.data.size not in (1, channels) or t.data.ndim > 4:
        return None
    if t.data.size > 1 and t.data.shape[-1] != channels:
        return None
    q = t.meta.get("q_int")
    q = None if q is None else np.broadcast_to(np.asarray(q).reshape(-1), (channels,)).copy()
    return np.broadcast_to(np.asarray(t.data, np.float64).reshape(-1), (channels,)).copy(), q


def _operands(g: Graph, n: Node, channels: int):
    for i in (0, 1):
        x, c = n.inputs[i], n.inputs[1 - i]
        if g.tensors[x].data is None and g.tensors[c].data is not None:
            found = _channel_const(g, c, channels)
            if found is not None:
                return x, c, found
    return None


def _per_tensor(quant):
    return quant is not None and quant.scale.size == 1


def channel_affine_to_depthwise(g: Graph) -> Graph:
    for mul in [n for n in g.topo_order() if n.op == "mul"]:
        out = g.tensors[mul.outputs[0]]
        if len(out.shape) != 4:
            continue
        c = out.shape[-1]
        found = _operands(g, mul, c)
        if found is None or g.tensors[found[0]].shape != out.shape:
            continue
        x, s_name, (scale, s_int) = found
        s_t = g.tensors[s_name]
        w = g.const(g.unique(mul.name + "_dw_w"), scale.reshape(c, 1, 1, 1).astype(np.float32),
                    quant=s_t.quant if _per_tensor(s_t.quant) else None)
        if s_int is not None and _per_tensor(s_t.quant):
            w.meta["q_int"] = s_int.reshape(c, 1, 1, 1)
        ins, last = [x, w.name], mul
        readers = g.consumers(mul.outputs[0])
        if (len(readers) == 1 and readers[0].op == "add" and mul.outputs[0] not in g.outputs
                and out.quant is None and mul.attrs.get("act_min") is None and mul.attrs.get("act_max") is None):
            add = readers[0]
            other = _operands(g, add, c)
            if other is not None and other[0] == mul.outputs[0]:
                _, b_name, (shift, _) = other
                b_t = g.tensors[b_name]
                b = g.const(g.unique(add.name + "_dw_b"), shift.astype(np.float32),
                            quant=b_t.quant if _per_tensor(b_t.quant) else None)
                ins.append(b.name)
                last = add
        attrs = {"groups": c, "act_min": last.attrs.get("act_min"), "act_max": last.attrs.get("act_max")}
        node = Node(g.unique(mul.name + "_dw"), "conv2d", ins, list(last.outputs), attrs)
        for n in {mul.name: mul, last.name: last}.values():
            g.remove_node(n.name)
        g.add_node(node)
        infer_node(g, node)
    g.prune_tensors()
    return g
