"""Softmax along one axis. int8 follows TFLite's fixed-point algorithm (gemmlowp exp and reciprocal),
with output scale 1/256 and zero point -128."""
import numpy as np

from ...reference import arith, fixedpoint
from .base import OpDef, register


@register
class Softmax(OpDef):
    name = "softmax"
    attrs = {"axis": -1, "beta": 1.0}
    fixed_output_quant = (1.0 / 256, -128)

    def infer(self, node, ins):
        return [(ins[0].shape, ins[0].dtype)]

    def run_float(self, node, xs):
        x = xs[0].astype(np.float64) * node.attrs["beta"]
        ax = node.attrs["axis"]
        e = np.exp(x - x.max(axis=ax, keepdims=True))
        return [(e / e.sum(axis=ax, keepdims=True)).astype(np.float32)]

    def int8_params(self, node, g):
        xq = g.tensors[node.inputs[0]].quant
        oq = g.tensors[node.outputs[0]].quant
        if abs(oq.s - 1 / 256) > 1e-9 or oq.zp != -128:
            raise ValueError(f"softmax {node.name}: int8 output must have scale 1/256, zero point -128")
        mult, left_shift, diff_min = fixedpoint.softmax_input_scaling(node.attrs["beta"], xq.s)
        # exp(scaled difference) for every possible difference 0, -1, ..., -255 (0 below diff_min)
        table = fixedpoint.softmax_exp_table(mult, left_shift, diff_min)
        return {"exp_table": table, "diff_min": diff_min}

    def run_int8(self, node, xs, p):
        ax = node.attrs["axis"] % xs[0].ndim
        x = np.moveaxis(xs[0].astype(np.int64), ax, -1)
        y = fixedpoint.softmax_int8(x, p["exp_table"])
        return [np.moveaxis(y, -1, ax).astype(np.int8)]
