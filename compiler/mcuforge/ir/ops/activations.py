"""More elementwise activations: tanh, leaky relu, elu, gelu (exact and tanh form), erf, silu.

Each is a function of one value, so in int8 it becomes a 256-entry table (`lower_to_lut`) filled
from `run_int8`: dequantize, f in float64, requantize - or, for ops imported from .tflite
(int_algo="tflm"), TFLite Micro's own integer algorithm, so the table is byte-exact with it.
PRelu (a per-channel slope tensor) is not a function of one value; it lives in prelu.py.
"""
import math

import numpy as np

from ...reference import tflm_activations as tflm
from .base import register
from .unary import _Unary

_erf = np.vectorize(math.erf, otypes=[np.float64])


class _TflmUnary(_Unary):
    """A unary op whose int8 semantics are TFLM's when int_algo == "tflm"."""
    attrs = {"int_algo": "float"}

    def tflm_params(self, node, in_q, out_q) -> dict:
        raise NotImplementedError

    def tflm_run(self, x, p):
        raise NotImplementedError

    def int8_params(self, node, g):
        p = super().int8_params(node, g)
        if node.attrs.get("int_algo") == "tflm":
            p["tflm"] = self.tflm_params(node, p["in_q"], p["out_q"])
        return p

    def run_int8(self, node, xs, p):
        if "tflm" in p:
            return [self.tflm_run(xs[0], p["tflm"])]
        return super().run_int8(node, xs, p)


@register
class Tanh(_TflmUnary):
    """int_algo="tflm": gemmlowp's fixed-point tanh on a Q4.27 input, output scale 1/128."""
    name = "tanh"

    def f(self, node, x):
        return np.tanh(x)

    def tflm_params(self, node, in_q, out_q):
        return tflm.tanh_params(in_q.s, in_q.zp)

    def tflm_run(self, x, p):
        return tflm.tanh_int8(x, p)


@register
class LeakyRelu(_TflmUnary):
    """int_algo="tflm": two Q31 requantizations (identity and alpha), chosen by the input's sign."""
    name = "leakyrelu"
    attrs = {"alpha": 0.01, "int_algo": "float"}

    def f(self, node, x):
        return np.where(x >= 0, x, node.attrs["alpha"] * x)

    def tflm_params(self, node, in_q, out_q):
        if node.attrs["alpha"] < 0:
            raise ValueError(f"leakyrelu {node.name}: TFLM's int8 algorithm needs alpha >= 0")
        return tflm.leaky_relu_params(in_q.s, in_q.zp, out_q.s, out_q.zp, node.attrs["alpha"])

    def tflm_run(self, x, p):
        return tflm.leaky_relu_int8(x, p)


@register
class ReluTflm(_Unary):
    """TFLite's stand-alone RELU / RELU_N1_TO_1 / RELU6 with TFLM's int8 arithmetic: RELU and
    RELU_N1_TO_1 requantize (Q31) and clamp in the output grid; RELU6 clamps raw input values
    (TFLM ignores the output grid there). Float semantics: clamp to [min, max]."""
    name = "relu_tflm"
    attrs = {"min": 0.0, "max": np.inf, "kind": "relu"}

    def f(self, node, x):
        return np.clip(x, node.attrs["min"], node.attrs["max"])

    def int8_params(self, node, g):
        p = super().int8_params(node, g)
        iq, oq = p["in_q"], p["out_q"]
        if node.attrs["kind"] == "relu6":
            p["tflm"] = tflm.relu6_params(iq.s, iq.zp)
        else:
            hi = node.attrs["max"]
            p["tflm"] = tflm.relu_params(iq.s, iq.zp, oq.s, oq.zp, node.attrs["min"],
                                         None if hi == np.inf else hi)
        return p

    def run_int8(self, node, xs, p):
        if node.attrs["kind"] == "relu6":
            return [tflm.relu6_int8(xs[0], p["tflm"])]
        return [tflm.relu_int8(xs[0], p["tflm"])]


@register
class Elu(_Unary):
    name = "elu"
    attrs = {"alpha": 1.0}

    def f(self, node, x):
        return np.where(x > 0, x, node.attrs["alpha"] * np.expm1(np.minimum(x, 0)))


@register
class Erf(_Unary):
    name = "erf"

    def f(self, node, x):
        return _erf(x)


@register
class Gelu(_Unary):
    """approximate="none": x * (1 + erf(x / sqrt 2)) / 2; "tanh": the tanh approximation."""
    name = "gelu"
    attrs = {"approximate": "none"}

    def f(self, node, x):
        if node.attrs["approximate"] == "tanh":
            return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
        return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


@register
class Silu(_Unary):
    """x * sigmoid(x) (SiLU / Swish); fused from Mul(x, Sigmoid(x)) by passes/fuse_silu.py."""
    name = "silu"

    def f(self, node, x):
        return x / (1.0 + np.exp(-x))


@register
class Pow(_Unary):
    """x ** exponent with a constant exponent (the exporters' x * x * x of the tanh GELU)."""
    name = "pow"
    attrs = {"exponent": 2.0}

    def f(self, node, x):
        return np.power(x, node.attrs["exponent"])


@register
class Rsqrt(_TflmUnary):
    """1 / sqrt(x). int_algo="tflm": TFLM's RSQRT (integer Newton-Raphson inverse square root)."""
    name = "rsqrt"

    def f(self, node, x):
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1.0 / np.sqrt(x)

    def tflm_params(self, node, in_q, out_q):
        return tflm.rsqrt_params(in_q.s, in_q.zp, out_q.s, out_q.zp)

    def tflm_run(self, x, p):
        return tflm.rsqrt_int8(x, p)
