"""TFLite handlers of reductions and batched matrix products (a mixin of TfliteImporter): MEAN,
SUM, REDUCE_MAX, REDUCE_MIN (constant axes, keep_dims) and BATCH_MATMUL (adj_x / adj_y become
transposes of the last two dimensions; int8 arithmetic as tflite-micro's kernel)."""
from __future__ import annotations

import numpy as np

from . import tflite_schema as fb


def _batch_matmul_adjoints(op) -> tuple[bool, bool]:
    from tflite.BatchMatMulOptions import BatchMatMulOptions
    o = fb._options(op, BatchMatMulOptions)
    return (False, False) if o is None else (bool(o.AdjX()), bool(o.AdjY()))


class ReduceOps:
    def _reduce(self, ir_op, op, ins, outs):
        axes = self.data(ins[1])
        if axes is None:
            raise self.error(f"the axes of {self.op_name} must be a constant")
        rank = len(self.tinfo(ins[0]).shape)
        axes = [int(a) for a in np.asarray(axes).reshape(-1)]
        if not axes:
            # TFLite reduces nothing for an empty axis list
            raise self.error(f"{self.op_name} with an empty axis list is not supported")
        if any(not -rank <= a < rank for a in axes):
            raise self.error(f"axis out of range in {axes} for rank {rank}")
        if ir_op in ("reduce_max", "reduce_min"):
            self.check_same_quant(ins[0], outs[0])
        self.emit(ir_op, [self.value(ins[0])], outs[0],
                  {"axes": tuple(a % rank for a in axes), "keepdims": int(fb.reducer_keep_dims(op))})

    def op_MEAN(self, op, ins, outs):
        self._reduce("mean", op, ins, outs)

    def op_SUM(self, op, ins, outs):
        self._reduce("reduce_sum", op, ins, outs)

    def op_REDUCE_MAX(self, op, ins, outs):
        self._reduce("reduce_max", op, ins, outs)

    def op_REDUCE_MIN(self, op, ins, outs):
        self._reduce("reduce_min", op, ins, outs)

    def op_BATCH_MATMUL(self, op, ins, outs):
        adj_x, adj_y = _batch_matmul_adjoints(op)
        xs = []
        for i, adj in ((ins[0], adj_x), (ins[1], adj_y)):
            name = self.value(i)
            t = self.g.tensors[name]
            if t.quant is not None and t.quant.per_channel:
                raise self.error("a per-channel quantized BATCH_MATMUL operand is not supported")
            if adj:
                rank = len(t.shape)
                perm = tuple(range(rank - 2)) + (rank - 1, rank - 2)
                name = self.emit("transpose", [name], None, {"perm": perm},
                                 out_shape=tuple(t.shape[p] for p in perm), out_dtype=t.dtype, out_quant=t.quant)
            xs.append(name)
        self.emit("matmul", xs, outs[0])
