"""Elementwise functions of one value. In int8 every one of them is a function of 256 inputs, so
the device runs them as a 256-entry table (op `lut`) that the compiler fills from these semantics."""
import numpy as np

from ...reference import arith, tflm_activations
from .base import OpDef, register


def float_lut_semantics(fn, xq, oq, x):
    """int8 -> int8 by dequantize, apply fn in float64, requantize (round half away, saturate; half
    to even with requant="single", as onnxruntime's QuantizeLinear rounds)."""
    real = (x.astype(np.float64) - xq.zp) * xq.s
    q = arith.round_requant(fn(real) / oq.s) + oq.zp
    return np.clip(q, -128, 127).astype(np.int8)


class _Unary(OpDef):
    elementwise_unary = True

    def infer(self, node, ins):
        return [(ins[0].shape, ins[0].dtype)]

    def f(self, node, x):
        raise NotImplementedError

    def run_float(self, node, xs):
        return [self.f(node, xs[0].astype(np.float64)).astype(np.float32)]

    def int8_params(self, node, g):
        return {"in_q": g.tensors[node.inputs[0]].quant, "out_q": g.tensors[node.outputs[0]].quant}

    def run_int8(self, node, xs, p):
        return [float_lut_semantics(lambda v: self.f(node, v), p["in_q"], p["out_q"], xs[0])]


@register
class Relu(_Unary):
    name = "relu"

    def f(self, node, x):
        return np.maximum(x, 0)

    def fixed_params(self, node, g):
        # Output keeps the input's type; the clamp is exact in that grid.
        from ...reference import fixed_arith
        t = fixed_arith.tensor_type(g, node.inputs[0])
        lo, hi = self.f(node, np.array([-np.inf, np.inf]))
        return dict(zip(("act_lo", "act_hi"), fixed_arith.act_bounds(t, lo, hi)))

    def run_fixed(self, node, xs, p):
        return [np.clip(xs[0].astype(np.int64), p["act_lo"], p["act_hi"])]


@register
class Clip(_Unary):
    name = "clip"
    attrs = {"min": -np.inf, "max": np.inf}

    def f(self, node, x):
        return np.clip(x, node.attrs["min"], node.attrs["max"])

    fixed_params = Relu.fixed_params
    run_fixed = Relu.run_fixed


@register
class Sigmoid(_Unary):
    """int_algo="tflm": TFLite Micro's fixed-point LOGISTIC (set by the .tflite frontend)."""
    name = "sigmoid"
    attrs = {"int_algo": "float"}
    fixed_output_quant = (1.0 / 256, -128)

    def f(self, node, x):
        return 1.0 / (1.0 + np.exp(-x))

    def int8_params(self, node, g):
        p = super().int8_params(node, g)
        if node.attrs.get("int_algo") == "tflm":
            p["tflm"] = tflm_activations.logistic_params(p["in_q"].s, p["in_q"].zp)
        return p

    def run_int8(self, node, xs, p):
        if "tflm" in p:
            return [tflm_activations.logistic_int8(xs[0], p["tflm"])]
        return super().run_int8(node, xs, p)


@register
class HardSigmoid(_Unary):
    name = "hardsigmoid"
    attrs = {"alpha": 0.2, "beta": 0.5}

    def f(self, node, x):
        return np.clip(node.attrs["alpha"] * x + node.attrs["beta"], 0.0, 1.0)


@register
class HardSwish(_Unary):
    """int_algo="tflm": TFLite Micro's int16 fixed-point HARD_SWISH (set by the .tflite frontend)."""
    name = "hardswish"
    attrs = {"int_algo": "float"}

    def f(self, node, x):
        return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0

    def int8_params(self, node, g):
        p = super().int8_params(node, g)
        if node.attrs.get("int_algo") == "tflm":
            p["tflm"] = tflm_activations.hardswish_params(p["in_q"].s, p["in_q"].zp,
                                                          p["out_q"].s, p["out_q"].zp)
        return p

    def run_int8(self, node, xs, p):
        if "tflm" in p:
            return [tflm_activations.hardswish_int8(xs[0], p["tflm"])]
        return super().run_int8(node, xs, p)

    def fixed_params(self, node, g):
        # the integer rule of reference/fixed_arith.hardswish (exactly rounded)
        from ...errors import McuforgeError
        from ...reference import fixed_arith
        x, o = (fixed_arith.tensor_type(g, t) for t in (node.inputs[0], node.outputs[0]))
        p = fixed_arith.hardswish_params(x, o)
        if p["n_width"] + 2 > fixed_arith.MAX_WIDTH - 1:
            raise McuforgeError(f"hardswish {node.name}: its product needs {p['n_width']} bits, over "
                                f"the {fixed_arith.MAX_WIDTH - 1}-bit limit; use a narrower input type")
        p["act_lo"], p["act_hi"] = fixed_arith.act_bounds(o, node.attrs.get("act_min"), node.attrs.get("act_max"))
        return p

    def run_fixed(self, node, xs, p):
        from ...reference import fixed_arith
        return [np.clip(fixed_arith.hardswish(xs[0], p), p["act_lo"], p["act_hi"])]


@register
class Requantize(_Unary):
    """int8 -> int8 change of scale and zero point: TFLite's requantize (Q31 multiplier). `to`
    names another integer output type (int16: TFLite's QUANTIZE between int8 and int16)."""
    name = "requantize"
    attrs = {"to": None}

    def infer(self, node, ins):
        return [(ins[0].shape, node.attrs.get("to") or ins[0].dtype)]

    def f(self, node, x):
        return x

    def run_int8(self, node, xs, p):
        m, s = arith.quantize_multiplier(p["in_q"].s / p["out_q"].s)
        y = arith.multiply_by_quantized_multiplier(xs[0].astype(np.int64) - p["in_q"].zp, m, s)
        return [np.clip(y + p["out_q"].zp, -128, 127).astype(np.int8)]


@register
class Lut(OpDef):
    """y = table[x + 128]: inputs (x int8, table int8[256])."""
    name = "lut"

    def infer(self, node, ins):
        return [(ins[0].shape, "int8")]

    def run_int8(self, node, xs, p):
        return [xs[1][xs[0].astype(np.int64) + 128]]


def lut_table(g, node) -> np.ndarray:
    """The 256-entry table of an elementwise int8 op, from its own integer semantics."""
    from .base import get_op
    op = get_op(node.op)
    domain = np.arange(-128, 128, dtype=np.int8)
    return op.run_int8(node, [domain], op.int8_params(node, g))[0].astype(np.int8)
