"""ONNX -> Graph. NCHW tensors become NHWC in the IR where spatial ops need them; the frontend
tracks, per ONNX value, which layout its IR tensor holds and inserts transposes only where a
layout-sensitive op (reshape, flatten, ...) needs the ONNX order back.

Quantization in ONNX is written as QuantizeLinear/DequantizeLinear pairs; the frontend reads them
as annotations (the float tensor carries the pair's scale and zero point), so nothing downstream
knows about QDQ.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import McuforgeError, UnsupportedOpError, closest_supported
from ..ir.graph import Graph, Node
from ..ir.ops import infer_node
from ..ir.tensor import QuantParams, Tensor
from .onnx_movement import MovementOps
from .onnx_elementwise import ElementwiseOps
from .onnx_resize import ResizeOps
from .onnx_reduce import ReduceOps
from .validate_onnx import check_axis
from .onnx_qonnx import QONNX_DOMAINS, QonnxOps

TO_NHWC = (0, 2, 3, 1)
TO_NCHW = (0, 3, 1, 2)
NCHW_AXIS_IN_NHWC = {0: 0, 1: 3, 2: 1, 3: 2}

ONNX_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64", 9: "bool",
               11: "float32"}


def _attrs(node) -> dict:
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class OnnxImporter(MovementOps, ElementwiseOps, ResizeOps, ReduceOps, QonnxOps):
    def __init__(self, model, input_shapes: dict[str, tuple] | None = None):
        self.model = model
        self.input_shapes = input_shapes or {}
        self.g = Graph(_model_name(model))
        self.vals: dict[str, tuple[str, str | None]] = {}  # onnx name -> (ir name, 'nhwc' or None)
        self.unconsumed_inputs: set[str] = set()
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
        self._converted: dict[tuple[str, str], str] = {}
        self.absorbed: set[str] = set()  # first outputs of nodes already emitted as part of a pattern

    # -- values ------------------------------------------------------------------------------
    def t(self, ir_name: str) -> Tensor:
        return self.g.tensors[ir_name]

    def const_value(self, onnx_name: str) -> np.ndarray | None:
        if not onnx_name or onnx_name not in self.vals:
            return None
        ir, layout = self.vals[onnx_name]
        data = self.t(ir).data
        if data is None:
            return None
        return np.transpose(data, TO_NCHW) if layout == "nhwc" else data

    def require_const(self, node, idx: int, what: str) -> np.ndarray:
        name = node.input[idx] if idx < len(node.input) else ""
        v = self.const_value(name)
        if v is None:
            raise UnsupportedOpError(node.op_type, node.name, f"{what} (input {idx}) must be a constant")
        return v

    def nhwc(self, onnx_name: str) -> str:
        """IR name of this value in NHWC order (rank 4)."""
        ir, layout = self.vals[onnx_name]
        if layout == "nhwc":
            return ir
        t = self.t(ir)
        if len(t.shape) != 4:
            raise McuforgeError(f"tensor {onnx_name}: spatial op needs a 4-D NCHW tensor, got shape {t.shape}")
        if t.data is not None:
            return self._const_like(t, np.transpose(t.data, TO_NHWC), TO_NHWC)
        if ir in self.unconsumed_inputs:
            # A graph input read first by a spatial op: the device takes it NHWC directly.
            t.shape = tuple(t.shape[i] for i in TO_NHWC)
            self.g.meta.setdefault("io_perm", {})[ir] = TO_NHWC
            self.vals[onnx_name] = (ir, "nhwc")
            self.unconsumed_inputs.discard(ir)
            return ir
        return self._transpose(ir, TO_NHWC, "nhwc")

    def plain(self, onnx_name: str) -> str:
        """IR name of this value in ONNX's own order."""
        ir, layout = self.vals[onnx_name]
        self.unconsumed_inputs.discard(ir)
        if layout != "nhwc":
            return ir
        t = self.t(ir)
        if t.data is not None:
            return self._const_like(t, np.transpose(t.data, TO_NCHW), TO_NCHW)
        return self._transpose(ir, TO_NCHW, "nchw")

    def _transpose(self, ir: str, perm, tag: str) -> str:
        key = (ir, tag)
        if key not in self._converted:
            out = self.g.unique(f"{ir}_{tag}")
            self.add("transpose", [ir], out, {"perm": perm}, name=out)
            self._converted[key] = out
        return self._converted[key]

    def _const_like(self, t: Tensor, data: np.ndarray, perm) -> str:
        c = self.g.const(t.name + "_t", data, t.dtype, t.quant)
        if "q_int" in t.meta:
            c.meta["q_int"] = np.transpose(t.meta["q_int"], perm)
        if "q_bits" in t.meta:
            c.meta["q_bits"] = t.meta["q_bits"]
        return c.name

    def add(self, op: str, inputs: list[str], out: str | None = None, attrs: dict | None = None,
            name: str | None = None) -> str:
        for i in inputs:
            self.unconsumed_inputs.discard(i)
        out = out or self.g.unique(f"{name or op}_out")
        node = Node(self.g.unique(name or op), op, list(inputs), [out], dict(attrs or {}))
        self.g.add_node(node)
        try:
            infer_node(self.g, node)
        except ValueError as e:
            raise McuforgeError(str(e)) from None
        except (KeyError, IndexError, ZeroDivisionError, TypeError) as e:
            raise McuforgeError(f"{node.op} node {node.name}: shape inference failed ({type(e).__name__}: {e})") from None
        return out

    def bind(self, onnx_name: str, ir: str, layout: str | None):
        self.vals[onnx_name] = (ir, layout)

    def const(self, onnx_name: str, data: np.ndarray, quant: QuantParams | None = None, q_int=None):
        dtype = ONNX_DTYPES.get(_np_to_onnx(data.dtype), "float32")
        if data.dtype == np.float64:
            data, dtype = data.astype(np.float32), "float32"
        c = self.g.const(_safe(onnx_name), data, dtype, quant)
        if q_int is not None:
            c.meta["q_int"] = q_int
        self.bind(onnx_name, c.name, None)

    @classmethod
    def supported_ops(cls) -> list[str]:
        """ONNX op types this importer reads (every op_<Type> handler of it and its mixins)."""
        return [m[3:] for m in dir(cls) if m.startswith("op_")]

    # -- graph -------------------------------------------------------------------------------
    def run(self) -> Graph:
        from onnx import numpy_helper
        self.fuse_decomposed_layernorm()
        graph = self.model.graph
        for init in graph.initializer:
            self.const(init.name, numpy_helper.to_array(init))
        init_names = {i.name for i in graph.initializer}
        for vi in graph.input:
            if vi.name in init_names:
                continue
            self._add_input(vi)
        for idx, node in enumerate(graph.node):
            if not node.name:
                node.name = f"{node.op_type}_{idx}"
            if node.output and node.output[0] in self.absorbed:
                continue  # emitted together with an earlier node (a pattern, see onnx_movement)
            handler = getattr(self, f"op_{node.op_type}", None)
            if node.domain in QONNX_DOMAINS:
                handler = getattr(self, f"qonnx_{node.op_type}", None)
            if node.domain in ("", "ai.onnx") and self._fold_constant_node(node, handler):
                continue
            if handler is None or node.domain not in ("", "ai.onnx") + QONNX_DOMAINS:
                raise UnsupportedOpError(node.op_type, node.name, closest_supported(node.op_type, self.supported_ops()))
            try:
                handler(node, _attrs(node))
            except (KeyError, IndexError, ZeroDivisionError, TypeError, ValueError, AttributeError) as e:
                # the last line behind validate_onnx: a malformed node never becomes an internal error
                raise McuforgeError(f"node {node.name!r} ({node.op_type}): cannot import it "
                                    f"({type(e).__name__}: {e})") from None
        for vo in graph.output:
            ir, layout = self.vals[vo.name]
            if self.t(ir).data is not None:
                raise McuforgeError(f"output {vo.name} is a constant; nothing to compile")
            if ir in self.g.outputs or ir in self.g.inputs:
                ir = self.add("reshape", [ir], None, {"shape": self.t(ir).shape}, name=f"{vo.name}_copy")
            if layout == "nhwc":
                self.g.meta.setdefault("io_perm", {})[ir] = TO_NHWC
            self.g.outputs.append(ir)
        self.g.meta["onnx_names"] = {
            "inputs": [vi.name for vi in graph.input if vi.name not in init_names],
            "outputs": [vo.name for vo in graph.output]}
        self.g.prune_tensors()
        return self.g

    # Exporters compute shapes and pads with small subgraphs on constants (Shape, Gather, Slice,
    # ConstantOfShape, Concat, ...). Any node whose inputs are all constants is evaluated here by
    # onnx's own reference implementation, so those subgraphs never reach the IR.
    FOLD_ALWAYS = {"Shape", "Constant", "Size"}

    def _fold_constant_node(self, node, handler) -> bool:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") or node.op_type in self.FOLD_ALWAYS:
            return False
        values = [self.const_value(i) if i else None for i in node.input]
        if not node.input or any(i and v is None for i, v in zip(node.input, values)):
            return False
        from onnx import helper, numpy_helper
        from onnx.reference import ReferenceEvaluator
        names = [f"in{k}" if i else "" for k, i in enumerate(node.input)]
        outs = [f"out{k}" for k in range(len(node.output))]
        single = helper.make_node(node.op_type, names, outs, domain=node.domain)
        single.attribute.extend(node.attribute)
        inits = [numpy_helper.from_array(np.asarray(v), n) for n, v in zip(names, values) if n]
        graph = helper.make_graph([single], "fold", [], [helper.make_tensor_value_info(o, 0, None) for o in outs],
                                  initializer=inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        try:
            results = ReferenceEvaluator(model).run(None, {})
        except Exception as e:  # noqa: BLE001 - onnx.reference raises many types
            raise UnsupportedOpError(node.op_type, node.name, f"cannot evaluate on constants: {e}") from None
        for name, value in zip(node.output, results):
            if name:
                self.const(name, np.asarray(value))
        return True

    def _add_input(self, vi):
        if vi.type.WhichOneof("value") != "tensor_type":
            raise McuforgeError(f"input {vi.name}: {vi.type.WhichOneof('value')} inputs are not supported "
                                f"(tensors only)")
        ttype = vi.type.tensor_type
        from onnx import TensorProto
        if ttype.elem_type != TensorProto.FLOAT:
            # int8 models arrive as float graphs with Q/DQ pairs; raw integer inputs are not a model
            # we know how to quantize or run
            raise McuforgeError(f"input {vi.name}: element type {TensorProto.DataType.Name(ttype.elem_type)} "
                                f"is not supported (float32 inputs; int8 via QuantizeLinear/DequantizeLinear)")
        dtype = "float32"
        dims = []
        for d in ttype.shape.dim:
            dims.append(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else (d.dim_param or "?"))
        if vi.name in self.input_shapes:
            given = tuple(int(x) for x in self.input_shapes[vi.name])
            if len(given) != len(dims):
                raise McuforgeError(f"input {vi.name}: given shape {given} has rank {len(given)}, "
                                    f"the model's has rank {len(dims)}")
            dims = list(given)
        bad = [d for d in dims if not isinstance(d, int)]
        if bad:
            raise McuforgeError(
                f"input {vi.name} has dynamic dimension {bad[0]!r} (shape {dims}); give a fixed shape "
                f"with --input-shape {vi.name}={','.join(str(d) if isinstance(d, int) else '1' for d in dims)}")
        name = _safe(vi.name)
        self.g.add_tensor(Tensor(name, tuple(dims), dtype))
        self.g.inputs.append(name)
        self.unconsumed_inputs.add(name)
        self.bind(vi.name, name, None)

    # -- ops ---------------------------------------------------------------------------------
    def _unary(self, op, node, attrs=None):
        ir, layout = self.vals[node.input[0]]
        self.bind(node.output[0], self.add(op, [ir], None, attrs, name=node.name), layout)
        self.unconsumed_inputs.discard(ir)

    def op_Relu(self, node, a):
        self._unary("relu", node)

    def op_Sigmoid(self, node, a):
        self._unary("sigmoid", node)

    def op_HardSigmoid(self, node, a):
        self._unary("hardsigmoid", node, {"alpha": float(a.get("alpha", 0.2)), "beta": float(a.get("beta", 0.5))})

    def op_HardSwish(self, node, a):
        self._unary("hardswish", node)

    def op_Clip(self, node, a):
        lo, hi = a.get("min", -np.inf), a.get("max", np.inf)
        if len(node.input) > 1 and node.input[1]:
            lo = float(self.require_const(node, 1, "min"))
        if len(node.input) > 2 and node.input[2]:
            hi = float(self.require_const(node, 2, "max"))
        self._unary("clip", node, {"min": float(lo), "max": float(hi)})

    def op_Identity(self, node, a):
        self.vals[node.output[0]] = self.vals[node.input[0]]

    def op_Dropout(self, node, a):
        if len(node.output) > 1 and node.output[1]:
            raise UnsupportedOpError("Dropout", node.name, "the mask output is not supported")
        training = a.get("is_test", 1) == 0 if self.opset < 7 else False
        if len(node.input) > 2 and node.input[2]:
            training = bool(self.require_const(node, 2, "training_mode"))
        ratio = float(a.get("ratio", 0.5))
        if len(node.input) > 1 and node.input[1]:
            ratio = float(self.require_const(node, 1, "ratio"))
        if training and ratio != 0.0:
            raise UnsupportedOpError("Dropout", node.name, "training mode (a random mask; inference is the identity)")
        self.op_Identity(node, a)

    def _spatial_attrs(self, node, a, in_hw, kernel):
        strides = tuple(a.get("strides", (1, 1)))
        dil = tuple(a.get("dilations", (1, 1)))
        if len(kernel) != 2:
            raise UnsupportedOpError(node.op_type, node.name, f"only 2-D kernels, got {len(kernel)}-D")
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            pads = []
            for i in range(2):
                eff = (kernel[i] - 1) * dil[i] + 1
                out = -(-in_hw[i] // strides[i])
                total = max(0, (out - 1) * strides[i] + eff - in_hw[i])
                small, big = total // 2, total - total // 2
                pads.append((small, big) if auto == "SAME_UPPER" else (big, small))
            t, l, b, r = pads[0][0], pads[1][0], pads[0][1], pads[1][1]
        elif auto == "VALID":
            t = l = b = r = 0
        else:
            p = tuple(a.get("pads", (0, 0, 0, 0)))
            t, l, b, r = p[0], p[1], p[2], p[3]
        return strides, dil, (t, l, b, r)

    def op_Conv(self, node, a):
        x = self.nhwc(node.input[0])
        w = self.require_const(node, 1, "weights")
        if w.ndim != 4:
            raise UnsupportedOpError("Conv", node.name, f"only 2-D convolution, weights have rank {w.ndim}")
        wt = self.t(self.vals[node.input[1]][0])
        w_ir = self._const_like(wt, np.transpose(w, (0, 2, 3, 1)), (0, 2, 3, 1))
        ins = [x, w_ir]
        if len(node.input) > 2 and node.input[2]:
            self.require_const(node, 2, "bias")
            ins.append(self.vals[node.input[2]][0])
        in_hw = self.t(x).shape[1:3]
        strides, dil, pads = self._spatial_attrs(node, a, in_hw, tuple(a.get("kernel_shape", w.shape[2:])))
        attrs = {"strides": strides, "dilations": dil, "pads": pads, "groups": int(a.get("group", 1))}
        self.bind(node.output[0], self.add("conv2d", ins, None, attrs, name=node.name), "nhwc")

    def op_BatchNormalization(self, node, a):
        if a.get("training_mode", 0) or len([o for o in node.output if o]) > 1:
            raise UnsupportedOpError("BatchNormalization", node.name,
                                     "training mode (batch statistics, running mean/var outputs)")
        params = [self.vals[node.input[i]][0] for i in range(1, 5)]
        for i in range(1, 5):
            self.require_const(node, i, "statistics")
        rank = len(self.t(self.vals[node.input[0]][0]).shape)
        if rank == 4:
            x, layout = self.nhwc(node.input[0]), "nhwc"
        elif rank == 2:
            x, layout = self.plain(node.input[0]), None
        else:
            raise UnsupportedOpError("BatchNormalization", node.name, f"rank-{rank} input")
        out = self.add("batchnorm", [x] + params, None, {"epsilon": float(a.get("epsilon", 1e-5))}, name=node.name)
        self.bind(node.output[0], out, layout)

    def _pool(self, op, node, a):
        x = self.nhwc(node.input[0])
        kernel = tuple(a["kernel_shape"])
        in_hw = self.t(x).shape[1:3]
        strides, dil, (t, l, b, r) = self._spatial_attrs(node, a, in_hw, kernel)
        extra = [0, 0]
        if a.get("ceil_mode", 0):
            extra = []
            for i, (lo, hi) in enumerate(((t, b), (l, r))):
                eff = (kernel[i] - 1) * dil[i] + 1
                span = in_hw[i] + lo + hi - eff
                out = -(-span // strides[i]) + 1
                if (out - 1) * strides[i] >= in_hw[i] + lo:  # a window may not start in the end padding
                    out -= 1
                extra.append(max(0, (out - 1) * strides[i] + eff - (in_hw[i] + lo + hi)))
        count_include_pad = op == "avgpool" and int(a.get("count_include_pad", 0))
        if count_include_pad and any(extra) and any((t, l, b, r)):
            # The explicit pads count in the divisor, the ceil-mode overhang does not: pad with
            # zeros first, then pool the padded tensor without counting the overhang.
            x = self.add("pad", [x], None, {"pads": ((0, 0), (t, b), (l, r), (0, 0)), "value": 0.0},
                         name=f"{node.name}_pad")
            t = l = b = r = 0
            count_include_pad = 0
        elif count_include_pad and any(extra):
            count_include_pad = 0  # no explicit pads: only the overhang, which never counts
        b, r = b + extra[0], r + extra[1]
        attrs = {"kernel": kernel, "strides": strides, "pads": (t, l, b, r), "dilations": dil}
        if op == "avgpool":
            attrs["count_include_pad"] = int(count_include_pad)
        self.bind(node.output[0], self.add(op, [x], None, attrs, name=node.name), "nhwc")

    def op_MaxPool(self, node, a):
        if len(node.output) > 1 and node.output[1]:
            raise UnsupportedOpError("MaxPool", node.name, "the Indices output is not supported")
        if a.get("storage_order", 0):
            raise UnsupportedOpError("MaxPool", node.name, "storage_order=1")
        self._pool("maxpool", node, a)

    def op_AveragePool(self, node, a):
        self._pool("avgpool", node, a)

    def _global_pool(self, op, node):
        x = self.nhwc(node.input[0])
        h, w = self.t(x).shape[1:3]
        attrs = {"kernel": (h, w), "strides": (1, 1), "pads": (0, 0, 0, 0)}
        self.bind(node.output[0], self.add(op, [x], None, attrs, name=node.name), "nhwc")

    def op_GlobalAveragePool(self, node, a):
        self._global_pool("avgpool", node)

    def op_GlobalMaxPool(self, node, a):
        self._global_pool("maxpool", node)

    def _reshape_to(self, node, shape):
        x = self.plain(node.input[0])
        self.bind(node.output[0], self.add("reshape", [x], None, {"shape": tuple(int(d) for d in shape)},
                                           name=node.name), None)

    def op_Flatten(self, node, a):
        shape = self._onnx_shape(node.input[0])
        axis = check_axis(node, a.get("axis", 1), len(shape), inclusive_end=True)
        self._reshape_to(node, (int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))))

    def op_Reshape(self, node, a):
        if self.channel_shuffle(node):
            return
        target = [int(d) for d in self.require_const(node, 1, "shape")]
        shape = self._onnx_shape(node.input[0])
        allowzero = a.get("allowzero", 0)
        out = [shape[i] if d == 0 and not allowzero else d for i, d in enumerate(target)]
        if -1 in out:
            known = int(np.prod([d for d in out if d != -1]))
            out[out.index(-1)] = int(np.prod(shape)) // max(known, 1)
        self._reshape_to(node, out)

    def op_Squeeze(self, node, a):
        shape = self._onnx_shape(node.input[0])
        axes = a.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.require_const(node, 1, "axes").tolist()
        axes = [ax % len(shape) for ax in axes] if axes is not None else [i for i, d in enumerate(shape) if d == 1]
        self._reshape_to(node, [d for i, d in enumerate(shape) if i not in axes])

    def op_Unsqueeze(self, node, a):
        shape = list(self._onnx_shape(node.input[0]))
        axes = a.get("axes")
        if axes is None:
            axes = self.require_const(node, 1, "axes").tolist()
        rank = len(shape) + len(axes)
        for ax in sorted(ax % rank for ax in axes):
            shape.insert(ax, 1)
        c = self.const_value(node.input[0])
        if c is not None:
            self.const(node.output[0], c.reshape(shape))
            return
        self._reshape_to(node, shape)

    def _onnx_shape(self, onnx_name):
        ir, layout = self.vals[onnx_name]
        shape = self.t(ir).shape
        return tuple(shape[i] for i in TO_NCHW) if layout == "nhwc" else shape

    def op_Transpose(self, node, a):
        ir, layout = self.vals[node.input[0]]
        rank = len(self.t(ir).shape)
        perm = tuple(a.get("perm", tuple(reversed(range(rank)))))
        if sorted(perm) != list(range(rank)):
            raise McuforgeError(f"node {node.name!r} (Transpose): perm {list(perm)} for a tensor of rank {rank}")
        if layout == "nhwc":
            perm = tuple(TO_NCHW[p] for p in perm)
        self.unconsumed_inputs.discard(ir)
        self.bind(node.output[0], self.add("transpose", [ir], None, {"perm": perm}, name=node.name), None)

    def op_Concat(self, node, a):
        layouts = {self.vals[i][1] for i in node.input}
        rank = len(self._onnx_shape(node.input[0]))
        axis = check_axis(node, a["axis"], rank)
        if "nhwc" in layouts and rank == 4:
            ins, axis, layout = [self.nhwc(i) for i in node.input], NCHW_AXIS_IN_NHWC[axis], "nhwc"
        else:
            ins, layout = [self.plain(i) for i in node.input], None
        self.bind(node.output[0], self.add("concat", ins, None, {"axis": axis}, name=node.name), layout)


    def op_Gemm(self, node, a):
        alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
        x = self.plain(node.input[0])
        if a.get("transA", 0):
            x = self.add("transpose", [x], None, {"perm": (1, 0)})
        bmat = self.const_value(node.input[1])
        if bmat is None:
            bvar = self.plain(node.input[1])
            if a.get("transB", 0):
                bvar = self.add("transpose", [bvar], None, {"perm": (1, 0)})
            y = self.add("matmul", [x, bvar], None, None, name=node.name)
            if alpha != 1.0:
                y = self.add("mul", [y, self.g.const(f"{node.name}_alpha", np.float32(alpha)).name])
            node_inputs = node.input
        else:
            w = self._dense_weight(node, node.input[1], transpose=not a.get("transB", 0), scale=alpha)
            ins = [x, w]
            m = self.t(w).shape[0]
            c = self.const_value(node.input[2]) if len(node.input) > 2 and node.input[2] else None
            if c is not None and c.size in (1, m) and (c.ndim < 2 or c.shape[0] == 1):
                # A per-output bias folds into the dense layer.
                bias = np.broadcast_to(c.reshape(-1), (m,)) * beta
                ins.append(self.g.const(f"{node.name}_b", bias.astype(np.float32)).name)
                node_inputs = node.input[:2]
            else:
                node_inputs = node.input
            y = self.add("dense", ins, None, None, name=node.name)
        if len(node_inputs) > 2 and node_inputs[2]:
            c = self.const_value(node_inputs[2])
            if c is not None:
                cname = self.g.const(f"{node.name}_c", (c * beta).astype(np.float32)).name
            else:
                cname = self.plain(node_inputs[2])
                if beta != 1.0:
                    cname = self.add("mul", [cname, self.g.const(f"{node.name}_beta", np.float32(beta)).name])
            y = self.add("add", [y, cname])
        self.bind(node.output[0], y, None)

    def _dense_weight(self, node, onnx_name, transpose: bool, scale: float = 1.0) -> str:
        """A [M, K] weight constant from ONNX's [K, M] (or already [M, K]), keeping QDQ scales."""
        src = self.t(self.vals[onnx_name][0])
        data = src.data.T if transpose else src.data
        quant, q_int = src.quant, src.meta.get("q_int")
        if quant is not None:
            if scale != 1.0:
                raise UnsupportedOpError(node.op_type, node.name, "alpha != 1 on quantized weights")
            axis = quant.axis if quant.axis is None or not transpose else 1 - quant.axis
            quant = type(quant)(quant.scale, quant.zero_point, axis)
            q_int = q_int.T if transpose else q_int
        w = self.g.const(f"{node.name}_w", np.ascontiguousarray(data * scale).astype(np.float32), "float32", quant)
        if q_int is not None:
            w.meta["q_int"] = np.ascontiguousarray(q_int)
        if "q_bits" in src.meta:
            w.meta["q_bits"] = src.meta["q_bits"]
        return w.name

    def op_Constant(self, node, a):
        from onnx import numpy_helper
        if "value" in a:
            self.const(node.output[0], numpy_helper.to_array(a["value"]))
        elif "value_float" in a:
            self.const(node.output[0], np.array(a["value_float"], np.float32))
        elif "value_floats" in a:
            self.const(node.output[0], np.array(a["value_floats"], np.float32))
        elif "value_int" in a:
            self.const(node.output[0], np.array(a["value_int"], np.int64))
        elif "value_ints" in a:
            self.const(node.output[0], np.array(a["value_ints"], np.int64))
        else:
            raise UnsupportedOpError("Constant", node.name, f"attribute {list(a)}")

    def op_Shape(self, node, a):
        shape = np.array(self._onnx_shape(node.input[0]), np.int64)
        self.const(node.output[0], shape[a.get("start", 0): a.get("end", len(shape))])

    # -- QDQ: annotations, not ops ------------------------------------------------------------
    def _qparams(self, node, a):
        scale = self.require_const(node, 1, "scale").astype(np.float64)
        zp = self.const_value(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        zp_dtype = zp.dtype if zp is not None else np.dtype(np.uint8)
        if zp_dtype not in (np.uint8, np.int8, np.int32):
            raise UnsupportedOpError(node.op_type, node.name, f"zero point type {zp_dtype}")
        zp = np.zeros_like(scale, np.int64) if zp is None else zp.astype(np.int64)
        if zp_dtype == np.uint8:
            zp = zp - 128  # the same grid shifted into int8: q - zp is unchanged
        axis = a.get("axis", 1) if scale.size > 1 else None
        from .validate_onnx import check_qdq_params
        check_qdq_params(node, scale, zp, axis, self._onnx_shape(node.input[0]))
        return scale, zp, axis, zp_dtype

    def op_QuantizeLinear(self, node, a):
        scale, zp, axis, zp_dtype = self._qparams(node, a)
        ir, layout = self.vals[node.input[0]]
        t = self.t(ir)
        if t.data is not None:
            # a constant quantized at run time (onnxruntime's quantizer does this to Constant-node
            # operands such as attention's 1/sqrt(d)): fold it into the stored integers, as
            # QuantizeLinear computes them (round half to even, saturate)
            data = self.const_value(node.input[0]).astype(np.float64)
            shape = [1] * data.ndim
            if axis is not None and data.ndim:
                shape[axis % data.ndim] = -1
            offset = 128 if zp_dtype == np.uint8 else 0
            q = np.round(data / scale.reshape(shape)) + zp.reshape(shape) + offset
            info = np.iinfo(zp_dtype)
            self.const(node.output[0], np.clip(q, info.min, info.max).astype(zp_dtype))
            return
        if scale.size != 1:
            raise UnsupportedOpError("QuantizeLinear", node.name, "per-channel activation quantization")
        q = QuantParams(scale, zp)
        if t.quant is not None and not q.same_as(t.quant):
            raise McuforgeError(f"tensor {node.input[0]} quantized twice with different scales")
        t.quant = q
        self.vals[node.output[0]] = (ir, layout)

    def op_DequantizeLinear(self, node, a):
        scale, zp, axis, zp_dtype = self._qparams(node, a)
        src = self.const_value(node.input[0])
        if src is None:
            self.vals[node.output[0]] = self.vals[node.input[0]]  # the float value it came from
            return
        qint = src.astype(np.int64) - (128 if zp_dtype == np.uint8 else 0)
        shape = [1] * qint.ndim
        if axis is not None:
            shape[axis % qint.ndim] = -1
        real = (qint - zp.reshape(shape)) * scale.reshape(shape)
        quant = QuantParams(scale, zp, None if axis is None else axis % qint.ndim)
        self.const(node.output[0], real.astype(np.float32), quant, q_int=qint)


def _np_to_onnx(dtype) -> int:
    return {np.dtype(np.float32): 1, np.dtype(np.uint8): 2, np.dtype(np.int8): 3, np.dtype(np.int16): 5,
            np.dtype(np.int32): 6, np.dtype(np.int64): 7, np.dtype(np.bool_): 9}.get(np.dtype(dtype), 1)


def _safe(name: str) -> str:
    return name or "t"


def _model_name(model) -> str:
    import re
    base = model.graph.name or "model"
    base = re.sub(r"[^0-9a-zA-Z_]", "_", base).strip("_").lower() or "model"
    return base if not base[0].isdigit() else f"m_{base}"


def load_onnx(path: str | os.PathLike, input_shapes: dict | None = None, name: str | None = None) -> Graph:
    import onnx
    from google.protobuf.message import DecodeError
    path = Path(path)
    if not path.is_file():
        raise McuforgeError(f"model file not found: {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, RuntimeError, ValueError, OSError) as e:
        raise McuforgeError(f"cannot read ONNX model {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if not model.graph.node:
        raise McuforgeError(f"cannot read ONNX model {path}: it has no nodes (truncated or not an ONNX file?)")
    from .validate_onnx import validate_model
    try:
        nonfinite = validate_model(model, path.parent, str(path))
        g = OnnxImporter(model, input_shapes).run()
    except UnicodeDecodeError as e:  # protobuf decodes string fields lazily
        raise McuforgeError(f"cannot read ONNX model {path}: a name or string is not valid UTF-8 ({e.reason} "
                            f"at byte {e.start})") from None
    if nonfinite:
        g.meta["nonfinite_constants"] = nonfinite
    if name:
        g.name = name
    else:
        import re
        g.name = re.sub(r"[^0-9a-zA-Z_]", "_", path.stem).lower() or g.name
        if g.name[0].isdigit():
            g.name = "m_" + g.name
    return g

