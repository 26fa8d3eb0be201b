"""Kernel choice from both costs: replace the kernel of a layer whose scratch sets the arena's
peak, until the arena fits a budget (lean_peak; 0: as small as this gets it) or, by default, where
the bytes it saves are worth the instructions it costs (pareto_peak).

The fastest variant of a kernel often needs the most scratch (the DSP convolution's two int16
columns, the Cortex-M3 one's gathered patches). At most steps the scratch fits in a hole of the
plan, but where it lies on top of the peak it costs arena bytes. Each round finds the layers whose
scratch reaches the arena's end, passes them over to their next fitting variant (the portable
kernel, which needs none, comes last) and plans again; a round that does not shrink the arena is
undone and ends the search. Layers off the peak keep their fastest kernel."""
from __future__ import annotations

from ...schedule.arena import ALIGN
from .cost import model_instructions
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


def pareto_peak(g, order, layers, plan, selector, build_all, io_in_arena: bool):
    """The default (no memory flags): walk the same rounds as lean_peak down to the smallest arena,
    each round a point (arena bytes A, modelled instructions N, codegen/c/cost.py), and keep the
    point with the smallest product A x N.

    The rule: a leaner round is taken when the fraction of the arena it saves is larger than the
    fraction of instructions it adds (A' N' < A N), i.e. the knee of the (log A, log N) front,
    where its slope passes -1. It weighs a byte and an instruction by their share of the whole,
    so it needs no exchange rate and does not change with the model's size; a round that saves
    little SRAM on a fast model (ic_resnet8's 3x3 convolutions: 1.5 % of the arena for 1.6x the
    instructions) is refused, one that saves most of it for a little time (ad_fcae's fully
    connected layers: 5x smaller for 1.3x) is taken. Only points the rounds reach are candidates,
    and each is Pareto-optimal among them or it would not minimise the product. Returns
    (layers, plan, points) with points = [(arena, instructions, chosen)] for the report."""
    pts = [(plan.size, model_instructions(layers, g), dict(selector.skip), layers, plan)]
    for _ in range(MAX_ROUNDS):
        peak = peak_scratch_layers(layers, plan)
        if not peak:
            break
        for l in peak:
            selector.skip[l.node.name] = selector.skip.get(l.node.name, 0) + 1
        cand = build_all()
        cand_plan = plan_with_kernels(g, order, cand, io_in_arena)
        if cand_plan.size >= plan.size:
            break
        layers, plan = cand, cand_plan
        pts.append((plan.size, model_instructions(layers, g), dict(selector.skip), layers, plan))
    best = min(range(len(pts)), key=lambda i: (pts[i][0] * pts[i][1], i))
    selector.skip.clear()
    selector.skip.update(pts[best][2])
    layers = build_all()      # the kernels of the kept point (prepare() sets their params)
    points = [{"arena_bytes": a, "instructions_model": int(n), "chosen": i == best}
              for i, (a, n, *_rest) in enumerate(pts)]
    return layers, pts[best][4], points
