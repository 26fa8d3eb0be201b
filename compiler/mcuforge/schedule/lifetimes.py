"""Which tensors need arena memory, and from which step to which step of the execution order."""
from __future__ import annotations

from dataclasses import dataclass

from ..ir.graph import Graph, Node


@dataclass
class Lifetime:
    tensor: str
    size: int        # bytes
    first: int       # step that writes it
    last: int        # last step that reads it

    def overlaps(self, other: "Lifetime") -> bool:
        return self.first <= other.last and other.first <= self.last


def arena_tensors(g: Graph) -> set[str]:
    """Intermediate activations: not constants, not the caller's input and output buffers."""
    io = set(g.inputs) | set(g.outputs)
    return {t for n in g.nodes.values() for t in n.outputs if t not in io}


def lifetimes(g: Graph, order: list[Node]) -> list[Lifetime]:
    step_of = {}
    last_use: dict[str, int] = {}
    for i, n in enumerate(order):
        for t in n.outputs:
            step_of[t] = i
        for t in n.inputs:
            if t:
                last_use[t] = i
    out = []
    for t in sorted(arena_tensors(g), key=lambda t: step_of[t]):
        first = step_of[t]
        out.append(Lifetime(t, g.tensors[t].nbytes, first, max(last_use.get(t, first), first)))
    return out
