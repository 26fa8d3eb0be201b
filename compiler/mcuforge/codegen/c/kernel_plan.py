"""The arena plan that knows the chosen kernels: their scratch buffers and what they allow in place.

schedule/memory.py plans tensors alone, assuming every windowed kernel computes pixel by pixel.
Once the layers are built, each one states what its kernel variant really needs:
  - params["scratch_bytes"]: a buffer alive during its own step only;
  - params["inplace_safe"] = False: its output must not share bytes with its input;
  - params["inplace_exact"] = True: it may share them only when both start at the same offset
    (a channel-by-channel depthwise kernel writes each byte over a channel it has consumed).
Here those become one-step lifetimes and filtered overlaps, and the arena search runs again over
all of them, so scratch takes the holes the search leaves for it (at the peak step it can change
where the tensors go) instead of being added on top of a finished plan."""
from __future__ import annotations

import dataclasses

from ...schedule.arena import ArenaPlan
from ...schedule.arena_search import check_plan, plan_with_overlaps
from ...schedule.inplace import Overlap, overlaps
from ...schedule.lifetimes import Lifetime, arena_tensors, lifetimes


def scratch_name(layer, step: int) -> str:
    return f"__scratch_{layer.cid or step}"


def kernel_overlaps(ovs: list[Overlap], layers: list) -> list[Overlap]:
    """The in-place pairs each layer's kernel variant really allows."""
    by_output = {r.name: l for l in layers for r in l.outputs[:1]}
    out = []
    for ov in ovs:
        layer = by_output.get(ov.output)
        params = layer.params if layer is not None else {}
        if not params.get("inplace_safe", True):
            continue
        if params.get("inplace_exact", False):
            ov = dataclasses.replace(ov, gap=0, exact=True)
        out.append(ov)
    return out


def plan_with_kernels(g, order, layers: list, io_in_arena: bool = False, tries: int = 300,
                      stop_at: int | None = None) -> ArenaPlan:
    """Plan tensors and scratch together; layer i runs at step i of `order`. stop_at: the search
    ends at the first plan of at most that many bytes."""
    lts = lifetimes(g, order, io_in_arena)
    scratch = [Lifetime(scratch_name(l, i), int(l.params["scratch_bytes"]), i, i)
               for i, l in enumerate(layers) if l.params.get("scratch_bytes", 0) > 0]
    ovs = kernel_overlaps(overlaps(g, order, arena_tensors(g, io_in_arena)), layers)
    # a big graph (a patch stage's copies of its layers) can ask for fewer random orders
    plan = plan_with_overlaps(lts + scratch, ovs, tries=min(tries, g.meta.get("plan_tries", tries)),
                              chains="patches" in g.meta, stop_at=stop_at)
    check_plan(plan, ovs)
    return plan
