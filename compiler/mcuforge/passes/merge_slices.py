"""A slice of a slice is one slice (exporters write one Slice per axis: x[:, :, ::2, 1:] becomes
two). Requires: slice nodes with full per-axis attributes. Guarantees: no slice reads the output of
another slice that nothing else reads."""
from ..ir.graph import Graph


def merge_slices(g: Graph) -> Graph:
    for n in g.topo_order():
        if n.op != "slice" or n.name not in g.nx:
            continue
        inner = g.producer(n.inputs[0])
        if inner is None or inner.op != "slice" or n.inputs[0] in g.outputs or len(g.consumers(n.inputs[0])) != 1:
            continue
        a, b = inner.attrs, n.attrs
        n.attrs = {"starts": tuple(s1 + st1 * s2 for s1, st1, s2 in zip(a["starts"], a["steps"], b["starts"])),
                   "steps": tuple(st1 * st2 for st1, st2 in zip(a["steps"], b["steps"])),
                   "sizes": tuple(b["sizes"])}
        g.set_inputs(n, [inner.inputs[0]])
        g.remove_node(inner.name)
    g.prune_tensors()
    return g
