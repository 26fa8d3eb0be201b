"""L2 normalization along one axis: x / max(sqrt(sum x^2), eps) (TFLite's L2_NORMALIZATION, ONNX's
LpNormalization with p = 2). int8 is TFLite's: the sum of squared int8 differences, an integer
Newton-Raphson inverse square root per row, output scale 1/128 and zero point 0."""
import numpy as np

from ...reference import tflm_activations as tflm
from .base import OpDef, register


@register
class L2Normalize(OpDef):
    name = "l2_normalize"
    attrs = {"axis": -1, "eps": 1e-6}
    fixed_output_quant = (1.0 / 128, 0)

    def infer(self, node, ins):
        return [(ins[0].shape, ins[0].dtype)]

    def run_float(self, node, xs):
        x = xs[0].astype(np.float64)
        norm = np.sqrt((x * x).sum(axis=node.attrs["axis"], keepdims=True))
        return [(x / np.maximum(norm, node.attrs["eps"])).astype(np.float32)]

    def int8_params(self, node, g):
        oq = g.tensors[node.outputs[0]].quant
        if abs(oq.s * 128 - 1) > 1e-6 or oq.zp != 0:
            raise ValueError(f"l2_normalize {node.name}: int8 output must have scale 1/128, zero point 0")
        return {"in_zp": g.tensors[node.inputs[0]].quant.zp}

    def run_int8(self, node, xs, p):
        x = np.moveaxis(xs[0], node.attrs["axis"], -1)
        return [np.moveaxis(tflm.l2norm_int8(x, p["in_zp"]), -1, node.attrs["axis"])]
