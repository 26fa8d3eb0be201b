"""ONNX data movement and shape handling: Slice, Split, Gather, Expand, Tile, Cast, Pad (constant,
edge, reflect), DepthToSpace / SpaceToDepth.

Nodes whose inputs are all constants never get here (OnnxImporter folds them with onnx.reference),
so these handlers see a variable data input and need their index / shape / pad inputs to be
constants; a value computed from data at run time is refused with the node named. A rank-4 value
held NHWC stays NHWC where the op only needs its axes renamed (slice, split, gather with an index
vector, expand / tile to rank 4, pad)."""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOpError


def _s(v) -> str:
    return v.decode() if isinstance(v, bytes) else v


class MovementOps:
    # -- helpers -------------------------------------------------------------------------------
    def _in_ir_order(self, layout, per_onnx_axis: list) -> list:
        """Per-axis values listed in ONNX's axis order -> the IR tensor's axis order."""
        from .onnx import TO_NHWC
        if layout != "nhwc":
            return list(per_onnx_axis)
        return [per_onnx_axis[i] for i in TO_NHWC]

    def _input_or_attr(self, node, a, idx: int, attr: str, what: str):
        if attr in a:
            return list(a[attr])
        if len(node.input) > idx and node.input[idx]:
            return [int(v) for v in np.asarray(self.require_const(node, idx, what)).reshape(-1)]
        return None

    def _slice_node(self, node, onnx_name: str, out_name: str, starts, steps, sizes, name: str):
        """A slice given per ONNX axis; keeps the input's layout."""
        ir, layout = self.vals[onnx_name]
        self.unconsumed_inputs.discard(ir)
        shape = self._onnx_shape(onnx_name)
        if list(sizes) == list(shape) and all(s == 0 for s in starts) and all(st == 1 for st in steps):
            self.vals[out_name] = (ir, layout)
            return
        attrs = {"starts": tuple(self._in_ir_order(layout, starts)), "steps": tuple(self._in_ir_order(layout, steps)),
                 "sizes": tuple(self._in_ir_order(layout, sizes))}
        self.bind(out_name, self.add("slice", [ir], None, attrs, name=name), layout)

    # -- patterns --------------------------------------------------------------------------------
    def _sole_consumer(self, value: str):
        users = [n for n in self.model.graph.node if value in n.input]
        outputs = {o.name for o in self.model.graph.output}
        return users[0] if len(users) == 1 and value not in outputs else None

    def channel_shuffle(self, node) -> bool:
        """ShuffleNet's Reshape [N, C, H, W] -> [N, g, C/g, H, W], Transpose (0, 2, 1, 3, 4), Reshape
        back to [N, C, H, W], on a value held NHWC: emitted as the same shuffle of the NHWC channel
        axis (reshape [N, H, W, g, C/g], transpose (0, 1, 2, 4, 3), reshape), so no layout transposes
        surround it. True if `node` started such a pattern (its two followers are then absorbed)."""
        ir, layout = self.vals[node.input[0]]
        s5 = self.const_value(node.input[1]) if len(node.input) > 1 else None
        if layout != "nhwc" or s5 is None or len(s5) != 5:
            return False
        n, c, h, w = self._onnx_shape(node.input[0])
        g = int(s5[1])
        if g < 1 or c % g or [int(d) for d in s5] != [n, g, c // g, h, w] and [int(d) for d in s5] != [n, g, -1, h, w]:
            return False
        tr = self._sole_consumer(node.output[0])
        if tr is None or tr.op_type != "Transpose":
            return False
        perm = [a.ints for a in tr.attribute if a.name == "perm"]
        if not perm or list(perm[0]) != [0, 2, 1, 3, 4]:
            return False
        back = self._sole_consumer(tr.output[0])
        s4 = self.const_value(back.input[1]) if back is not None and back.op_type == "Reshape" else None
        if s4 is None or [int(d) for d in s4] not in ([n, c, h, w], [n, -1, h, w], [n, c, -1, w], [n, c, h, -1]):
            return False
        self.unconsumed_inputs.discard(ir)
        y = self.add("reshape", [ir], None, {"shape": (n, h, w, g, c // g)}, name=f"{node.name}_groups")
        y = self.add("transpose", [y], None, {"perm": (0, 1, 2, 4, 3)}, name=tr.name or f"{node.name}_shuffle")
        y = self.add("reshape", [y], None, {"shape": (n, h, w, c)}, name=f"{node.name}_merge")
        self.bind(back.output[0], y, "nhwc")
        self.absorbed.update({tr.output[0], back.output[0]})
        return True

    # -- ops -------------------------------------------------------------------------------------
    def op_Slice(self, node, a):
        shape = self._onnx_shape(node.input[0])
        rank = len(shape)
        if self.opset < 10:
            starts, ends = list(a["starts"]), list(a["ends"])
            axes, steps = a.get("axes"), None
        else:
            starts = self._input_or_attr(node, {}, 1, "", "starts")
            ends = self._input_or_attr(node, {}, 2, "", "ends")
            axes = self._input_or_attr(node, {}, 3, "", "axes")
            steps = self._input_or_attr(node, {}, 4, "", "steps")
        axes = list(range(len(starts))) if axes is None else [int(ax) % rank for ax in axes]
        steps = [1] * len(starts) if steps is None else steps
        first, step, size = [0] * rank, [1] * rank, list(shape)
        for ax, s, e, st in zip(axes, starts, ends, steps):
            if st == 0:
                raise UnsupportedOpError("Slice", node.name, f"step 0 on axis {ax}")
            r = range(*slice(int(s), int(e), int(st)).indices(shape[ax]))
            if len(r) == 0:
                raise UnsupportedOpError("Slice", node.name, f"an empty result on axis {ax} (zero-sized tensors)")
            first[ax], step[ax], size[ax] = r.start, r.step, len(r)
        self._slice_node(node, node.input[0], node.output[0], first, step, size, node.name)

    def op_Split(self, node, a):
        shape = self._onnx_shape(node.input[0])
        ax = int(a.get("axis", 0)) % len(shape)
        outs = [o for o in node.output]
        split = self._input_or_attr(node, a, 1, "split", "split")
        dim = shape[ax]
        if split is None:
            n = int(a.get("num_outputs", len(outs)))
            chunk = -(-dim // n)
            split = [min(chunk, dim - k * chunk) for k in range(n)]
        if len(split) != len(outs) or sum(split) != dim or min(split) < 1:
            raise UnsupportedOpError("Split", node.name, f"sizes {split} for {len(outs)} outputs of a "
                                     f"dimension of {dim}")
        start = 0
        for k, (o, n) in enumerate(zip(outs, split)):
            first, sizes = [0] * len(shape), list(shape)
            first[ax], sizes[ax] = start, n
            start += n
            if o:
                self._slice_node(node, node.input[0], o, first, [1] * len(shape), sizes, f"{node.name}_{k}")

    def op_Gather(self, node, a):
        idx = self.const_value(node.input[1])
        if idx is None:
            raise UnsupportedOpError("Gather", node.name, "indices computed from data at run time (they must "
                                     "be constants or fold to constants)")
        shape = self._onnx_shape(node.input[0])
        ax = int(a.get("axis", 0)) % len(shape)
        idx = np.asarray(idx).astype(np.int64)
        if np.any(idx < -shape[ax]) or np.any(idx >= shape[ax]):
            raise UnsupportedOpError("Gather", node.name, f"indices {idx.reshape(-1).tolist()} out of range "
                                     f"for a dimension of {shape[ax]}")
        flat = tuple(int(i) % shape[ax] for i in idx.reshape(-1))
        ir, layout = self.vals[node.input[0]]
        if idx.ndim == 0 and layout == "nhwc" and ax == 1:
            # one channel of an NHWC value: [N, H, W] is the same order in both layouts
            self.unconsumed_inputs.discard(ir)
            y = self.add("gather", [ir], None, {"axis": 3, "indices": flat}, name=node.name)
            y = self.add("reshape", [y], None, {"shape": tuple(shape[:1]) + tuple(shape[2:])},
                         name=f"{node.name}_shape")
            self.bind(node.output[0], y, None)
            return
        if idx.ndim == 1 and layout == "nhwc":
            from .onnx import NCHW_AXIS_IN_NHWC
            self.unconsumed_inputs.discard(ir)
            out = self.add("gather", [ir], None, {"axis": NCHW_AXIS_IN_NHWC[ax], "indices": flat}, name=node.name)
            self.bind(node.output[0], out, "nhwc")
            return
        x = self.plain(node.input[0])
        y = self.add("gather", [x], None, {"axis": ax, "indices": flat}, name=node.name)
        out_shape = tuple(shape[:ax]) + tuple(idx.shape) + tuple(shape[ax + 1:])
        if out_shape != self.t(y).shape:
            y = self.add("reshape", [y], None, {"shape": out_shape}, name=f"{node.name}_shape")
        self.bind(node.output[0], y, None)

    def op_Expand(self, node, a):
        target = tuple(int(d) for d in np.asarray(self.require_const(node, 1, "shape")).reshape(-1))
        shape = tuple(self._onnx_shape(node.input[0]))
        try:
            out = tuple(int(d) for d in np.broadcast_shapes(shape, target))
        except ValueError:
            raise UnsupportedOpError("Expand", node.name, f"{shape} does not broadcast with {target}") from None
        ir, layout = self.vals[node.input[0]]
        if out == shape:
            self.unconsumed_inputs.discard(ir)
            self.vals[node.output[0]] = (ir, layout)
            return
        if layout == "nhwc" and len(out) == 4:
            self.unconsumed_inputs.discard(ir)
            y = self.add("broadcast_to", [ir], None, {"shape": tuple(self._in_ir_order(layout, out))},
                         name=node.name)
            self.bind(node.output[0], y, "nhwc")
            return
        y = self.add("broadcast_to", [self.plain(node.input[0])], None, {"shape": out}, name=node.name)
        self.bind(node.output[0], y, None)

    def op_Tile(self, node, a):
        reps = [int(r) for r in np.asarray(self.require_const(node, 1, "repeats")).reshape(-1)]
        shape = self._onnx_shape(node.input[0])
        if len(reps) != len(shape) or min(reps, default=1) < 1:
            raise UnsupportedOpError("Tile", node.name, f"repeats {reps} for a rank-{len(shape)} input")
        ir, layout = self.vals[node.input[0]]
        self.unconsumed_inputs.discard(ir)
        if all(r == 1 for r in reps):
            self.vals[node.output[0]] = (ir, layout)
            return
        from ..ir.ops.slicing import tile_steps
        y = ir
        for k, step in enumerate(tile_steps(self._in_ir_order(layout, reps))):
            y = self.add("tile", [y], None, {"reps": step}, name=node.name if k == 0 else f"{node.name}_{k}")
        self.bind(node.output[0], y, layout)

    def op_Cast(self, node, a):
        from onnx import helper
        to = np.dtype(helper.tensor_dtype_to_np_dtype(a["to"]))
        c = self.const_value(node.input[0])
        if c is not None:
            self.const(node.output[0], c.astype(to))
            return
        ir, layout = self.vals[node.input[0]]
        if to != np.float32 or self.t(ir).dtype != "float32":
            raise UnsupportedOpError("Cast", node.name, f"to {to} of a value computed from data at run time "
                                     "(only float -> float on variables; shapes must fold to constants)")
        self.vals[node.output[0]] = (ir, layout)

    def op_Pad(self, node, a):
        mode = _s(a.get("mode", b"constant"))
        if mode not in ("constant", "edge", "reflect"):
            raise UnsupportedOpError("Pad", node.name, f"mode {mode!r} (constant, edge and reflect are supported)")
        shape = self._onnx_shape(node.input[0])
        rank = len(shape)
        pads = a.get("pads")
        if pads is None:
            pads = self.require_const(node, 1, "pads").tolist()
        value = float(a.get("value", 0.0))
        if len(node.input) > 2 and node.input[2]:
            value = float(self.require_const(node, 2, "constant_value"))
        axes = list(range(rank))
        if len(node.input) > 3 and node.input[3]:
            axes = [ax % rank for ax in self.require_const(node, 3, "axes").tolist()]
        full = [[0, 0] for _ in range(rank)]
        for i, ax in enumerate(axes):
            full[ax] = [int(pads[i]), int(pads[i + len(axes)])]
        if any(p < 0 for pr in full for p in pr):
            raise UnsupportedOpError("Pad", node.name, "negative pads (cropping)")
        if mode == "reflect" and any(max(p) >= d for p, d in zip(full, shape)):
            raise UnsupportedOpError("Pad", node.name, f"reflect pads {full} reach past the border of {shape}")
        ir, layout = self.vals[node.input[0]]
        self.unconsumed_inputs.discard(ir)
        attrs = {"pads": tuple(tuple(p) for p in self._in_ir_order(layout, full)), "value": value, "mode": mode}
        self.bind(node.output[0], self.add("pad", [ir], None, attrs, name=node.name), layout)

    def _space_depth(self, node, a, to_space: bool):
        """Both block orders as reshape -> 6-D transpose -> reshape: in NHWC when the value is held
        NHWC (no layout change around it), in NCHW otherwise."""
        n, c, h, w = self._onnx_shape(node.input[0])
        b = int(a["blocksize"])
        crd = _s(a.get("mode", b"DCR")) == "CRD"
        ir, layout = self.vals[node.input[0]]
        if layout == "nhwc":
            x, out_layout = ir, "nhwc"
            self.unconsumed_inputs.discard(ir)
            if to_space:   # channel = (i*b + j)*C' + c' (DCR) or c'*b*b + i*b + j (CRD)
                six = (n, h, w, c // (b * b), b, b) if crd else (n, h, w, b, b, c // (b * b))
                perm = (0, 1, 4, 2, 5, 3) if crd else (0, 1, 3, 2, 4, 5)
                out = (n, h * b, w * b, c // (b * b))
            else:
                six, out = (n, h // b, b, w // b, b, c), (n, h // b, w // b, c * b * b)
                perm = (0, 1, 3, 5, 2, 4) if crd else (0, 1, 3, 2, 4, 5)
        else:
            x, out_layout = self.plain(node.input[0]), None
            if to_space:
                six = (n, c // (b * b), b, b, h, w) if crd else (n, b, b, c // (b * b), h, w)
                perm = (0, 1, 4, 2, 5, 3) if crd else (0, 3, 4, 1, 5, 2)
                out = (n, c // (b * b), h * b, w * b)
            else:
                six, out = (n, c, h // b, b, w // b, b), (n, c * b * b, h // b, w // b)
                perm = (0, 1, 3, 5, 2, 4) if crd else (0, 3, 5, 1, 2, 4)
        y = self.add("reshape", [x], None, {"shape": six}, name=f"{node.name}_split")
        y = self.add("transpose", [y], None, {"perm": perm}, name=node.name)
        self.bind(node.output[0], self.add("reshape", [y], None, {"shape": out}, name=f"{node.name}_merge"),
                  out_layout)

    def op_DepthToSpace(self, node, a):
        self._space_depth(node, a, True)

    def op_SpaceToDepth(self, node, a):
        self._space_depth(node, a, False)

