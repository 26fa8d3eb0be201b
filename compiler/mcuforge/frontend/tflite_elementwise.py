"""TFLite elementwise operators (mixin of TfliteImporter): stand-alone RELU / RELU6 / RELU_N1_TO_1,
LEAKY_RELU, PRELU, TANH, MAXIMUM / MINIMUM. int8 models keep TFLite Micro's integer arithmetic
(int_algo="tflm" or the relu_tflm op), so the golden model and the C tables are byte-exact with it;
float models get the plain ops, which our own quantizer and fusion passes understand."""
from __future__ import annotations

import numpy as np

from . import tflite_schema as fb


def _leaky_relu_alpha(op) -> float:
    from tflite.LeakyReluOptions import LeakyReluOptions
    o = fb._options(op, LeakyReluOptions)
    return 0.2 if o is None else float(o.Alpha())


class ElementwiseOps:
    def _is_int8(self, i: int) -> bool:
        return self.dtype(i) == "int8"

    def _relu_family(self, ins, outs, kind: str, lo: float, hi: float):
        x = self.value(ins[0])
        if not self._is_int8(ins[0]):
            if hi == np.inf and lo == 0.0:
                self.emit("relu", [x], outs[0])
            else:
                self.emit("clip", [x], outs[0], {"min": lo, "max": hi})
            return
        self.emit("relu_tflm", [x], outs[0], {"min": lo, "max": hi, "kind": kind})

    def op_RELU(self, op, ins, outs):
        self._relu_family(ins, outs, "relu", 0.0, np.inf)

    def op_RELU6(self, op, ins, outs):
        if self._is_int8(ins[0]):
            self.check_same_quant(ins[0], outs[0])
        self._relu_family(ins, outs, "relu6", 0.0, 6.0)

    def op_RELU_N1_TO_1(self, op, ins, outs):
        self._relu_family(ins, outs, "relu", -1.0, 1.0)

    def op_LEAKY_RELU(self, op, ins, outs):
        alpha = _leaky_relu_alpha(op)
        if self._is_int8(ins[0]) and alpha < 0:
            raise self.error(f"LEAKY_RELU with alpha {alpha} < 0 is not supported in int8")
        self.emit("leakyrelu", [self.value(ins[0])], outs[0],
                  {"alpha": alpha, "int_algo": "tflm" if self._is_int8(ins[0]) else "float"})

    def op_TANH(self, op, ins, outs):
        q = self.quant(outs[0])
        if self._is_int8(outs[0]) and q is not None and (q.zp != 0 or abs(q.s * 128 - 1) > 1e-6):
            raise self.error("int8 TANH needs output scale 1/128 and zero point 0")
        self.emit("tanh", [self.value(ins[0])], outs[0],
                  {"int_algo": "tflm" if self._is_int8(ins[0]) else "float"})

    def op_PRELU(self, op, ins, outs):
        if self._is_int8(ins[1]) and self.quant(ins[1]) is not None and self.quant(ins[1]).per_channel:
            raise self.error("PRELU with a per-channel quantized slope is not supported")
        self.emit("prelu", [self.value(ins[0]), self.value(ins[1])], outs[0])

    def _maxmin(self, op_type, ins, outs):
        self.emit(op_type, [self.value(ins[0]), self.value(ins[1])], outs[0],
                  {"int_algo": "tflm" if self._is_int8(ins[0]) else "float"})

    def op_MAXIMUM(self, op, ins, outs):
        self._maxmin("max", ins, outs)

    def op_MINIMUM(self, op, ins, outs):
        self._maxmin("min", ins, outs)

    def op_RSQRT(self, op, ins, outs):
        self.emit("rsqrt", [self.value(ins[0])], outs[0],
                  {"int_algo": "tflm" if self._is_int8(ins[0]) else "float"})

    def op_L2_NORMALIZATION(self, op, ins, outs):
        if fb.activation_option(op) != 0:
            raise self.error("a fused activation on L2_NORMALIZATION is not supported (TFLM refuses it too)")
        q = self.quant(outs[0])
        if self._is_int8(outs[0]) and q is not None and (q.zp != 0 or abs(q.s * 128 - 1) > 1e-6):
            raise self.error("int8 L2_NORMALIZATION needs output scale 1/128 and zero point 0")
        self.emit("l2_normalize", [self.value(ins[0])], outs[0], {"axis": -1})

    def op_SQUARED_DIFFERENCE(self, op, ins, outs):
        self.emit("squared_difference", [self.value(ins[0]), self.value(ins[1])], outs[0])
