"""Execution order that minimizes the arena on branched graphs (ResNet shortcuts, concat trees).

Which branch runs first decides which tensors are alive together: in ResNet-8 running the 1x1
shortcut conv before the main branch's second conv frees the block input early. Small graphs
have few topological orders, so they are enumerated (up to a limit) and each is planned; bigger
graphs keep the deterministic order."""
from __future__ import annotations

import itertools

import networkx as nx

from ..ir.graph import Graph, Node

MAX_ORDERS = 200
# Planning one order costs about nodes^2; past FULL_SEARCH_NODES the number of orders shrinks so the
# total stays near that of a 24-node graph (200 orders of a 64-node transformer took over a minute;
# the MLPerf Tiny graphs have at most 31 nodes and 9 orders, so they are not affected).
FULL_SEARCH_NODES = 24


def order_limit(n_nodes: int) -> int:
    if n_nodes <= FULL_SEARCH_NODES:
        return MAX_ORDERS
    return max(1, MAX_ORDERS * FULL_SEARCH_NODES ** 2 // n_nodes ** 2)


def candidate_orders(g: Graph, limit: int | None = None) -> list[list[Node]]:
    base = g.topo_order()
    limit = order_limit(len(base)) if limit is None else limit
    if limit <= 1:
        return [base]
    orders = [base]
    seen = {tuple(n.name for n in base)}
    for names in itertools.islice(nx.all_topological_sorts(g.nx), limit):
        if tuple(names) not in seen:
            seen.add(tuple(names))
            orders.append([g.node(n) for n in names])
    return orders


def best_order(g: Graph, cost) -> list[Node]:
    """The candidate order with the lowest cost(order); ties keep the deterministic order."""
    best, best_cost = None, None
    for order in candidate_orders(g):
        c = cost(order)
        if best_cost is None or c < best_cost:
            best, best_cost = order, c
    return best


def apply_order(g: Graph, order: list[Node]) -> Graph:
    """Re-insert the nodes in `order`, so that g.topo_order() (insertion order breaks ties)
    returns exactly this order to every later consumer (the C backend, the report)."""
    if [n.name for n in order] == [n.name for n in g.topo_order()]:
        return g
    edges = list(g.nx.edges)
    for n in order:
        g.nx.remove_node(n.name)
    for n in order:
        g.nx.add_node(n.name, node=n)
    g.nx.add_edges_from(edges)
    assert [n.name for n in g.topo_order()] == [n.name for n in order]
    return g
