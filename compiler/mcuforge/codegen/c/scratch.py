"""Scratch buffers of kernel variants (im2col columns, widened inputs), planned in the arena.

A layer whose kernel needs scratch sets params["scratch_bytes"]. Its scratch is a tensor like any
other that lives during that one step: it goes into the lowest hole of the arena plan that no
tensor alive at that step occupies (first fit), so the tensors keep their planned offsets (in-place
overlaps included) and the arena grows only if no hole is large enough. It is counted in the arena
size, and so in the reported SRAM."""
from __future__ import annotations

import dataclasses

from ...schedule.arena import ALIGN, ArenaPlan
from .layers.base import TensorRef


def _align(x: int) -> int:
    return (x + ALIGN - 1) // ALIGN * ALIGN


def _first_fit(plan: ArenaPlan, offsets: dict, first: int, last: int, nbytes: int, skip: str = "") -> int:
    busy = sorted((offsets[lt.tensor], offsets[lt.tensor] + _align(lt.size)) for lt in plan.lifetimes
                  if lt.tensor != skip and lt.tensor in offsets and lt.first <= last and first <= lt.last)
    off = 0
    for lo, hi in busy:
        if off + nbytes <= lo:
            break
        off = max(off, hi)
    return off


def separate_unsafe_inplace(plan: ArenaPlan, layers: list, refs: dict) -> ArenaPlan:
    """A kernel variant that does not compute pixel by pixel (params["inplace_safe"] is False) must
    not write over its input: if the plan let its output overlap its input (in-place), the output
    moves to the lowest offset free during its whole lifetime (refs are updated in place)."""
    offsets, size = dict(plan.offsets), plan.size
    lts = {lt.tensor: lt for lt in plan.lifetimes}
    for l in layers:
        exact = l.params.get("inplace_exact", False)
        if (l.params.get("inplace_safe", True) and not exact) or not l.outputs or not l.inputs:
            continue
        o, i = l.outputs[0], l.inputs[0]
        if o.kind != "arena" or i.kind != "arena" or o.name not in lts or i.name not in lts:
            continue
        a0, a1 = offsets[o.name], offsets[o.name] + _align(lts[o.name].size)
        b0, b1 = offsets[i.name], offsets[i.name] + _align(lts[i.name].size)
        # an "exact" kernel (params["inplace_exact"]) is safe over its input only at the same offset
        if a0 < b1 and b0 < a1 and not (exact and l.params.get("inplace_safe", True) and a0 == b0):
            lt = lts[o.name]
            new = _first_fit(plan, offsets, lt.first, lt.last, _align(lt.size), skip=o.name)
            offsets[o.name] = new
            size = max(size, new + _align(lt.size))
            for ref in refs.values():
                if ref.kind == "arena" and ref.name == o.name:
                    ref.offset = new
    return dataclasses.replace(plan, offsets=offsets, size=size)


def place_scratch(plan: ArenaPlan, layers: list, refs: dict) -> ArenaPlan:
    """Give every layer's scratch an arena offset (params["scratch"], a TensorRef) and return the
    plan with the arena size updated. Layer i runs at step i of the plan's lifetimes."""
    plan = separate_unsafe_inplace(plan, layers, refs)
    needs = [(i, l) for i, l in enumerate(layers) if l.params.get("scratch_bytes", 0) > 0]
    if not needs:
        return plan
    size = plan.size
    offsets = dict(plan.offsets)
    for i, l in needs:
        nbytes = _align(int(l.params["scratch_bytes"]))
        busy = sorted((plan.offsets[lt.tensor], plan.offsets[lt.tensor] + _align(lt.size))
                      for lt in plan.lifetimes if lt.first <= i <= lt.last and lt.tensor in plan.offsets)
        off = 0
        for lo, hi in busy:
            if off + nbytes <= lo:
                break
            off = max(off, hi)
        name = f"__scratch_{l.cid or i}"
        offsets[name] = off
        size = max(size, off + nbytes)
        l.params["scratch"] = TensorRef("arena", "uint8_t", name, off)
    return dataclasses.replace(plan, offsets=offsets, size=size)
