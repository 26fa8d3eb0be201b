"""The memory planner the backend calls: execution order + in-place overlaps + arena search.

    order, plan = plan_memory(g)     # also reorders g: g.topo_order() == order afterwards

With io_in_arena the graph's inputs and outputs are planned in the arena like any other tensor.
plan.offsets gives each arena tensor its byte offset, plan.size the arena, plan.overlaps the
in-place pairs the plan actually uses (output written over its dying input)."""
from __future__ import annotations

from ..ir.graph import Graph, Node
from .arena import ArenaPlan
from .arena_search import check_plan, plan_with_overlaps
from .inplace import overlaps
from .lifetimes import arena_tensors, lifetimes
from .order import apply_order, best_order


def plan_for_order(g: Graph, order: list[Node], tries: int = 300, in_place: bool = True,
                   io_in_arena: bool = False) -> ArenaPlan:
    lts = lifetimes(g, order, io_in_arena)
    ovs = overlaps(g, order, arena_tensors(g, io_in_arena)) if in_place else []
    plan = plan_with_overlaps(lts, ovs, tries=tries)
    check_plan(plan, ovs)
    return plan


def plan_memory(g: Graph, in_place: bool = True, search_order: bool = True,
                io_in_arena: bool = False) -> tuple[list[Node], ArenaPlan]:
    order = g.topo_order()
    # a patched graph (schedule/patches.py) keeps its order: patch by patch, then the rest
    if search_order and not g.meta.get("fixed_order"):
        order = best_order(g, lambda o: plan_for_order(g, o, tries=20, in_place=in_place,
                                                       io_in_arena=io_in_arena).size)
        apply_order(g, order)
    return order, plan_for_order(g, order, tries=g.meta.get("plan_tries", 300), in_place=in_place,
                                 io_in_arena=io_in_arena)
