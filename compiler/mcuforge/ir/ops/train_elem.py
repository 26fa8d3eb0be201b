"""Elementwise and reduction backward ops: activation mask, bias gradient, gradient fan-in,
mean backward (docs/training.md)."""
import numpy as np

from .base import REQUIRED, act_range_int8, register
from .train_base import F32, TrainOp, seq_sum


def act_mask(y: np.ndarray, lo, hi) -> np.ndarray:
    """Where an activation let its gradient through: lo < y < hi (a None bound is not checked)."""
    keep = np.ones(np.shape(y), bool)
    if lo is not None:
        keep &= y > lo
    if hi is not None:
        keep &= y < hi
    return keep


def mask_params(node, y_quant) -> dict:
    """An int8 y's mask bounds in its own grid (q_lo, q_hi; None: the bound is not checked)."""
    lo, hi = act_range_int8(node, y_quant)
    return {"q_lo": lo if node.attrs["act_min"] is not None else None,
            "q_hi": hi if node.attrs["act_max"] is not None else None}


def float_mask(node, y) -> np.ndarray:
    """The mask on a float32 y with the node's act_min / act_max."""
    a = node.attrs
    return act_mask(np.asarray(y, F32), None if a["act_min"] is None else F32(a["act_min"]),
                    None if a["act_max"] is None else F32(a["act_max"]))


@register
class ActGrad(TrainOp):
    """(y, dy) -> dx = dy where act_min < y < act_max (bounds that are None are not checked),
    else 0. y is the activation's output (ReLU: y > 0 <=> x > 0, as PyTorch masks). With an int8
    y the test is on the integer against the clamp bounds in y's grid (strict)."""
    name = "act_grad"
    attrs = {"act_min": None, "act_max": None}

    def infer(self, node, ins):
        return [(ins[1].shape, "float32")]

    def int8_params(self, node, g):
        y = g.tensors[node.inputs[0]]
        if y.dtype != "int8":
            return {"deq": [None, None]}
        return dict(mask_params(node, y.quant), deq=[None, None])

    def run_int8(self, node, xs, p):
        if "q_lo" not in p:
            return self.run_train(node, xs, p)
        keep = act_mask(np.asarray(xs[0]).astype(np.int64), p["q_lo"], p["q_hi"])
        return [np.where(keep, np.asarray(xs[1], F32), F32(0.0)).astype(F32)]

    def run_train(self, node, xs, p):
        return [np.where(float_mask(node, xs[0]), np.asarray(xs[1], F32), F32(0.0)).astype(F32)]


@register
class GradSum(TrainOp):
    """(dy [..., C]) -> db [rows]: the sum over every leading index (flat C order) of dy[..., c]
    for the first `rows` channels (the bias gradient)."""
    name = "grad_sum"
    attrs = {"rows": REQUIRED}

    def infer(self, node, ins):
        return [((node.attrs["rows"],), "float32")]

    def run_train(self, node, xs, p):
        dy = np.asarray(xs[0], F32)
        return [seq_sum(dy.reshape(-1, dy.shape[-1])[:, :node.attrs["rows"]])]


@register
class GradAdd(TrainOp):
    """(a, b) -> a + b in float32 (two gradients of one tensor)."""
    name = "grad_add"
    attrs = {}

    def infer(self, node, ins):
        if tuple(ins[0].shape) != tuple(ins[1].shape):
            raise ValueError(f"grad_add {node.name}: shapes {ins[0].shape} and {ins[1].shape} differ")
        return [(ins[0].shape, "float32")]

    def run_train(self, node, xs, p):
        return [(np.asarray(xs[0], F32) + np.asarray(xs[1], F32)).astype(F32)]


@register
class MeanGrad(TrainOp):
    """(dy, reduced shape) -> dx [in_shape] = broadcast(dy / count), one float32 division."""
    name = "mean_grad"
    attrs = {"axes": REQUIRED, "in_shape": REQUIRED}

    def infer(self, node, ins):
        return [(tuple(node.attrs["in_shape"]), "float32")]

    def run_train(self, node, xs, p):
        shape = tuple(node.attrs["in_shape"])
        axes = sorted(a % len(shape) for a in node.attrs["axes"]) or list(range(len(shape)))
        count = int(np.prod([shape[a] for a in axes]))
        kept = tuple(1 if i in axes else d for i, d in enumerate(shape))
        q = np.asarray(xs[0], F32).reshape(kept) / F32(count)
        return [np.broadcast_to(q, shape).astype(F32)]
