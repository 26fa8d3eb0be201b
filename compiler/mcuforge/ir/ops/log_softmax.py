"""LogSoftmax along one axis: x - max - log(sum(exp(x - max))). Float semantics only for now: an
int8 model with a LogSoftmax is refused by the quantizer (no int8 kernel), with the node named."""
import numpy as np

from .base import OpDef, register


@register
class LogSoftmax(OpDef):
    name = "log_softmax"
    attrs = {"axis": -1}

    def infer(self, node, ins):
        return [(ins[0].shape, ins[0].dtype)]

    def run_float(self, node, xs):
        x = xs[0].astype(np.float64)
        ax = node.attrs["axis"]
        d = x - x.max(axis=ax, keepdims=True)
        return [(d - np.log(np.exp(d).sum(axis=ax, keepdims=True))).astype(np.float32)]
