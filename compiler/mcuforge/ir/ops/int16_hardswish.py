"""HARD_SWISH on int16 activations (TFLite's 16x8 conventions: zero points 0, int16 clamp).

No TFLite runtime runs one (tflite-micro's and TensorFlow Lite's HARD_SWISH take float32 and int8
only; their int8 algorithm works on int16 intermediates and overflows for int16 inputs), so the
rule is ours: r = relu6(x + 3) / 6 in Q30, p = x * r in Q16, one Q31 output multiplier; within
1 LSB of the exactly rounded function (reference/logdiv_arith.py)."""
import numpy as np

from ...reference import logdiv_arith
from .int16 import int16_op, require_symmetric


@int16_op("hardswish")
class HardSwish16:
    @staticmethod
    def params(node, g):
        require_symmetric(g, node, [node.inputs[0], node.outputs[0]])
        xq, oq = g.tensors[node.inputs[0]].quant, g.tensors[node.outputs[0]].quant
        try:
            return logdiv_arith.hardswish_s16_params(xq.s, oq.s)
        except ValueError as e:
            raise ValueError(f"hardswish {node.name}: {e}") from None

    @staticmethod
    def run(node, xs, p):
        return [logdiv_arith.hardswish_int16(xs[0], p).astype(np.int16)]
