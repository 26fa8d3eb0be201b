"""SRAM before speed: replace the kernel of a layer whose scratch sets the arena's peak, until
the arena fits a budget (0: as small as this gets it).

The fastest variant of a kernel often needs the most scratch (the DSP convolution's two int16
columns, the Cortex-M3 one's gathered patches). At most steps the scratch fits in a hole of the
plan, but where it lies on top of the peak it costs arena bytes. Each round finds the layers whose
scratch reaches the arena's end, passes them over to their next fitting variant (the portable
kernel, which needs none, comes last) and plans again; a round that does not shrink the arena is
undone and ends the search. Layers off the peak keep their fastest kernel."""
from __future__ import annotations

from ...schedule.arena import ALIGN
from .kernel_plan import plan_with_kernels, scratch_name

MAX_ROUNDS = 8


def peak_scratch_layers(layers: list, plan) -> list:
    """Layers with scratch at a step where the live buffers reach the arena's end."""
    out = []
    for i, l in enumerate(layers):
        if l.params.get("scratch_bytes", 0) <= 0:
            continue
        top = max(plan.offsets[lt.tensor] + lt.size for lt in plan.lifetimes if lt.first <= i <= lt.last)
        if top > plan.size - ALIGN:
            out.append(l)
    return out


def lean_peak(g, order, layers, plan, selector, build_all, io_in_arena: bool, budget: int = 0):
    for _ in range(MAX_ROUNDS):
        if plan.size <= budget:
            break
        peak = peak_scratch_layers(layers, plan)
        if not peak:
            break
        before = dict(selector.skip)
        for l in peak:
            selector.skip[l.node.name] = selector.skip.get(l.node.name, 0) + 1
        cand = build_all()
        cand_plan = plan_with_kernels(g, order, cand, io_in_arena)
        if cand_plan.size >= plan.size:
            selector.skip.clear()
            selector.skip.update(before)
            layers = build_all()      # the kernels of the kept plan (prepare() sets their params)
            break
        layers, plan = cand, cand_plan
    return layers, plan
