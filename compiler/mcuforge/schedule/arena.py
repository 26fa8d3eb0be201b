"""Static arena planning: give every intermediate tensor an offset so that tensors alive at the
same time never overlap. Greedy by size (largest first, lowest offset that fits), the planner
TFLite Micro uses, so our arena is never worse than that baseline."""
from __future__ import annotations

from dataclasses import dataclass, field

from .lifetimes import Lifetime

ALIGN = 8


def _align(x: int) -> int:
    return (x + ALIGN - 1) // ALIGN * ALIGN


@dataclass
class ArenaPlan:
    offsets: dict[str, int] = field(default_factory=dict)
    size: int = 0
    lifetimes: list[Lifetime] = field(default_factory=list)

    def peak_at(self, step: int) -> int:
        return sum(_align(lt.size) for lt in self.lifetimes if lt.first <= step <= lt.last)


def plan_greedy_by_size(lts: list[Lifetime]) -> ArenaPlan:
    plan = ArenaPlan(lifetimes=list(lts))
    placed: list[tuple[int, int, Lifetime]] = []  # (offset, end, lifetime)
    for lt in sorted(lts, key=lambda lt: (-lt.size, lt.first, lt.tensor)):
        size = _align(lt.size)
        busy = sorted((o, e) for o, e, other in placed if other.overlaps(lt))
        offset = 0
        for o, e in busy:
            if offset + size <= o:
                break
            offset = max(offset, e)
        placed.append((offset, offset + size, lt))
        plan.offsets[lt.tensor] = offset
        plan.size = max(plan.size, offset + size)
    return plan
