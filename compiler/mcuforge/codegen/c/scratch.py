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


def place_scratch(plan: ArenaPlan, layers: list, refs: dict) -> ArenaPlan:
    """Give every layer's scratch an arena offset (params["scratch"], a TensorRef) and return the
    plan with the arena size updated. Layer i runs at step i of the plan's lifetimes."""
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
