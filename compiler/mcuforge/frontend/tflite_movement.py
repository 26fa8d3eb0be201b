"""TFLite data movement and shape handling.

Shape chains fold at import: SHAPE of any tensor is a constant (shapes are static), and STRIDED_SLICE,
SLICE, PACK, UNPACK, GATHER, CONCATENATION, RESHAPE, SQUEEZE, EXPAND_DIMS, CAST and integer
ADD / SUB / MUL / FLOOR_DIV whose inputs are all constants are evaluated with numpy, so Keras'
Flatten / Reshape (SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE) reach the IR as one reshape.
On variable tensors: STRIDED_SLICE, SLICE, GATHER (constant indices), PACK, UNPACK, SPLIT,
SPLIT_V, TRANSPOSE, DEPTH_TO_SPACE, SPACE_TO_DEPTH, TILE, BROADCAST_TO, MIRROR_PAD (REFLECT). All of them only move bytes, so the
int8 output keeps the input's quantization (the converter writes them that way; TFLite Micro
copies bytes too)."""
from __future__ import annotations

import numpy as np

from . import tflite_schema as fb

FOLDABLE = ("SHAPE", "STRIDED_SLICE", "SLICE", "PACK", "UNPACK", "GATHER", "CONCATENATION", "RESHAPE",
            "SQUEEZE", "EXPAND_DIMS", "CAST", "ADD", "SUB", "MUL", "FLOOR_DIV", "TILE")
INT_ARITH = {"ADD": np.add, "SUB": np.subtract, "MUL": np.multiply, "FLOOR_DIV": np.floor_divide}


def _opt(op, name: str):
    mod = __import__(f"tflite.{name}", fromlist=[name])
    return fb._options(op, getattr(mod, name))


def strided_slice_plan(shape, begin, end, strides, begin_mask=0, end_mask=0, shrink_mask=0):
    """TFLite / TF strided slice on a static shape -> (starts, steps, sizes, kept_axes): per axis
    the first index, the step and the count (Python slice semantics, which clamp as TF does)."""
    starts, steps, sizes, kept = [], [], [], []
    for d, dim in enumerate(shape):
        if d >= len(begin):
            starts.append(0), steps.append(1), sizes.append(dim), kept.append(d)
            continue
        s = int(strides[d])
        if s == 0:
            raise ValueError(f"stride 0 on axis {d}")
        if shrink_mask >> d & 1:
            b = int(begin[d]) + (dim if begin[d] < 0 else 0)
            if not 0 <= b < dim:
                raise ValueError(f"index {begin[d]} out of range on axis {d} ({dim})")
            starts.append(b), steps.append(1), sizes.append(1)
            continue
        b = None if begin_mask >> d & 1 else int(begin[d])
        e = None if end_mask >> d & 1 else int(end[d])
        r = range(*slice(b, e, s).indices(dim))
        if len(r) == 0:
            raise ValueError(f"an empty result on axis {d}")
        starts.append(r.start), steps.append(r.step), sizes.append(len(r)), kept.append(d)
    return starts, steps, sizes, kept


class TfliteMovementOps:
    # -- constant folding --------------------------------------------------------------------------
    def data(self, i: int):
        if i in self.folded:
            return self.folded[i]
        return self.tinfo(i).data

    def fold_constant_op(self, op, ins, outs) -> bool:
        """Evaluate a shape-chain operator whose inputs are all constants; True if it was."""
        name = self.op_name
        if name not in FOLDABLE:
            return False
        vals = [self.data(i) if i >= 0 else None for i in ins]
        if name != "SHAPE" and (not ins or any(i >= 0 and v is None for i, v in zip(ins, vals))):
            return False
        if name in INT_ARITH and any(v is not None and not np.issubdtype(np.asarray(v).dtype, np.integer)
                                     for v in vals):
            return False  # real-valued constant arithmetic is the model's business, not a shape chain
        try:
            results = self._fold(name, op, ins, vals, outs)
        except (ValueError, IndexError) as e:
            raise self.error(f"cannot evaluate on constants: {e}") from None
        for o, r in zip(outs, results):
            want = self.tinfo(o)
            r = np.asarray(r)
            if want.shape and tuple(r.shape) != tuple(want.shape) and r.size == int(np.prod(want.shape)):
                r = r.reshape(want.shape)
            self.folded[o] = r.astype(fb.NP_DTYPES.get(want.type, r.dtype))
        return True

    def _fold(self, name, op, ins, vals, outs):
        if name == "SHAPE":
            x = ins[0]
            shape = self.g.tensors[self.ir[x]].shape if x in self.ir else self.tinfo(x).shape
            return [np.array(shape, np.int32)]
        x = vals[0]
        if name == "STRIDED_SLICE":
            o = self.strided_slice_options(op)
            starts, steps, sizes, kept = strided_slice_plan(x.shape, vals[1], vals[2], vals[3], *o)
            idx = [np.arange(s, s + st * n, st)[:n] for s, st, n in zip(starts, steps, sizes)]
            y = x[np.ix_(*idx)] if idx else x
            return [y.reshape([sizes[d] for d in kept])]
        if name == "SLICE":
            begin, size = [int(v) for v in vals[1]], [int(v) for v in vals[2]]
            return [x[tuple(slice(b, None if n < 0 else b + n) for b, n in zip(begin, size))]]
        if name == "PACK":
            return [np.stack([v for v in vals], axis=_opt(op, "PackOptions").Axis())]
        if name == "UNPACK":
            ax = _opt(op, "UnpackOptions").Axis() % x.ndim
            return [np.take(x, k, axis=ax) for k in range(x.shape[ax])]
        if name == "GATHER":
            o = _opt(op, "GatherOptions")
            if o is not None and o.BatchDims():
                raise ValueError("batch_dims")
            return [np.take(x, vals[1], axis=0 if o is None else o.Axis())]
        if name == "CONCATENATION":
            return [np.concatenate(vals, axis=fb.concat_options(op)[0])]
        if name in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS"):
            return [x.reshape(self.tinfo(outs[0]).shape)]
        if name == "CAST":
            return [x]
        if name == "TILE":
            return [np.tile(x, [int(v) for v in vals[1]])]
        return [INT_ARITH[name](x, vals[1])]

    def strided_slice_options(self, op):
        o = _opt(op, "StridedSliceOptions")
        if o is None:
            return 0, 0, 0
        if o.EllipsisMask() or o.NewAxisMask():
            raise self.error("STRIDED_SLICE with an ellipsis or new-axis mask is not supported")
        if hasattr(o, "Offset") and o.Offset():
            raise self.error("STRIDED_SLICE with offset=true is not supported")
        return o.BeginMask(), o.EndMask(), o.ShrinkAxisMask()

    def const_input(self, ins, k: int, what: str) -> np.ndarray:
        v = self.data(ins[k]) if len(ins) > k and ins[k] >= 0 else None
        if v is None:
            raise self.error(f"{what} (input {k}) is computed from data at run time; it must be a constant "
                             "(or fold to one)")
        return np.asarray(v)

    # -- variable tensors ----------------------------------------------------------------------------
    def _moved(self, op_type, x: str, attrs: dict, out: int | None, shape=None) -> str:
        """A byte-moving op whose temporary output keeps the input's dtype and quantization."""
        t = self.g.tensors[x]
        if out is not None:
            self.check_same_quant_ir(x, out)
        return self.emit(op_type, [x], out, attrs, out_shape=shape, out_dtype=t.dtype, out_quant=t.quant)

    def check_same_quant_ir(self, x: str, out: int):
        qi, qo = self.g.tensors[x].quant, self.quant(out)
        if qi is not None and qo is not None and not qi.same_as(qo):
            raise self.error("input and output quantization differ; this operator only moves bytes")

    def _slice_then_reshape(self, x: str, starts, steps, sizes, out: int):
        xt = self.g.tensors[x]
        if list(sizes) == list(xt.shape) and all(s == 0 for s in starts) and all(st == 1 for st in steps):
            y = x
        else:
            attrs = {"starts": tuple(starts), "steps": tuple(steps), "sizes": tuple(sizes)}
            if tuple(sizes) == tuple(self.tinfo(out).shape):
                return self._moved("slice", x, attrs, out)
            y = self._moved("slice", x, attrs, None, tuple(sizes))
        return self._moved("reshape", y, {"shape": tuple(self.tinfo(out).shape)}, out)

    def op_STRIDED_SLICE(self, op, ins, outs):
        x = self.value(ins[0])
        begin, end, strides = (self.const_input(ins, k, w) for k, w in ((1, "begin"), (2, "end"), (3, "strides")))
        try:
            starts, steps, sizes, _ = strided_slice_plan(self.g.tensors[x].shape, begin, end, strides,
                                                         *self.strided_slice_options(op))
        except ValueError as e:
            raise self.error(str(e)) from None
        self._slice_then_reshape(x, starts, steps, sizes, outs[0])

    def op_SLICE(self, op, ins, outs):
        x = self.value(ins[0])
        shape = self.g.tensors[x].shape
        begin, size = self.const_input(ins, 1, "begin"), self.const_input(ins, 2, "size")
        sizes = [int(d - b) if n < 0 else int(n) for d, b, n in zip(shape, begin, size)]
        self._slice_then_reshape(x, [int(b) for b in begin], [1] * len(shape), sizes, outs[0])

    def op_GATHER(self, op, ins, outs):
        x = self.value(ins[0])
        idx = self.const_input(ins, 1, "indices").astype(np.int64)
        o = _opt(op, "GatherOptions")
        shape = self.g.tensors[x].shape
        ax = (0 if o is None else o.Axis()) % len(shape)
        if o is not None and o.BatchDims():
            raise self.error("GATHER with batch_dims is not supported")
        if np.any(idx < 0) or np.any(idx >= shape[ax]):
            raise self.error(f"indices {idx.reshape(-1).tolist()} out of range for a dimension of {shape[ax]}")
        flat = tuple(int(i) for i in idx.reshape(-1))
        out_shape = tuple(shape[:ax]) + (len(flat),) + tuple(shape[ax + 1:])
        if out_shape == tuple(self.tinfo(outs[0]).shape):
            self._moved("gather", x, {"axis": ax, "indices": flat}, outs[0])
            return
        y = self._moved("gather", x, {"axis": ax, "indices": flat}, None, out_shape)
        self._moved("reshape", y, {"shape": tuple(self.tinfo(outs[0]).shape)}, outs[0])

    def op_PACK(self, op, ins, outs):
        o = _opt(op, "PackOptions")
        out_shape = tuple(self.tinfo(outs[0]).shape)
        ax = (0 if o is None else o.Axis()) % len(out_shape)
        parts = []
        for i in ins:
            x = self.value(i)
            shape = list(self.g.tensors[x].shape)
            shape.insert(ax, 1)
            parts.append(self._moved("reshape", x, {"shape": tuple(shape)}, None, tuple(shape)))
        if len(parts) == 1:
            self._moved("reshape", parts[0], {"shape": out_shape}, outs[0])
            return
        self.emit("concat", parts, outs[0], {"axis": ax})

    def op_UNPACK(self, op, ins, outs):
        x = self.value(ins[0])
        shape = self.g.tensors[x].shape
        ax = _opt(op, "UnpackOptions").Axis() % len(shape)
        for k, o in enumerate(outs):
            starts, sizes = [0] * len(shape), list(shape)
            starts[ax], sizes[ax] = k, 1
            self._slice_then_reshape(x, starts, [1] * len(shape), sizes, o)

    def _split(self, x: str, ax: int, sizes: list[int], outs):
        shape = self.g.tensors[x].shape
        ax %= len(shape)
        if sum(sizes) != shape[ax] or len(sizes) != len(outs):
            raise self.error(f"split sizes {sizes} do not cover a dimension of {shape[ax]}")
        start = 0
        for n, o in zip(sizes, outs):
            starts, dims = [0] * len(shape), list(shape)
            starts[ax], dims[ax] = start, n
            start += n
            self._slice_then_reshape(x, starts, [1] * len(shape), dims, o)

    def op_SPLIT(self, op, ins, outs):
        ax = int(self.const_input(ins, 0, "axis").reshape(-1)[0])
        x = self.value(ins[1])
        n = len(outs)
        dim = self.g.tensors[x].shape[ax % len(self.g.tensors[x].shape)]
        if dim % n:
            raise self.error(f"SPLIT of {dim} into {n} equal parts")
        self._split(x, ax, [dim // n] * n, outs)

    def op_SPLIT_V(self, op, ins, outs):
        x = self.value(ins[0])
        sizes = [int(s) for s in self.const_input(ins, 1, "size_splits").reshape(-1)]
        ax = int(self.const_input(ins, 2, "axis").reshape(-1)[0])
        dim = self.g.tensors[x].shape[ax % len(self.g.tensors[x].shape)]
        if sizes.count(-1) == 1:
            sizes[sizes.index(-1)] = dim - (sum(sizes) + 1)
        self._split(x, ax, sizes, outs)

    def op_TRANSPOSE(self, op, ins, outs):
        perm = tuple(int(p) for p in self.const_input(ins, 1, "perm").reshape(-1))
        self._moved("transpose", self.value(ins[0]), {"perm": perm}, outs[0])

    def op_TILE(self, op, ins, outs):
        from ..ir.ops.slicing import tile_steps
        reps = tuple(int(r) for r in self.const_input(ins, 1, "multiples").reshape(-1))
        steps = tile_steps(reps)
        y = self.value(ins[0])
        for step in steps[:-1]:
            shape = tuple(d * r for d, r in zip(self.g.tensors[y].shape, step))
            y = self._moved("tile", y, {"reps": step}, None, shape)
        self._moved("tile", y, {"reps": steps[-1]}, outs[0])

    def op_BROADCAST_TO(self, op, ins, outs):
        shape = tuple(int(d) for d in self.const_input(ins, 1, "shape").reshape(-1))
        self._moved("broadcast_to", self.value(ins[0]), {"shape": shape}, outs[0])

    def op_MIRROR_PAD(self, op, ins, outs):
        o = _opt(op, "MirrorPadOptions")
        if o is not None and o.Mode() != 0:
            raise self.error("MIRROR_PAD in SYMMETRIC mode is not supported (REFLECT is)")
        pads = tuple((int(a), int(b)) for a, b in self.const_input(ins, 1, "paddings").reshape(-1, 2))
        self._moved("pad", self.value(ins[0]), {"pads": pads, "mode": "reflect"}, outs[0])

    def _space_depth(self, op, ins, outs, cls: str, to_space: bool):
        o = _opt(op, cls)
        b = o.BlockSize()
        x = self.value(ins[0])
        n, h, w, c = self.g.tensors[x].shape
        six = (n, h, w, b, b, c // (b * b)) if to_space else (n, h // b, b, w // b, b, c)
        y = self._moved("reshape", x, {"shape": six}, None, six)
        tshape = tuple(six[p] for p in (0, 1, 3, 2, 4, 5))
        y = self._moved("transpose", y, {"perm": (0, 1, 3, 2, 4, 5)}, None, tshape)
        self._moved("reshape", y, {"shape": tuple(self.tinfo(outs[0]).shape)}, outs[0])

    def op_DEPTH_TO_SPACE(self, op, ins, outs):
        self._space_depth(op, ins, outs, "DepthToSpaceOptions", True)

    def op_SPACE_TO_DEPTH(self, op, ins, outs):
        self._space_depth(op, ins, outs, "SpaceToDepthOptions", False)

    def _reshape_to(self, x: str, shape: tuple, out: int):
        """Reshape to the shape the operator computes. Converters sometimes store a stale static
        shape on tensors that a shape chain computes at run time (a Keras UpSampling2D writes
        (1, 1, 16, 16) for a (1, 16, 16, 16) value); the computed shape wins, as in TFLite Micro."""
        shape = tuple(int(d) for d in shape)
        if shape == tuple(self.tinfo(out).shape):
            return self._moved("reshape", x, {"shape": shape}, out)
        self.check_same_quant_ir(x, out)
        y = self._moved("reshape", x, {"shape": shape}, None, shape)
        self.g.tensors[y].quant = self.quant(out)
        self.g.tensors[y].meta["tflite_name"] = self.tinfo(out).name
        self.ir[out] = y
        return y

    def op_RESHAPE(self, op, ins, outs):
        x = self.value(ins[0])
        target = tuple(self.tinfo(outs[0]).shape)
        if len(ins) > 1 and ins[1] >= 0:
            given = [int(d) for d in self.const_input(ins, 1, "the new shape").reshape(-1)]
            if given:
                if -1 in given:
                    known = int(np.prod([d for d in given if d != -1]))
                    given[given.index(-1)] = self.g.tensors[x].size // max(known, 1)
                if int(np.prod(given)) != self.g.tensors[x].size:
                    raise self.error(f"shape input {given} does not hold the {self.g.tensors[x].size} "
                                     f"elements of {self.g.tensors[x].shape}")
                target = tuple(given)
        self._reshape_to(x, target, outs[0])

    def op_SQUEEZE(self, op, ins, outs):
        x = self.value(ins[0])
        shape = self.g.tensors[x].shape
        o = _opt(op, "SqueezeOptions")
        dims = [int(d) % len(shape) for d in o.SqueezeDimsAsNumpy()] if o is not None and o.SqueezeDimsLength() else \
            [d for d, n in enumerate(shape) if n == 1]
        self._reshape_to(x, tuple(n for d, n in enumerate(shape) if d not in dims), outs[0])

    def op_EXPAND_DIMS(self, op, ins, outs):
        x = self.value(ins[0])
        shape = list(self.g.tensors[x].shape)
        ax = int(self.const_input(ins, 1, "axis").reshape(-1)[0])
        shape.insert(ax % (len(shape) + 1), 1)
        self._reshape_to(x, tuple(shape), outs[0])
