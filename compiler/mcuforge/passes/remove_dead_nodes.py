"""Drop nodes whose outputs never reach a graph output, and tensors nobody uses.

Guarantees: every node contributes to some graph output."""
import networkx as nx

from ..ir.graph import Graph


def remove_dead_nodes(g: Graph) -> Graph:
    live = set()
    for out in g.outputs:
        p = g.producer(out)
        if p is not None:
            live.add(p.name)
            live.update(nx.ancestors(g.nx, p.name))
    for name in list(g.nodes):
        if name not in live:
            g.remove_node(name)
    g.prune_tensors()
    return g
