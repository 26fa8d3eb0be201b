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


def arena_tensors(g: Graph, io_in_arena: bool = False) -> set[str]:
    """Intermediate activations, not constants. The graph's input and output tensors too when
    io_in_arena (TFLite Micro's way: the caller writes the input into the arena and reads the
    output from it), otherwise they are the caller's own buffers."""
    io = set(g.inputs) | set(g.outputs)
    inner = {t for n in g.nodes.values() for t in n.outputs if t not in io}
    if not io_in_arena:
        return inner
    return inner | {t for t in io if not g.tensors[t].is_const}


def lifetimes(g: Graph, order: list[Node], io_in_arena: bool = False) -> list[Lifetime]:
    """An input lives from step 0 (written before the first layer) to its last reader, so its
    bytes are reused afterwards; an output from its producer to the last step (read after it)."""
    step_of = {}
    last_use: dict[str, int] = {}
    for i, n in enumerate(order):
        for t in n.outputs:
            step_of[t] = i
        for t in n.inputs:
            if t:
                last_use[t] = i
    end = max(len(order) - 1, 0)
    for t in g.inputs:
        step_of.setdefault(t, 0)
    out = []
    for t in sorted(arena_tensors(g, io_in_arena), key=lambda t: (step_of[t], t)):
        first = step_of[t]
        last = end if t in g.outputs else max(last_use.get(t, first), first)
        out.append(Lifetime(t, g.tensors[t].nbytes, first, last))
    return out
