"""Training SRAM from our arena planner (schedule/), used by the automatic scheme search and the
budget check. wt-traincode's codegen plans the real arena; this is the same planner on the same
graph, so the figures agree up to the codegen's own scratch buffers.

- arena: saved activations, gradients and every other intermediate of the training step, in the
  graph's own order (updates right after their gradients), input and loss included (they live in
  the arena as tflite-micro does it), with the inference planner's in-place overlaps (an output
  over its input dying at that op). Update outputs alias their state tensors and take no arena.
- state: what lives in RAM for the whole program: trained parameter tensors (copied from flash at
  start; of an int8 weight trained on its first rows only those rows, the frozen rows stay in
  flash: `ram_rows`), their float32 masters and momenta.
"""
from __future__ import annotations

from ..ir.graph import Graph
from ..schedule.arena_search import check_plan, plan_with_overlaps
from ..schedule.inplace import overlaps
from ..schedule.lifetimes import arena_tensors, lifetimes


def ram_rows(g: Graph) -> dict[str, int]:
    """{trained int8 weight: rows kept in RAM} for weights trained on their first rows only
    (a partial-channel update): the C step keeps those rows in RAM and reads the frozen rest
    from flash. float32 mode keeps whole tensors."""
    out = {}
    for t in g.meta["train"]["trained"]:
        if t["kind"] == "weight" and t["rows"] < t["channels"] and g.tensors[t["param"]].dtype == "int8":
            out[t["param"]] = int(t["rows"])
    return out


def param_ram_bytes(g: Graph, name: str, rows: dict[str, int] | None = None) -> int:
    """RAM bytes of a trained parameter: the whole tensor, or its trained rows (ram_rows)."""
    t = g.tensors[name]
    r = (ram_rows(g) if rows is None else rows).get(name)
    return int(t.nbytes if r is None else t.nbytes // t.shape[0] * r)


def training_sram(g: Graph, tries: int = 20, in_place: bool = True) -> dict:
    meta = g.meta["train"]
    order = g.topo_order()
    aliases = {o for u in meta["update_nodes"] for o in g.node(u).outputs}
    lts = [lt for lt in lifetimes(g, order, io_in_arena=True) if lt.tensor not in aliases]
    ovs = overlaps(g, order, arena_tensors(g, True) - aliases) if in_place else []
    plan = plan_with_overlaps(lts, ovs, tries=tries)
    check_plan(plan, ovs)
    rows = ram_rows(g)
    state = {"params": sum(param_ram_bytes(g, t["param"], rows) for t in meta["trained"]),
             "masters": sum(g.tensors[t["master"]].nbytes for t in meta["trained"] if t["master"]),
             "momenta": sum(g.tensors[t["momentum"]].nbytes for t in meta["trained"] if t["momentum"])}
    saved = sum(g.tensors[t].nbytes for t in meta["saved"])
    bwd = set(meta["backward_nodes"])
    grads = sum(g.tensors[o].nbytes for n in order if n.name in bwd for o in n.outputs)
    total = plan.size + sum(state.values())
    return {"arena": int(plan.size), "state": {k: int(v) for k, v in state.items()},
            "saved_activations": int(saved), "gradients_total": int(grads), "total": int(total)}
