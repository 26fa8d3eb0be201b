"""Arena planning with in-place overlaps, by search.

A placement order fixes the plan: each tensor takes the lowest offset that is legal against the
tensors placed before it, where "legal" is disjoint, or, for an (output, dying input) pair from
schedule/inplace.py, output offset <= input offset - gap. Greedy-by-size is one such order; here
several deterministic orders and a few hundred seeded random ones are tried (graphs on a
microcontroller have tens of tensors, so this takes milliseconds) and the smallest arena wins.
The result is never larger than plan_greedy_by_size, which is among the orders tried.
"""
from __future__ import annotations

import random

from .arena import ALIGN, ArenaPlan, _align
from .inplace import Overlap
from .lifetimes import Lifetime


def _forbidden(t: Lifetime, size_t: int, u: Lifetime, off_u: int, size_u: int, gap_tu, gap_ut):
    """Open intervals of offsets for t that clash with u placed at off_u. A gap is an int or
    "exact" (the pair may share bytes only when both start at the same offset)."""
    if not t.overlaps(u):
        return []
    if gap_tu == "exact" or gap_ut == "exact":      # off_u itself stays legal
        return [(off_u - size_t, off_u), (off_u, off_u + size_u)]
    if gap_tu is not None:      # t is the output, u its dying input: t may start gap below u
        return [(off_u - min(gap_tu, size_t), off_u + size_u)]
    if gap_ut is not None:      # u is the output, t its dying input: t may start gap above u
        return [(off_u - size_t, off_u + min(gap_ut, size_u))]
    return [(off_u - size_t, off_u + size_u)]


def _wish(off_u: int, gap, sign: int) -> int:
    return off_u if gap == "exact" else off_u + sign * gap


def place(lts: list[Lifetime], order: list[int], gaps: dict, prefer_overlap: bool) -> ArenaPlan:
    sizes = [_align(lt.size) for lt in lts]
    offsets: dict[int, int] = {}
    for i in order:
        t, st = lts[i], sizes[i]
        bad = []
        wishes = []
        for j, oj in offsets.items():
            g_tu = gaps.get((t.tensor, lts[j].tensor))
            g_ut = gaps.get((lts[j].tensor, t.tensor))
            bad += _forbidden(t, st, lts[j], oj, sizes[j], g_tu, g_ut)
            if g_tu is not None:
                wishes.append(_wish(oj, g_tu, -1))
            if g_ut is not None:
                wishes.append(_wish(oj, g_ut, +1))
        bad.sort()

        def legal(o):
            return o >= 0 and all(not (lo < o < hi) for lo, hi in bad)
        chosen = None
        if prefer_overlap:
            chosen = next((o for o in sorted(wishes) if legal(o)), None)
        if chosen is None:
            # the lowest legal offset is 0 or the upper end of some forbidden interval
            chosen = min(o for o in [0] + [hi for _, hi in bad] if legal(o))
        offsets[i] = chosen
    plan = ArenaPlan(lifetimes=list(lts))
    for i, o in offsets.items():
        plan.offsets[lts[i].tensor] = o
        plan.size = max(plan.size, o + sizes[i])
    return plan


def plan_with_overlaps(lts: list[Lifetime], overlaps: list[Overlap], tries: int = 300,
                       seed: int = 0, chains: bool = False, stop_at: int | None = None) -> ArenaPlan:
    gaps = {(ov.output, ov.input): "exact" if ov.exact else _align(ov.gap) for ov in overlaps}
    n = len(lts)
    idx = list(range(n))
    orders = [
        sorted(idx, key=lambda i: (-lts[i].size, lts[i].first, lts[i].tensor)),       # greedy by size
        sorted(idx, key=lambda i: (lts[i].first, -lts[i].size)),                      # execution order
        # reverse execution order: an output is placed before its input, which then sits `gap`
        # above it, so chains of in-place layers stack upward from offset 0
        sorted(idx, key=lambda i: (-lts[i].first, -lts[i].size)),
        sorted(idx, key=lambda i: (-lts[i].last, -lts[i].size)),
        sorted(idx, key=lambda i: (-(lts[i].size * (lts[i].last - lts[i].first + 1)), lts[i].first)),
        sorted(idx, key=lambda i: (-(lts[i].last - lts[i].first), -lts[i].size)),
    ]
    if chains:      # a patched graph's stage output (schedule/patches.py)
        orders.append(chains_first(lts, overlaps))
    rng = random.Random(seed)
    for _ in range(tries):
        o = idx[:]
        rng.shuffle(o)
        orders.append(o)
    best = None
    for order in orders:
        for prefer in (True, False):
            p = place(lts, order, gaps, prefer)
            if best is None or p.size < best.size:
                best = p
        if stop_at is not None and best is not None and best.size <= stop_at:
            break           # good enough for the caller (codegen/c/slack.py: no larger than before)
    if best is None:
        best = ArenaPlan(lifetimes=list(lts))
    best.overlaps = [ov for ov in overlaps if _overlapping(best, lts, ov)]
    return best


def chains_first(lts: list[Lifetime], overlaps: list[Overlap]) -> list[int]:
    """Tensors joined by in-place pairs (a chain: a patch stage's output pasted into patch by
    patch, a run of in-place layers) placed as one unit, the chain spanning the most steps first,
    each chain in reverse execution order (outputs before their inputs). No single tensor's own
    lifetime shows that the 16 KB stage output of a patched ic_resnet8 outlives its 3 KB input
    image; placed first it takes offset 0 and the image goes above it instead of under it.
    Tried for patched graphs only (chains=True from codegen/c/kernel_plan.py), so layer-wise plans
    stay what they were."""
    parent = {lt.tensor: lt.tensor for lt in lts}

    def root(t):
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t
    for ov in overlaps:
        if ov.output in parent and ov.input in parent:
            parent[root(ov.output)] = root(ov.input)
    span: dict[str, list[int]] = {}
    for lt in lts:
        r = span.setdefault(root(lt.tensor), [lt.first, lt.last, 0])
        r[0], r[1], r[2] = min(r[0], lt.first), max(r[1], lt.last), max(r[2], lt.size)
    key = {lt.tensor: span[root(lt.tensor)] for lt in lts}
    return sorted(range(len(lts)), key=lambda i: (-(key[lts[i].tensor][1] - key[lts[i].tensor][0]),
                                                  -key[lts[i].tensor][2], root(lts[i].tensor), -lts[i].first))


def _overlapping(plan: ArenaPlan, lts, ov: Overlap) -> bool:
    size = {lt.tensor: _align(lt.size) for lt in lts}
    a, b = plan.offsets[ov.output], plan.offsets[ov.input]
    return a < b + size[ov.input] and b < a + size[ov.output]


def check_plan(plan: ArenaPlan, overlaps: list[Overlap]) -> None:
    """Raise if two live tensors share bytes in a way no in-place rule allows."""
    gaps = {(ov.output, ov.input): ov for ov in overlaps}
    lts = plan.lifetimes
    for i, a in enumerate(lts):
        for b in lts[i + 1:]:
            if not a.overlaps(b):
                continue
            oa, ob = plan.offsets[a.tensor], plan.offsets[b.tensor]
            if oa + a.size <= ob or ob + b.size <= oa:
                continue
            if _allowed(gaps.get((a.tensor, b.tensor)), oa, ob) or _allowed(gaps.get((b.tensor, a.tensor)), ob, oa):
                continue
            raise AssertionError(f"arena plan: {a.tensor} and {b.tensor} overlap illegally")


def _allowed(ov: Overlap | None, out_off: int, in_off: int) -> bool:
    if ov is None:
        return False
    return out_off == in_off if ov.exact else out_off <= in_off - ov.gap


__all__ = ["plan_with_overlaps", "check_plan", "place", "ALIGN"]
