"""Backward ops of the fully connected layer y = x W^T + b, W [M, K] (docs/training.md)."""
import numpy as np

from .base import REQUIRED, register
from .train_base import F32, TrainOp, seq_sum


@register
class DenseGradInput(TrainOp):
    """(dy [N,M], w [M,K]) -> dx [N,K]; dx[n,k] = sum over m ascending of dy[n,m] * w[m,k]."""
    name = "dense_grad_input"
    attrs = {}

    def infer(self, node, ins):
        return [(ins[0].shape[:-1] + (ins[1].shape[1],), "float32")]

    def run_train(self, node, xs, p):
        dy, w = np.asarray(xs[0], F32), np.asarray(xs[1], F32)
        lead = dy.shape[:-1]
        dy2 = dy.reshape(-1, dy.shape[-1])
        terms = dy2.T[:, :, None] * w[:, None, :]       # [M, N, K]
        return [seq_sum(terms).reshape(lead + (w.shape[1],))]

    def macs(self, node, g):
        return g.tensors[node.inputs[0]].size * g.tensors[node.inputs[1]].shape[1]


@register
class DenseGradWeight(TrainOp):
    """(x [N,K], dy [N,M]) -> dw [rows,K]; dw[m,k] = sum over n ascending of dy[n,m] * x[n,k]."""
    name = "dense_grad_weight"
    attrs = {"rows": REQUIRED}

    def infer(self, node, ins):
        m = ins[1].shape[-1]
        if not 0 < node.attrs["rows"] <= m:
            raise ValueError(f"dense_grad_weight {node.name}: rows {node.attrs['rows']} outside 1..{m}")
        return [((node.attrs["rows"], ins[0].shape[-1]), "float32")]

    def run_train(self, node, xs, p):
        x, dy = np.asarray(xs[0], F32), np.asarray(xs[1], F32)
        x2 = x.reshape(-1, x.shape[-1])
        dy2 = dy.reshape(-1, dy.shape[-1])[:, :node.attrs["rows"]]
        terms = dy2[:, :, None] * x2[:, None, :]        # [N, rows, K]
        return [seq_sum(terms)]

    def macs(self, node, g):
        return g.tensors[node.outputs[0]].size * int(np.prod(g.tensors[node.inputs[0]].shape[:-1]))
