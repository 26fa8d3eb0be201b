"""A relu or clip that follows a conv, dense, add, mul or pooling (directly or through a reshape)
becomes that op's clamp.

Requires: float graph. Guarantees: such relu/clip nodes are gone; the producer carries
act_min/act_max (in real units), which every backend applies before writing the output."""
import numpy as np

from ..ir.graph import Graph

FUSES_INTO = {"conv2d", "dense", "add", "sub", "mul", "maxpool", "avgpool", "conv_transpose2d"}


def fuse_activation(g: Graph) -> Graph:
    for act in [n for n in g.topo_order() if n.op in ("relu", "clip")]:
        x = act.inputs[0]
        prod = g.producer(x)
        through = None   # a reshape between the producer and the activation (they commute)
        if prod is not None and prod.op == "reshape" and len(g.consumers(x)) == 1 and x not in g.outputs:
            inner = prod.inputs[0]
            p2 = g.producer(inner)
            if p2 is not None and p2.op in FUSES_INTO and len(g.consumers(inner)) == 1 and inner not in g.outputs:
                through, prod = inner, p2
        if (prod is None or prod.op not in FUSES_INTO or len(g.consumers(x)) != 1 or x in g.outputs):
            continue
        lo, hi = (0.0, np.inf) if act.op == "relu" else (act.attrs["min"], act.attrs["max"])
        old_lo = prod.attrs.get("act_min")
        old_hi = prod.attrs.get("act_max")
        prod.attrs["act_min"] = lo if old_lo is None else max(lo, old_lo)
        prod.attrs["act_max"] = (None if hi == np.inf else hi) if old_hi is None else min(hi, old_hi)
        if prod.attrs["act_min"] == -np.inf:
            prod.attrs["act_min"] = None
        g.remove_node(act.name)
        out_q = g.tensors[act.outputs[0]].quant
        g.replace_uses(act.outputs[0], x)
        if out_q is not None:
            g.tensors[x].quant = out_q
            if through is not None:
                g.tensors[through].quant = out_q
    g.prune_tensors()
    return g
