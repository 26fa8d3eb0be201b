"""LogSoftmax along one axis: x - max - log(sum(exp(x - max))). int8 is TFLite's LOG_SOFTMAX (output
scale 16/256, zero point 127; gemmlowp exp and log in fixed point, reference/logdiv_arith.py)."""
import numpy as np

from ...reference import logdiv_arith
from .base import OpDef, register


@register
class LogSoftmax(OpDef):
    name = "log_softmax"
    attrs = {"axis": -1}
    fixed_output_quant = logdiv_arith.LOG_SOFTMAX_OUT

    def infer(self, node, ins):
        return [(ins[0].shape, ins[0].dtype)]

    def run_float(self, node, xs):
        x = xs[0].astype(np.float64)
        ax = node.attrs["axis"]
        d = x - x.max(axis=ax, keepdims=True)
        return [(d - np.log(np.exp(d).sum(axis=ax, keepdims=True))).astype(np.float32)]

    def int8_params(self, node, g):
        xq, oq = g.tensors[node.inputs[0]].quant, g.tensors[node.outputs[0]].quant
        s, zp = logdiv_arith.LOG_SOFTMAX_OUT
        if abs(oq.s - s) > 1e-9 or oq.zp != zp:
            raise ValueError(f"log_softmax {node.name}: int8 output must have scale 16/256, zero point 127")
        x = g.tensors[node.inputs[0]]
        try:
            return logdiv_arith.log_softmax_params(xq.s, x.shape[node.attrs["axis"]])
        except ValueError as e:
            raise ValueError(f"log_softmax {node.name}: {e}") from None

    def run_int8(self, node, xs, p):
        ax = node.attrs["axis"] % xs[0].ndim
        y = logdiv_arith.log_softmax_int8(np.moveaxis(xs[0], ax, -1), p)
        return [np.moveaxis(y, -1, ax).astype(np.int8)]
