"""Training SRAM from our arena planner (schedule/), used by the automatic scheme search and the
budget check. wt-traincode's codegen plans the real arena; this is the same planner on the same
graph, so the figures agree up to the codegen's own scratch buffers.

- arena: saved activations, gradients and every other intermediate of the training step, in the
  graph's own order (updates right after their gradients), input and loss included (they live in
  the arena as tflite-micro does it), with the inference planner's in-place overlaps (an output
  over its input dying at that op). Update outputs alias their state tensors and take no arena.
- state: what lives in RAM for the whole program: trained parameter tensors (copied from flash at
  start, whole tensors), their float32 masters and momenta.
"""
from __future__ import annotations

from ..ir.graph import Graph
from ..schedule.arena_search import check_plan, plan_with_overlaps
from ..schedule.inplace import overlaps
from ..schedule.lifetimes import arena_tensors, lifetimes


def training_sram(g: Graph, tries: int = 20, in_place: bool = True) -> dict:
    meta = g.meta["train"]
    order = g.topo_order()
    aliases = {o for u in meta["update_nodes"] for o in g.node(u).outputs}
    lts = [lt for lt in lifetimes(g, order, io_in_arena=True) if lt.tensor not in aliases]
    ovs = overlaps(g, order, arena_tensors(g, True) - aliases) if in_place else []
    plan = plan_with_overlaps(lts, ovs, tries=tries)
    check_plan(plan, ovs)
    state = {"params": sum(g.tensors[t["param"]].nbytes for t in meta["trained"]),
             "masters": sum(g.tensors[t["master"]].nbytes for t in meta["trained"] if t["master"]),
             "momenta": sum(g.tensors[t["momentum"]].nbytes for t in meta["trained"] if t["momentum"])}
    saved = sum(g.tensors[t].nbytes for t in meta["saved"])
    bwd = set(meta["backward_nodes"])
    grads = sum(g.tensors[o].nbytes for n in order if n.name in bwd for o in n.outputs)
    total = plan.size + sum(state.values())
    return {"arena": int(plan.size), "state": {k: int(v) for k, v in state.items()},
            "saved_activations": int(saved), "gradients_total": int(grads), "total": int(total)}
