"""Ops that pick, repeat or broadcast elements without arithmetic: slice (strided, negative
steps), gather (constant indices on one axis), broadcast_to (ONNX Expand) and tile. The bytes
only move, so int8 keeps the input's quantization and the fixed-point contract is the same copy.
The C backend runs all of them as one strided copy (codegen/c/layers/slicing.py), except a
gather whose indices are not evenly spaced."""
import numpy as np

from .base import REQUIRED, OpDef, register


class _Move(OpDef):
    keeps_quant = True

    def move(self, node, x):
        raise NotImplementedError

    def run_float(self, node, xs):
        return [self.move(node, xs[0])]

    def run_int8(self, node, xs, p):
        return [self.move(node, xs[0])]

    def run_fixed(self, node, xs, p):
        return [self.move(node, xs[0])]


@register
class Slice(_Move):
    """out[i0, i1, ...] = x[starts[0] + i0 * steps[0], ...] for i_d < sizes[d], every axis
    given (normalized by the frontend: starts inside the input, steps non-zero, maybe negative)."""
    name = "slice"
    attrs = {"starts": REQUIRED, "steps": REQUIRED, "sizes": REQUIRED}

    def infer(self, node, ins):
        shape = ins[0].shape
        a = node.attrs
        if not len(a["starts"]) == len(a["steps"]) == len(a["sizes"]) == len(shape):
            raise ValueError(f"slice {node.name}: starts/steps/sizes need one entry per axis of {shape}")
        for d, (s, st, n) in enumerate(zip(a["starts"], a["steps"], a["sizes"])):
            last = s + st * (n - 1)
            if n < 1 or st == 0 or not (0 <= s < shape[d] and 0 <= last < shape[d]):
                raise ValueError(f"slice {node.name}: axis {d} start {s} step {st} size {n} "
                                 f"leaves the input ({shape[d]}) or is empty")
        return [(tuple(int(n) for n in a["sizes"]), ins[0].dtype)]

    def move(self, node, x):
        a = node.attrs
        idx = [np.arange(s, s + st * n, st)[:n] for s, st, n in zip(a["starts"], a["steps"], a["sizes"])]
        return x[np.ix_(*idx)] if idx else x.copy()


@register
class Gather(_Move):
    """np.take(x, indices, axis) with constant, non-negative indices (one axis keeps its rank)."""
    name = "gather"
    attrs = {"axis": REQUIRED, "indices": REQUIRED}

    def infer(self, node, ins):
        shape = list(ins[0].shape)
        ax = node.attrs["axis"]
        idx = node.attrs["indices"]
        if not 0 <= ax < len(shape) or not idx or any(not 0 <= i < shape[ax] for i in idx):
            raise ValueError(f"gather {node.name}: indices {list(idx)} out of range on axis {ax} of {tuple(shape)}")
        shape[ax] = len(idx)
        return [(tuple(shape), ins[0].dtype)]

    def move(self, node, x):
        return np.take(x, np.asarray(node.attrs["indices"], np.int64), axis=node.attrs["axis"])


@register
class BroadcastTo(_Move):
    """numpy broadcasting of the input to `shape` (ONNX Expand after its bidirectional rule)."""
    name = "broadcast_to"
    attrs = {"shape": REQUIRED}

    def infer(self, node, ins):
        shape = tuple(int(d) for d in node.attrs["shape"])
        try:
            ok = np.broadcast_shapes(ins[0].shape, shape) == shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"broadcast_to {node.name}: {ins[0].shape} does not broadcast to {shape}")
        return [(shape, ins[0].dtype)]

    def move(self, node, x):
        return np.broadcast_to(x, tuple(node.attrs["shape"])).copy()


@register
class Tile(_Move):
    name = "tile"
    attrs = {"reps": REQUIRED}

    def infer(self, node, ins):
        reps = tuple(int(r) for r in node.attrs["reps"])
        if len(reps) != len(ins[0].shape) or any(r < 1 for r in reps):
            raise ValueError(f"tile {node.name}: reps {reps} must be >= 1, one per axis of {ins[0].shape}")
        return [(tuple(d * r for d, r in zip(ins[0].shape, reps)), ins[0].dtype)]

    def move(self, node, x):
        return np.tile(x, tuple(node.attrs["reps"]))


def tile_steps(reps, max_dims: int = 6) -> list[tuple]:
    """reps split into a chain of tiles whose strided views each fit in max_dims dims: one tile
    when rank + repeated axes fit, else one tile per repeated axis."""
    reps = tuple(int(r) for r in reps)
    rep_axes = [d for d, r in enumerate(reps) if r > 1]
    if len(reps) + len(rep_axes) <= max_dims:
        return [reps]
    return [tuple(r if d == ax else 1 for d, r in enumerate(reps)) for ax in rep_axes]
