"""Backward fusion of a head: mean_grad -> [act_grad] -> {grad_sum, conv2d_grad_weight,
conv2d_grad_input of a 1x1 convolution} becomes one `mean_pw_grad` node (ir/ops/train_fused.py),
so the gradient at the convolution's output is never stored (MobileNetV2-w0.35: the 80 KB
float32 gradient of its 1x1 conv to 1280 channels). Same bits as the unfused ops.

Applied by train/build.py's `assemble` whenever the pattern appears: the global mean's
gradient feeds (through the mask of a fused ReLU / ReLU6, if any) only the bias, weight and input
gradients of a 1x1, stride 1, unpadded, ungrouped convolution."""
from __future__ import annotations

from ..ir.graph import Graph, Node
from ..ir.ops import infer_node
from ..ir.ops.base import OPS


def _pointwise(n: Node) -> bool:
    a = n.attrs
    return (tuple(a.get("strides", (1, 1))) == (1, 1) and tuple(a.get("dilations", (1, 1))) == (1, 1)
            and tuple(a.get("pads", (0, 0, 0, 0))) == (0, 0, 0, 0) and a.get("groups", 1) == 1)


def _match(g: Graph, m: Node):
    """(nodes replaced, fused node) for a mean_grad node m, or None."""
    shape = tuple(m.attrs["in_shape"])
    if len(shape) != 4 or sorted(a % 4 for a in m.attrs["axes"]) != [1, 2]:
        return None
    group = [m]
    grad = m.outputs[0]
    readers = g.consumers(grad)
    y, act = "", {"act_min": None, "act_max": None}
    if len(readers) == 1 and readers[0].op == "act_grad" and readers[0].inputs[1] == grad:
        a = readers[0]
        if tuple(g.tensors[a.inputs[0]].shape) != shape:
            return None
        y, act = a.inputs[0], {"act_min": a.attrs["act_min"], "act_max": a.attrs["act_max"]}
        group.append(a)
        grad = a.outputs[0]
        readers = g.consumers(grad)
    if not readers or grad in g.outputs:
        return None
    parts = {}
    for r in readers:
        if r.op == "grad_sum" and r.inputs[0] == grad:
            kind = "bias"
        elif r.op == "conv2d_grad_weight" and r.inputs[1] == grad and tuple(r.attrs["kernel"]) == (1, 1) \
                and _pointwise(r):
            kind = "weight"
        elif r.op == "conv2d_grad_input" and r.inputs[0] == grad and _pointwise(r) \
                and g.tensors[r.inputs[1]].shape[1:3] == (1, 1) and tuple(r.attrs["in_shape"][:3]) == shape[:3]:
            kind = "input"
        else:
            return None
        if kind in parts:
            return None
        parts[kind] = r
    ci = None
    if "weight" in parts:
        ci = g.tensors[parts["weight"].inputs[0]].shape[3]
    if "input" in parts:
        c2 = g.tensors[parts["input"].inputs[1]].shape[3]
        if ci is not None and c2 != ci:
            return None
        ci = c2
    order = [k for k in ("bias", "weight", "input") if k in parts]
    attrs = dict(act, in_shape=shape, in_c=int(ci or 0),
                 bias_rows=int(parts["bias"].attrs["rows"]) if "bias" in parts else 0,
                 weight_rows=int(parts["weight"].attrs["rows"]) if "weight" in parts else 0,
                 input_grad=int("input" in parts))
    inputs = [m.inputs[0], y, parts["input"].inputs[1] if "input" in parts else "",
              parts["weight"].inputs[0] if "weight" in parts else ""]
    outputs = [parts[k].outputs[0] for k in order]
    fused = Node(f"{m.name}+pw_grad", "mean_pw_grad", inputs, outputs, attrs)
    return group + [parts[k] for k in order], fused


def merge_nodes(g: Graph, at: dict[str, Node], members: dict[str, str]) -> Graph:
    """A new graph in g's order (tensors and meta shared, g untouched) where node k of `at` is
    replaced by at[k] and the other nodes of `members` (old name -> merged node's name) are
    dropped; edges, control edges included, and sgd_update's `after` lists follow the renames."""
    out = Graph(g.name)
    out.tensors = dict(g.tensors)
    out.inputs, out.outputs, out.meta = list(g.inputs), list(g.outputs), g.meta
    for n in g.topo_order():
        if n.name in at:
            out.add_node(at[n.name])
            if at[n.name].op in OPS:          # codegen-only fusions have no IR op
                infer_node(out, at[n.name])
        elif n.name not in members:
            attrs = dict(n.attrs)
            if attrs.get("after"):
                attrs["after"] = list(dict.fromkeys(members.get(a, a) for a in attrs["after"]))
            out.add_node(Node(n.name, n.op, list(n.inputs), list(n.outputs), attrs))
    for u, v in g.nx.edges:
        u, v = members.get(u, u), members.get(v, v)
        if u != v and not out.nx.has_edge(u, v):
            out.nx.add_edge(u, v)
    return out


def fuse_head_backward(g: Graph) -> tuple[Graph, dict[str, str | None]]:
    """A new graph with every matching head fused, and the renames {old node name: fused node
    name (for the group's first node) or None (the others)}."""
    groups = []
    taken: set[str] = set()
    for n in g.topo_order():
        if n.op != "mean_grad":
            continue
        hit = _match(g, n)
        if hit and not any(x.name in taken for x in hit[0]):
            groups.append(hit)
            taken |= {x.name for x in hit[0]}
    if not groups:
        return g, {}
    at = {nodes[0].name: fused for nodes, fused in groups}
    members = {x.name: fused.name for nodes, fused in groups for x in nodes}
    return merge_nodes(g, at, members), {k: (v if k in at else None) for k, v in members.items()}
