"""Forward fusion for the training step's frozen part: a pointwise (1x1) int8 convolution whose
only reader is a depthwise convolution becomes one `fused_pw_dw` node (kernel
mcf_fused_pw_dw_s8), so the expanded tensor of an inverted residual block is never stored whole;
its rows are made as the depthwise needs them (k_h rows of scratch). Only frozen layers whose
intermediate the backward does not read are fused; the bytes are those of the two layers.
And the backward's weight gradients run inside their updates (fuse_gradient_updates)."""
from __future__ import annotations

from ...ir.graph import Graph, Node
from ...train.fuse_backward import merge_nodes
from .layers.base import Layer, TensorRef, builder
from .layers.conv import conv2d_s8


def _is_pointwise(g: Graph, n: Node) -> bool:
    if n.op != "conv2d" or g.tensors[n.outputs[0]].dtype != "int8":
        return False
    w = g.tensors[n.inputs[1]]
    a = n.attrs
    return (w.shape[1:3] == (1, 1) and a["groups"] == 1 and tuple(a["strides"]) == (1, 1)
            and tuple(a["pads"]) == (0, 0, 0, 0))


def _is_depthwise(g: Graph, n: Node) -> bool:
    if n.op != "conv2d" or g.tensors[n.outputs[0]].dtype != "int8":
        return False
    x, w = g.tensors[n.inputs[0]], g.tensors[n.inputs[1]]
    return n.attrs["groups"] == x.shape[-1] and w.shape[3] == 1


def fuse_pointwise_depthwise(g: Graph, keep: set[str]) -> Graph:
    """A new graph (tensors shared) with every eligible pair fused; `keep`: tensors that must
    stay (saved activations, state, graph I/O)."""
    order = g.topo_order()
    pairs: dict[str, str] = {}
    for n in order:
        if not _is_pointwise(g, n) or any(t in keep for t in n.inputs[1:]):
            continue
        mid = n.outputs[0]
        readers = g.consumers(mid)
        if mid in keep or len(readers) != 1 or not _is_depthwise(g, readers[0]):
            continue
        d = readers[0]
        if any(t in keep for t in d.inputs[1:]):
            continue
        pairs[n.name] = d.name
    if not pairs:
        return g
    at, members = {}, {}
    for p, d in pairs.items():
        pn, dn = g.node(p), g.node(d)
        at[p] = Node(f"{p}+{d}", "fused_pw_dw", list(pn.inputs) + list(dn.inputs[1:]), list(dn.outputs),
                     {"pw": pn, "dw": dn})
        members[p] = members[d] = at[p].name
    return merge_nodes(g, at, members)


GRAD_OPS = ("conv2d_grad_weight", "dense_grad_weight")


def fuse_gradient_updates(g: Graph) -> Graph:
    """A weight gradient whose only reader is its sgd_update runs inside that update, one output
    channel (row) at a time: the row's gradient is made in a row-sized scratch buffer and applied
    at once (kernel mcf_wgrad_sgd_update), so the whole gradient (the classifier's 10 x 1280
    float32 = 51 KB in MobileNetV2) is never stored. The node sits where the update was (after
    every reader of the old weights); same kernels, same order per element, same bits."""
    at, members = {}, {}
    for u in g.nodes.values():
        if u.op != "sgd_update":
            continue
        w = g.producer(u.inputs[0])
        if w is None or w.op not in GRAD_OPS or u.inputs[0] in g.outputs or len(g.consumers(u.inputs[0])) != 1:
            continue
        at[u.name] = Node(f"{w.name}+update", "wgrad_update", list(w.inputs) + list(u.inputs[1:]), list(u.outputs),
                          {"grad": w, "update": u, "inplace_of": u.attrs["inplace_of"]})
        members[u.name] = members[w.name] = at[u.name].name
    return merge_nodes(g, at, members) if at else g


@builder("fused_pw_dw", "int8")
def fused_pw_dw(ctx, node, cid):
    pw, dw = node.attrs["pw"], node.attrs["dw"]
    mid = pw.outputs[0]
    ctx.refs.setdefault(mid, TensorRef("sym", ctx.g.tensors[mid].c_type, "NULL"))
    lp = conv2d_s8(ctx, pw, cid + "p")
    ld = conv2d_s8(ctx, dw, cid + "d")
    lp.cid, ld.cid = cid + "p", cid + "d"
    win = ld.params["win"]
    params = {"pw": lp, "dw": ld, "scratch_bytes": win["k_h"] * win["in_w"] * win["in_c"]}
    sources = sorted(set(lp.sources) | set(ld.sources) | {"mcf_fused_pw_dw_s8.c"})
    return Layer(node, "fused_pw_dw", "mcf_fused_pw_dw_s8", sources, [ctx.refs[node.inputs[0]]],
                 [ctx.refs[node.outputs[0]]], params, lp.arrays + ld.arrays, macs=lp.macs + ld.macs)
