"""Shared pieces of the training ops (backward and update, docs/training.md).

Every training op computes in float32 with a fixed order of operations so that the golden model
and the C kernels agree bit for bit. int8 inputs (saved activations, int8 weights) are dequantized
first: (float)(q - zp) * (float)s, per channel for weights. `int8_params` (used in float and int8
graphs alike) says how each input is dequantized; `run_int8` and `run_float` both land in
`run_train`."""
from __future__ import annotations

import numpy as np

from .base import OpDef

F32 = np.float32


def dequant_params(g, name: str):
    """(scale float32 array, zero point, axis) for an int8/int32 tensor, None for float32."""
    if not name:
        return None
    t = g.tensors[name]
    if t.dtype == "float32" or t.quant is None or t.dtype not in ("int8", "int32"):
        return None
    q = t.quant
    return {"scale": q.scale.astype(F32), "zp": q.zero_point.astype(np.int64),
            "axis": q.axis if q.per_channel else None}


def dequant(x: np.ndarray, p) -> np.ndarray:
    if p is None:
        return np.asarray(x, F32)
    xi = np.asarray(x).astype(np.int64)
    if p["axis"] is None:
        return (xi - int(p["zp"][0])).astype(F32) * F32(p["scale"][0])
    shape = [1] * xi.ndim
    shape[p["axis"]] = -1
    return (xi - p["zp"].reshape(shape)).astype(F32) * p["scale"].reshape(shape)


class SeqSum:
    """A running float32 sum, one term after another, starting from +0.0f: acc = acc + term.
    np.add.accumulate is strictly sequential, so chunks of terms keep the exact order."""

    def __init__(self, shape):
        self.acc = np.zeros(shape, F32)

    def add(self, terms: np.ndarray):
        """terms: [count, *shape], added in index order."""
        if len(terms):
            stacked = np.concatenate([self.acc[None], np.asarray(terms, F32)])
            self.acc = np.add.accumulate(stacked, axis=0, dtype=F32)[-1]
        return self


def seq_sum(terms: np.ndarray) -> np.ndarray:
    terms = np.asarray(terms, F32)
    return SeqSum(terms.shape[1:]).add(terms).acc


class TrainOp(OpDef):
    """Base of the backward / update ops: float32, dequantizing int8 inputs."""
    train = True

    def int8_params(self, node, g):
        return {"deq": [dequant_params(g, t) for t in node.inputs]}

    def run_int8(self, node, xs, p):
        return self.run_train(node, [dequant(x, d) if x is not None and d is not None else x
                                     for x, d in zip(xs, p["deq"])], p)

    def run_float(self, node, xs):
        return self.run_train(node, [x for x in xs], {})

    def run_train(self, node, xs, p):
        raise NotImplementedError
