"""TFLite LOG_SOFTMAX and DIV (mixin of TfliteImporter). int8 follows TFLite Micro's kernels byte for
byte (reference/logdiv_arith.py); float models get the plain ops."""
from __future__ import annotations

from . import tflite_schema as fb


class LogDivOps:
    def op_LOG_SOFTMAX(self, op, ins, outs):
        q = self.quant(outs[0])
        if self.dtype(outs[0]) == "int8" and q is not None and (q.zp != 127 or abs(q.s * 16 - 1) > 1e-6):
            raise self.error("int8 LOG_SOFTMAX needs output scale 16/256 and zero point 127")
        self.emit("log_softmax", [self.value(ins[0])], outs[0], {"axis": -1})

    def op_DIV(self, op, ins, outs):
        self._binary("div", op, ins, outs)
