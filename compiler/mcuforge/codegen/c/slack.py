"""Scratch sized from the arena's slack: a kernel that runs faster with more scratch (the DSP
sub-byte convolution: larger channel blocks, the columns of more pixel pairs kept while the blocks
cycle; codegen/c/variants/dsp_subbyte.py) asks for it with params["scratch_grows"], and gets what
the plan can give at its step without raising the arena's peak.

Once the kernels are chosen and the arena planned, such a layer's slack is the arena's size minus
the bytes live at its step (its own scratch included; in-place pairs counted twice, so the figure
is on the safe side). The layer is built again with its scratch budget raised by that slack
(params["scratch_budget"], read by the variant's prepare), and the whole arena planned again; if
the plan grew (holes do not merge as the sum assumes), a smaller share of it (FRACTIONS) is tried,
and after the last the first plan stays. So the arena never grows, and a layer off the peak gets the
scratch the peak leaves free."""
from __future__ import annotations

from ...schedule.arena import ALIGN
from .kernel_plan import plan_with_kernels

FRACTIONS = (1.0, 0.75, 0.5, 0.25)       # shares of the slack tried in turn


def step_slack(plan, step: int) -> int:
    """Bytes of the arena not held by the buffers live at `step` (summed, aligned)."""
    return plan.size - plan.peak_at(step)


def grow_scratch(g, order, layers: list, plan, selector, build_all, io_in_arena: bool):
    """(layers, plan) with the scratch_grows layers' budgets raised by their slack, the arena's
    size never above plan.size (see the module's doc)."""
    grow = [(i, l) for i, l in enumerate(layers) if l.params.get("scratch_grows")]
    slack = {l.node.name: (int(l.params.get("scratch_bytes", 0)), step_slack(plan, i)) for i, l in grow}
    slack = {name: (own, free) for name, (own, free) in slack.items() if free >= 64}
    if not slack:
        return layers, plan
    before = dict(selector.scratch_budget)
    for frac in FRACTIONS:
        for name, (own, free) in slack.items():
            selector.scratch_budget[name] = own + int(free * frac) // ALIGN * ALIGN
        cand = build_all()
        cand_plan = plan_with_kernels(g, order, cand, io_in_arena, stop_at=plan.size)
        if cand_plan.size <= plan.size:
            return cand, cand_plan
    selector.scratch_budget.clear()
    selector.scratch_budget.update(before)
    return build_all(), plan
