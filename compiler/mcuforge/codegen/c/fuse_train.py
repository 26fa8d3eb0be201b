"""Forward fusion for the training step's frozen part: a pointwise (1x1) int8 convolution whose
only reader is a depthwise convolution becomes one `fused_pw_dw` node (kernel
mcf_fused_pw_dw_s8), so the expanded tensor of an inverted residual block is never stored whole;
its rows are made as the depthwise needs them (k_h rows of scratch). Only frozen layers whose
intermediate the backward does not read are fused; the bytes are those of the two layers."""
from __future__ import annotations

from ...ir.graph import Graph, Node
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
    second = {d: p for p, d in pairs.items()}
    out = Graph(g.name)
    out.tensors = dict(g.tensors)
    out.inputs, out.outputs, out.meta = list(g.inputs), list(g.outputs), g.meta
    rename = {}
    for n in order:
        if n.name in second:
            continue
        if n.name in pairs:
            d = g.node(pairs[n.name])
            fused = Node(f"{n.name}+{d.name}", "fused_pw_dw", list(n.inputs) + list(d.inputs[1:]), list(d.outputs),
                         {"pw": n, "dw": d})
            out.add_node(fused)
            rename[n.name] = rename[d.name] = fused.name
        else:
            out.add_node(Node(n.name, n.op, list(n.inputs), list(n.outputs), n.attrs))
    for u, v in g.nx.edges:
        u, v = rename.get(u, u), rename.get(v, v)
        if u != v and u in out.nx and v in out.nx and not out.nx.has_edge(u, v):
            out.nx.add_edge(u, v)
    return out


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
