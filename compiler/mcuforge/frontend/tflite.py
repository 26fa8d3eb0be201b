""".tflite (TFLite flatbuffer) -> Graph.

An int8 model keeps its quantization exactly as stored (per-channel weight scales, zero points,
int32 biases), so the golden model reproduces TFLite Micro byte for byte; a float32 model becomes
a float graph for our own PTQ. TFLite is NHWC like the IR, so no layout work is needed:
- conv weights [Cout, KH, KW, Cin/groups] are the IR layout already,
- depthwise weights [1, KH, KW, Cin*M] become [Cin*M, KH, KW, 1] with groups = Cin,
- fused activations become act_min/act_max in real units, chosen so that the IR's int8 clamp
  equals TFLite's CalculateActivationRangeQuantized (which rounds in float32),
- ops whose int8 arithmetic is TFLM-specific carry int_algo="tflm".
"""
from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np

from ..errors import McuforgeError, UnsupportedOpError, closest_supported
from ..ir.graph import Graph, Node
from ..ir.ops import infer_node
from ..ir.ops.base import act_range_int8, same_padding
from ..ir.tensor import QuantParams, Tensor
from ..reference.arith import round_half_away
from . import tflite_schema as fb
from .tflite_elementwise import ElementwiseOps
from .tflite_resize import TfliteResizeOps
from .tflite_reduce import ReduceOps
from .tflite_movement import TfliteMovementOps
from .tflite_logdiv import LogDivOps

# TFLite TensorType -> IR dtype
DTYPES = {0: "float32", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16", 9: "int8",
          17: "int8"}  # INT4 weights: unpacked to int8 values, the layer gets attrs["weight_bits"] = 4
# ActivationFunctionType -> clamp in real units (None: no clamp)
FUSED_ACT = {0: None, 1: (0.0, None), 2: (-1.0, 1.0), 3: (0.0, 6.0)}
WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
# integer activation types: the grid a fused clamp is computed in (int16: TFLite's 16x8 scheme)
INT_BOUNDS = {"int8": (-128, 127), "int16": (-32768, 32767)}


def load_tflite(path) -> Graph:
    path = Path(path)
    try:
        buf = path.read_bytes()
    except OSError as e:
        raise McuforgeError(f"cannot read {path}: {e.strerror}") from None
    return _import(buf, path.stem, str(path))


def load_tflite_bytes(buf: bytes, name: str = "model") -> Graph:
    return _import(bytes(buf), name, name)


def _import(buf: bytes, name: str, where: str) -> Graph:
    try:
        return TfliteImporter(buf, name, where).run()
    except (struct.error, TypeError, ValueError, IndexError, KeyError, AttributeError) as e:
        # an offset or number the flatbuffers library cannot read (options, vectors, vtables
        # pointing outside the file, out-of-range scalars) anywhere in the import: a corrupt file,
        # never an internal error
        raise McuforgeError(f"{where}: corrupt TFLite flatbuffer ({type(e).__name__}: {e})") from None


def _safe(name: str, fallback: str) -> str:
    """A short C-friendly name: TFLite names look like 'model/conv2d/Relu;model/conv2d/BiasAdd'."""
    s = re.sub(r"\W+", "_", name.split(";")[0]).strip("_")
    if len(s) > 40:
        s = s[-40:].strip("_")
    return s if s and not s[0].isdigit() else fallback


class TfliteImporter(ElementwiseOps, TfliteResizeOps, ReduceOps, TfliteMovementOps, LogDivOps):
    def __init__(self, buf: bytes, name: str, where: str):
        self.buf, self.where = buf, where
        self.pm = fb.open_model(buf, where)
        from .validate_tflite import validate
        validate(self.pm, where)
        self.g = Graph(_safe(name, "model"))
        self.ir: dict[int, str] = {}       # tflite tensor index -> IR tensor name
        self.op_index = 0
        self.op_name = ""
        self.folded: dict[int, np.ndarray] = {}  # tflite tensor index -> constant computed at import

    # -- tensors -----------------------------------------------------------------------------
    def tinfo(self, i: int) -> fb.TensorInfo:
        return self.pm.tensors[i]

    def dtype(self, i: int) -> str:
        t = self.tinfo(i)
        if t.type not in DTYPES:
            raise self.error(f"tensor {t.name!r} has TFLite type {t.type}, which mcuforge does not support")
        return DTYPES[t.type]

    def quant(self, i: int) -> QuantParams | None:
        t = self.tinfo(i)
        if t.scale is None or len(t.scale) == 0:
            return None
        axis = t.quantized_dimension if len(t.scale) > 1 else None
        return QuantParams(t.scale.astype(np.float64), t.zero_point, axis)

    def value(self, i: int) -> str:
        """IR name of tflite tensor i (a constant is created on first use)."""
        if i in self.ir:
            return self.ir[i]
        t = self.tinfo(i)
        data = self.data(i)
        if data is None:
            raise self.error(f"reads tensor {t.name!r} before any operator writes it")
        c = self.g.const(_safe(t.name, f"t{i}"), data, self.dtype(i), self.quant(i))
        self.ir[i] = c.name
        return c.name

    def new_const(self, base: str, data, dtype: str, quant=None) -> str:
        return self.g.const(f"{self.node_base}_{base}", data, dtype, quant).name

    # -- nodes -------------------------------------------------------------------------------
    @property
    def node_base(self) -> str:
        return f"{self.op_name.lower()}_{self.op_index}"

    def error(self, msg: str) -> McuforgeError:
        where = f"operator {self.op_index} ({self.op_name})" if self.op_name else "model"
        return McuforgeError(f"{self.where}: {where}: {msg}")

    def emit(self, op: str, inputs: list[str], out: int | None, attrs: dict | None = None,
             out_shape=None, out_dtype=None, out_quant=None) -> str:
        """Add one IR node; its output is tflite tensor `out` or, if None, a fresh temporary."""
        name = self.g.unique(self.node_base if op != "reshape" or out is not None else self.node_base + "_flat")
        if out is not None:
            t = self.tinfo(out)
            ir_name = self.g.unique(_safe(t.name, f"t{out}"))
            shape, dtype, quant = t.shape, self.dtype(out), self.quant(out)
        else:
            ir_name = self.g.unique(name + "_out")
            shape, dtype, quant = out_shape, out_dtype, out_quant
        node = Node(name, op, inputs, [ir_name], dict(attrs or {}))
        self.g.add_node(node)
        try:
            infer_node(self.g, node)
        except ValueError as e:
            raise self.error(str(e)) from None
        except (KeyError, IndexError, ZeroDivisionError, TypeError) as e:
            raise self.error(f"shape inference failed ({type(e).__name__}: {e})") from None
        ir_t = self.g.tensors[ir_name]
        if shape is not None and tuple(ir_t.shape) != tuple(shape):
            raise self.error(f"output shape {tuple(shape)} in the file, but the op computes {ir_t.shape}")
        ir_t.dtype, ir_t.quant = dtype, quant
        if out is not None:
            self.ir[out] = ir_name
            ir_t.meta["tflite_name"] = self.tinfo(out).name
        return ir_name

    @classmethod
    def supported_ops(cls) -> list[str]:
        """TFLite builtin operators this importer reads (every op_<NAME> handler)."""
        return [m[3:] for m in dir(cls) if m.startswith("op_")]

    # -- graph -------------------------------------------------------------------------------
    def run(self) -> Graph:
        for i in fb.subgraph_inputs(self.pm.sg):
            t = self.tinfo(i)
            name = self.g.unique(_safe(t.name, f"input_{i}"))
            self.g.add_tensor(Tensor(name, t.shape, self.dtype(i), quant=self.quant(i),
                                     meta={"tflite_name": t.name}))
            self.g.inputs.append(name)
            self.ir[i] = name
        for idx, (code, op) in enumerate(self.pm.ops):
            self.op_index, self.op_name = idx, fb.op_name(code)
            if self.fold_constant_op(op, fb.op_inputs(op), fb.op_outputs(op)):
                continue
            handler = getattr(self, f"op_{self.op_name}", None)
            if handler is None:
                raise UnsupportedOpError(self.op_name, self.node_base,
                                         f"operator {idx} of {self.where} (TFLite builtin code {code}); "
                                         + closest_supported(self.op_name, self.supported_ops()))
            ins = fb.op_inputs(op)
            outs = fb.op_outputs(op)
            self.check_hybrid(ins)
            try:
                handler(op, ins, outs)
            except (KeyError, IndexError, ZeroDivisionError, TypeError, ValueError, AttributeError,
                    struct.error) as e:
                # the last line behind validate_tflite: a malformed operator never becomes an internal error
                # (struct.error: an options table whose offsets point outside the file)
                raise self.error(f"cannot import it ({type(e).__name__}: {e})") from None
        self.op_name = ""
        for i in fb.subgraph_outputs(self.pm.sg):
            if i not in self.ir:
                raise self.error(f"graph output tensor {self.tinfo(i).name!r} is never written")
            self.g.outputs.append(self.ir[i])
        dtypes = {self.g.tensors[t].dtype for n in self.g.nodes.values() for t in n.outputs}
        # 16x8 models (int16 activations) are integer models of the same contract family
        self.g.meta["quant"] = "int8" if dtypes & {"int8", "int16"} else "float32"
        self.g.meta["source"] = "tflite"
        return self.g

    def check_hybrid(self, ins: list[int]):
        if self.op_name in WEIGHT_OPS and len(ins) > 1:
            x, w = self.dtype(ins[0]), self.dtype(ins[1])
            if x == "float32" and w != "float32":
                raise self.error(
                    f"hybrid quantization ({x} activations with {w} weights) is not supported; "
                    "give mcuforge a fully int8 model or a float32 model")
        for i in ins:
            if i >= 0 and i not in self.ir and self.data(i) is None:
                raise self.error(f"reads tensor {self.tinfo(i).name!r} before any operator writes it")

    # -- helpers -----------------------------------------------------------------------------
    def act_attrs(self, kind: int, out: int) -> dict:
        if kind not in FUSED_ACT:
            names = {4: "TANH", 5: "SIGN_BIT"}
            raise self.error(f"fused activation {names.get(kind, kind)} is not supported")
        rng = FUSED_ACT[kind]
        if rng is None:
            return {}
        lo, hi = rng
        attrs = {"act_min": lo, "act_max": hi}
        q = self.quant(out)
        if self.dtype(out) in INT_BOUNDS and q is not None:
            attrs = _exact_int8_clamp(attrs, q, *INT_BOUNDS[self.dtype(out)])
        return {k: v for k, v in attrs.items() if v is not None}

    def weights_quant_axis0(self, i: int, axis_in_file: int) -> QuantParams | None:
        q = self.quant(i)
        if q is None:
            return None
        if np.any(q.zero_point != 0):
            raise self.error("weights with a non-zero zero point are not supported (TFLite int8 "
                             "weights are symmetric)")
        if q.per_channel and q.axis != axis_in_file:
            raise self.error(f"weights quantized along axis {q.axis}, expected axis {axis_in_file}")
        return QuantParams(q.scale, q.zero_point, 0 if q.per_channel else None)

    def weight_bits_attrs(self, i: int) -> dict:
        """INT4 weights (TFLite type 17): {"weight_bits": 4}, on mcuforge's int4 grid [-7, 7]."""
        t = self.tinfo(i)
        if t.type != 17:
            return {}
        if t.data.size and t.data.min() < -7:
            raise self.error(f"INT4 weights {t.name!r} hold -8; mcuforge's int4 kernels take the symmetric "
                             "narrow range [-7, 7] that TFLite's int4 quantizer writes")
        return {"weight_bits": 4}

    def bias(self, ins: list[int]) -> list[str]:
        if len(ins) > 2 and ins[2] >= 0:
            return [self.value(ins[2])]
        return []

    # -- operators ---------------------------------------------------------------------------
    def _conv_pads(self, o, x_shape, kh, kw):
        if o.padding == 1:  # VALID
            return (0, 0, 0, 0)
        t, b = same_padding(x_shape[1], kh, o.stride_h, o.dilation_h)
        l, r = same_padding(x_shape[2], kw, o.stride_w, o.dilation_w)
        return (t, l, b, r)

    def op_CONV_2D(self, op, ins, outs):
        o = fb.conv_options(op)
        x_shape = self.tinfo(ins[0]).shape
        w = self.tinfo(ins[1])
        cout, kh, kw, cin_g = w.shape
        if x_shape[3] % cin_g:
            raise self.error(f"input channels {x_shape[3]} are not a multiple of the filter's {cin_g}")
        wq = self.weights_quant_axis0(ins[1], 0)
        wname = self.g.const(f"{self.node_base}_w", w.data, self.dtype(ins[1]), wq).name \
            if w.data is not None else self.value(ins[1])
        attrs = {"strides": (o.stride_h, o.stride_w), "dilations": (o.dilation_h, o.dilation_w),
                 "pads": self._conv_pads(o, x_shape, kh, kw), "groups": x_shape[3] // cin_g}
        attrs.update(self.act_attrs(o.activation, outs[0]))
        attrs.update(self.weight_bits_attrs(ins[1]))
        self.emit("conv2d", [self.value(ins[0]), wname] + self.bias(ins), outs[0], attrs)

    def op_DEPTHWISE_CONV_2D(self, op, ins, outs):
        o = fb.conv_options(op)
        x_shape = self.tinfo(ins[0]).shape
        w = self.tinfo(ins[1])
        _, kh, kw, cout = w.shape
        cin = x_shape[3]
        if w.data is None:
            raise self.error("depthwise weights must be constant")
        if cout % cin:
            raise self.error(f"depthwise output channels {cout} are not a multiple of input channels {cin}")
        # [1, KH, KW, Cin*M] -> [Cin*M, KH, KW, 1]; output channel c*M + m in both layouts
        wq = self.weights_quant_axis0(ins[1], 3)
        wname = self.g.const(f"{self.node_base}_w", np.transpose(w.data, (3, 1, 2, 0)),
                             self.dtype(ins[1]), wq).name
        attrs = {"strides": (o.stride_h, o.stride_w), "dilations": (o.dilation_h, o.dilation_w),
                 "pads": self._conv_pads(o, x_shape, kh, kw), "groups": cin}
        attrs.update(self.act_attrs(o.activation, outs[0]))
        attrs.update(self.weight_bits_attrs(ins[1]))
        self.emit("conv2d", [self.value(ins[0]), wname] + self.bias(ins), outs[0], attrs)

    def op_FULLY_CONNECTED(self, op, ins, outs):
        o = fb.fc_options(op)
        if o.weights_format != 0:
            raise self.error("shuffled FULLY_CONNECTED weights are not supported")
        if o.asymmetric_quantize_inputs:
            raise self.error("hybrid quantization (dynamic-range FULLY_CONNECTED) is not supported")
        w = self.tinfo(ins[1])
        m, k = w.shape
        wq = self.weights_quant_axis0(ins[1], 0)
        wname = self.g.const(f"{self.node_base}_w", w.data, self.dtype(ins[1]), wq).name \
            if w.data is not None else self.value(ins[1])
        x = self.value(ins[0])
        xt = self.g.tensors[x]
        out_shape = self.tinfo(outs[0]).shape
        # TFLite flattens the input to [-1, K] unless it keeps the leading dimensions
        keep = o.keep_num_dims and tuple(xt.shape[:-1]) + (m,) == tuple(out_shape)
        if not keep and (len(xt.shape) != 2 or xt.shape[-1] != k):
            if xt.size % k:
                raise self.error(f"input {xt.shape} cannot be flattened to rows of {k}")
            x = self.emit("reshape", [x], None, {"shape": (xt.size // k, k)},
                          out_shape=(xt.size // k, k), out_dtype=xt.dtype, out_quant=xt.quant)
        attrs = {**self.act_attrs(o.activation, outs[0]), **self.weight_bits_attrs(ins[1])}
        rows = self.g.tensors[x].shape[:-1] + (m,)
        if tuple(rows) == tuple(out_shape):
            self.emit("dense", [x, wname] + self.bias(ins), outs[0], attrs)
        else:
            y = self.emit("dense", [x, wname] + self.bias(ins), None, attrs, out_shape=rows,
                          out_dtype=self.dtype(outs[0]), out_quant=self.quant(outs[0]))
            self.emit("reshape", [y], outs[0], {"shape": tuple(out_shape)})

    def _pool(self, op_type, op, ins, outs, extra):
        o = fb.pool_options(op)
        x_shape = self.tinfo(ins[0]).shape
        if o.padding == 1:
            pads = (0, 0, 0, 0)
        else:
            t, b = same_padding(x_shape[1], o.filter_h, o.stride_h, 1)
            l, r = same_padding(x_shape[2], o.filter_w, o.stride_w, 1)
            pads = (t, l, b, r)
        attrs = {"kernel": (o.filter_h, o.filter_w), "strides": (o.stride_h, o.stride_w),
                 "pads": pads, **extra}
        attrs.update(self.act_attrs(o.activation, outs[0]))
        self.check_same_quant(ins[0], outs[0])
        self.emit(op_type, [self.value(ins[0])], outs[0], attrs)

    def op_AVERAGE_POOL_2D(self, op, ins, outs):
        self._pool("avgpool", op, ins, outs, {"count_include_pad": 0})

    def op_MAX_POOL_2D(self, op, ins, outs):
        self._pool("maxpool", op, ins, outs, {})

    def check_same_quant(self, i: int, o: int):
        qi, qo = self.quant(i), self.quant(o)
        if qi is not None and qo is not None and not qi.same_as(qo):
            raise self.error("input and output quantization differ; TFLite requires them equal here")

    def _binary(self, op_type, op, ins, outs):
        act = fb.activation_option(op)
        self.emit(op_type, [self.value(ins[0]), self.value(ins[1])], outs[0],
                  self.act_attrs(act, outs[0]))

    def op_ADD(self, op, ins, outs):
        self._binary("add", op, ins, outs)

    def op_SUB(self, op, ins, outs):
        self._binary("sub", op, ins, outs)

    def op_MUL(self, op, ins, outs):
        self._binary("mul", op, ins, outs)

    def op_SOFTMAX(self, op, ins, outs):
        self.emit("softmax", [self.value(ins[0])], outs[0], {"axis": -1, "beta": fb.softmax_beta(op)})

    def op_CONCATENATION(self, op, ins, outs):
        axis, act = fb.concat_options(op)
        if act != 0:
            raise self.error("a fused activation on CONCATENATION is not supported (TFLM refuses it too)")
        xs = [self.value(i) for i in ins]
        oq = self.quant(outs[0])
        for j, i in enumerate(ins):
            q = self.g.tensors[xs[j]].quant
            if oq is not None and q is not None and not q.same_as(oq):
                # TFLM copies bytes and refuses (at prepare) inputs on another grid
                raise self.error(f"input {j} is quantized differently from the output; "
                                 "TFLite Micro refuses such a CONCATENATION too")
        self.emit("concat", xs, outs[0], {"axis": axis})

    def _pad_value(self, ins):
        if len(ins) < 3 or ins[2] < 0:
            return 0.0
        c = self.data(ins[2])
        if c is None:
            raise self.error("the pad value must be a constant")
        q = self.quant(ins[2])
        v = float(np.asarray(c).reshape(-1)[0])
        return (v - q.zp) * q.s if q is not None and self.dtype(ins[2]) in INT_BOUNDS else v

    def op_PAD(self, op, ins, outs):
        p = self.data(ins[1])
        if p is None:
            raise self.error("paddings must be a constant")
        pads = tuple((int(a), int(b)) for a, b in np.asarray(p).reshape(-1, 2))
        self.emit("pad", [self.value(ins[0])], outs[0], {"pads": pads, "value": self._pad_value(ins)})

    op_PADV2 = op_PAD

    def op_QUANTIZE(self, op, ins, outs):
        src, dst = self.dtype(ins[0]), self.dtype(outs[0])
        if src == "float32" and dst in INT_BOUNDS:
            self.emit("quantize", [self.value(ins[0])], outs[0], {"to": dst})
        elif src in INT_BOUNDS and dst in INT_BOUNDS:
            self.emit("requantize", [self.value(ins[0])], outs[0], {"to": dst} if dst != src else {})
        else:
            raise self.error(f"QUANTIZE from {src} to {dst} is not supported")

    def op_DEQUANTIZE(self, op, ins, outs):
        if self.dtype(ins[0]) not in INT_BOUNDS or self.dtype(outs[0]) != "float32":
            raise self.error(f"DEQUANTIZE from {self.dtype(ins[0])} is not supported")
        c = self.data(ins[0])
        if c is not None:
            # weight-only quantized constant: fold to float now, as TFLite's kernel would compute
            q = self.quant(ins[0])
            shape = [1] * c.ndim
            if q.per_channel:
                shape[q.axis] = -1
            real = (c.astype(np.float64) - q.zero_point.reshape(shape)) * q.scale.reshape(shape)
            t = self.tinfo(outs[0])
            self.ir[outs[0]] = self.g.const(_safe(t.name, f"t{outs[0]}"), real.astype(np.float32)).name
            return
        self.emit("dequantize", [self.value(ins[0])], outs[0])

    def op_LOGISTIC(self, op, ins, outs):
        q = self.quant(outs[0])
        if self.dtype(outs[0]) == "int8" and q is not None and (q.zp != -128 or abs(q.s * 256 - 1) > 1e-6):
            raise self.error("int8 LOGISTIC needs output scale 1/256 and zero point -128")
        if self.dtype(outs[0]) == "int16" and q is not None and (q.zp != 0 or abs(q.s * 32768 - 1) > 1e-6):
            raise self.error("int16 LOGISTIC needs output scale 1/32768 and zero point 0")
        self.emit("sigmoid", [self.value(ins[0])], outs[0], {"int_algo": "tflm"})

    def op_HARD_SWISH(self, op, ins, outs):
        self.emit("hardswish", [self.value(ins[0])], outs[0], {"int_algo": "tflm"})


def _exact_int8_clamp(attrs: dict, q: QuantParams, qmin: int = -128, qmax: int = 127) -> dict:
    """Real-unit bounds whose integer image (int8, or int16 with its bounds) under act_range_int8
    equals TFLite's, which divides in float32: where float64 rounding would land elsewhere, use a
    bound exactly on the grid."""
    s32, zp = np.float32(q.s), q.zp
    out = dict(attrs)
    for key in ("act_min", "act_max"):
        v = attrs.get(key)
        if v is None:
            continue
        tfl = zp + int(round_half_away(np.float32(v) / s32))
        ours_node = Node("_", "_", [], [], {key: v})
        lo, hi = act_range_int8(ours_node, q, qmin, qmax)
        ours = lo if key == "act_min" else hi
        want = max(qmin, tfl) if key == "act_min" else min(qmax, tfl)
        if ours != want:
            out[key] = (tfl - zp) * q.s
    return out
