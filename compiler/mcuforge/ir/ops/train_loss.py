"""Loss ops of the training graph: softmax cross-entropy and mean squared error, each giving the
loss and the gradient of its first input (docs/training.md)."""
import numpy as np

from .base import register
from .train_base import F32, TrainOp, seq_sum


@register
class SoftmaxXent(TrainOp):
    """(logits [1, K], label int32 [1]) -> (loss [1], dlogits [1, K])."""
    name = "softmax_xent"
    attrs = {}

    def infer(self, node, ins):
        z = ins[0]
        if len(z.shape) != 2 or z.shape[0] != 1:
            raise ValueError(f"softmax_xent {node.name}: logits must be [1, K], got {z.shape}")
        return [((1,), "float32"), (z.shape, "float32")]

    def int8_params(self, node, g):
        p = super().int8_params(node, g)
        p["deq"][1] = None  # the label is an index, not a quantized value
        return p

    def run_train(self, node, xs, p):
        from ...train.fmath import exp_f, log_f
        z = np.asarray(xs[0], F32)[0]
        label = int(np.asarray(xs[1]).reshape(-1)[0])
        if not 0 <= label < z.size:
            raise ValueError(f"softmax_xent {node.name}: label {label} outside 0..{z.size - 1}")
        m = F32(z.max())
        d = z - m
        e = exp_f(d)
        s = seq_sum(e[:, None])[0]
        loss = log_f(np.array([s], F32))[0] - d[label]
        grad = e / s
        grad[label] = grad[label] - F32(1.0)
        return [np.array([loss], F32), grad[None].astype(F32)]


@register
class MseLoss(TrainOp):
    """(y, target) -> (loss [1] = mean((y - t)^2), dy = (y - t) * (2 / N))."""
    name = "mse_loss"
    attrs = {}

    def infer(self, node, ins):
        if tuple(ins[0].shape) != tuple(ins[1].shape):
            raise ValueError(f"mse_loss {node.name}: target shape {ins[1].shape} != output {ins[0].shape}")
        return [((1,), "float32"), (ins[0].shape, "float32")]

    def run_train(self, node, xs, p):
        y, t = np.asarray(xs[0], F32), np.asarray(xs[1], F32)
        d = (y - t).astype(F32)
        n = d.size
        sq = (d * d).reshape(-1)
        loss = seq_sum(sq[:, None])[0] / F32(n)
        return [np.array([loss], F32), (d * F32(2.0 / n)).astype(F32)]
