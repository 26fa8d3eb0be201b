"""Layer normalization over the trailing dimensions from `axis` on (ONNX LayerNormalization):
y = (x - mean) / sqrt(var + epsilon) * gamma + beta, gamma / beta over the normalized dims (kept as
float attributes, so quantization never touches them).

int8 rule (ours; TFLite has no int8 layer norm builtin, its converter writes MEAN /
SQUARED_DIFFERENCE / RSQRT / MUL / ADD, which we fold into one op with exact integer steps). Per row
of N values q (int8, zero point cancels):
  1. S = sum(q), d_i = N * q_i - S                  (int32: |d_i| <= 255 * N)
  2. T = sum(d_i**2) + E, E = round(eps * N**3 / s_in**2) (int64, N <= 4096 keeps T < 2**53)
  3. k = (62 - bitlength(T)) // 2, r = isqrt(T << 2k)  (r in [2**30, 2**31); exact floor sqrt)
  4. n_i = round((d_i << k) * 2**30 / r), half away from zero  (|n_i| <= 2**30: n_i / 2**30 is
     d_i / sqrt(T), the normalized value divided by sqrt(N))
  5. y_i = MultiplyByQuantizedMultiplier(n_i, M_c, sh_c) + B_c + zp_out, clamped to int8, where
     M_c, sh_c = Q31 form of |gamma_c| * sqrt(N) / (2**30 * s_out) (negated for negative gamma) and
     B_c = round(beta_c / s_out).
If T == 0 (a constant row and eps rounding to 0) every n_i is 0. The result is within about one
LSB of the float layer norm quantized to the output grid (the parity test states the bound)."""
import math

import numpy as np

from ...reference import arith
from .base import REQUIRED, OpDef, register

MAX_ROW = 4096
ONE = 1 << 30


def isqrt_u64(t: int) -> int:
    return math.isqrt(int(t))


def norm_int(d: np.ndarray, eps_q: int) -> np.ndarray:
    """Steps 2-4 for one row of d (int64): the normalized values n_i in Q30."""
    t = int(np.sum(d.astype(np.int64) ** 2)) + int(eps_q)
    if t == 0:
        return np.zeros_like(d, np.int64)
    k = (62 - t.bit_length()) // 2
    r = isqrt_u64(t << (2 * k))
    num = np.abs(d.astype(np.int64)) << k  # < 2**31
    q = ((num << 30) + r // 2) // r         # half away from zero on the magnitude
    return np.where(d < 0, -q, q)


@register
class LayerNorm(OpDef):
    name = "layernorm"
    attrs = {"axis": -1, "epsilon": 1e-5, "gamma": REQUIRED, "beta": None}

    def _split(self, node, shape):
        axis = node.attrs["axis"] % len(shape)
        return int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))

    def infer(self, node, ins):
        x = ins[0]
        rows, n = self._split(node, x.shape)
        g = np.asarray(node.attrs["gamma"])
        if g.size not in (1, n):
            raise ValueError(f"layernorm {node.name}: scale of {g.size} values for rows of {n}")
        b = node.attrs["beta"]
        if b is not None and np.asarray(b).size not in (1, n):
            raise ValueError(f"layernorm {node.name}: bias of {np.asarray(b).size} values for rows of {n}")
        return [(x.shape, x.dtype)]

    def _affine(self, node, n):
        g = np.broadcast_to(np.asarray(node.attrs["gamma"], np.float64).reshape(-1), (n,))
        b = node.attrs["beta"]
        b = np.zeros(n) if b is None else np.broadcast_to(np.asarray(b, np.float64).reshape(-1), (n,))
        return g, b

    def run_float(self, node, xs):
        x = xs[0].astype(np.float64)
        rows, n = self._split(node, x.shape)
        r = x.reshape(rows, n)
        mean = r.mean(axis=1, keepdims=True)
        var = ((r - mean) ** 2).mean(axis=1, keepdims=True)
        g, b = self._affine(node, n)
        y = (r - mean) / np.sqrt(var + node.attrs["epsilon"]) * g + b
        return [y.reshape(x.shape).astype(np.float32)]

    def int8_params(self, node, g):
        x = g.tensors[node.inputs[0]]
        iq, oq = x.quant, g.tensors[node.outputs[0]].quant
        rows, n = self._split(node, x.shape)
        if n > MAX_ROW:
            raise ValueError(f"layernorm {node.name}: rows of {n} values (the int8 rule takes up to {MAX_ROW})")
        gamma, beta = self._affine(node, n)
        eps_q = min(int(arith.round_half_away(node.attrs["epsilon"] * n ** 3 / iq.s ** 2)), 1 << 53)
        mults, shifts = [], []
        for gc in gamma:
            m, s = arith.quantize_multiplier(abs(float(gc)) * math.sqrt(n) / (ONE * oq.s))
            mults.append(-m if gc < 0 else m)
            shifts.append(s)
        bias = arith.round_half_away(beta / oq.s)
        if np.abs(bias).max(initial=0) > 1 << 24:
            raise ValueError(f"layernorm {node.name}: bias too large for the output grid")
        return {"rows": rows, "n": n, "eps_q": eps_q, "out_zp": oq.zp, "mult": np.array(mults, np.int64),
                "shift": np.array(shifts, np.int64), "bias": bias.astype(np.int64)}

    def run_int8(self, node, xs, p):
        n = p["n"]
        x = xs[0].astype(np.int64).reshape(-1, n)
        out = np.empty_like(x)
        for i, row in enumerate(x):
            d = n * row - row.sum()
            q = norm_int(d, p["eps_q"])
            y = arith.multiply_by_quantized_multiplier(q, p["mult"], p["shift"]) + p["bias"] + p["out_zp"]
            out[i] = np.clip(y, -128, 127)
        return [out.reshape(xs[0].shape).astype(np.int8)]

    def macs(self, node, g):
        return 4 * g.tensors[node.inputs[0]].size
