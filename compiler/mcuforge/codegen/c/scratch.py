"""Scratch buffers of kernel variants (im2col columns, widened inputs), planned in the arena.

A layer whose kernel needs scratch sets params["scratch_bytes"]. Its scratch is a tensor like any
other whose lifetime is that one step, so the greedy planner can place it in a hole of the arena,
and it is counted in the arena size (and so in the reported SRAM)."""
from __future__ import annotations

from ...schedule.arena import ArenaPlan, plan_greedy_by_size
from ...schedule.lifetimes import Lifetime
from .layers.base import TensorRef

SCRATCH_ALIGN = 8


def place_scratch(plan: ArenaPlan, layers: list, refs: dict, replan: bool = True) -> ArenaPlan:
    """Give every layer's scratch an arena offset (params["scratch"], a TensorRef).

    replan: plan tensors and scratch together (offsets of tensors may move; refs are updated in
    place). With replan=False (a plan made by someone else, e.g. patch-based scheduling) the
    tensors keep their offsets and all scratch shares one region after them."""
    needs = [(i, l) for i, l in enumerate(layers) if l.params.get("scratch_bytes", 0) > 0]
    if not needs:
        return plan
    if replan:
        lts = list(plan.lifetimes) + [Lifetime(f"__scratch_{l.cid or i}", int(l.params["scratch_bytes"]), i, i)
                                      for i, l in needs]
        new = plan_greedy_by_size(lts)
        for ref in refs.values():
            if ref.kind == "arena" and ref.name in new.offsets:
                ref.offset = new.offsets[ref.name]
        offsets = {i: new.offsets[f"__scratch_{l.cid or i}"] for i, l in needs}
    else:
        base = (plan.size + SCRATCH_ALIGN - 1) // SCRATCH_ALIGN * SCRATCH_ALIGN
        top = base + max(int(l.params["scratch_bytes"]) for _, l in needs)
        new = ArenaPlan(dict(plan.offsets), top, list(plan.lifetimes))
        offsets = {i: base for i, _ in needs}
    for i, l in needs:
        l.params["scratch"] = TensorRef("arena", "uint8_t", f"__scratch_{l.cid or i}", offsets[i])
    return new
