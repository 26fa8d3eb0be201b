"""onnxruntime's float32 arithmetic of a QDQ Add / Sub and bilinear Resize, exactly (`requant="ort"`).

onnxruntime runs a QDQ model's int8 Add (graph optimizations off, as the corpus check compares) as
    fa = float32(a - za) * sa          DequantizeLinear, one float32 rounding
    fb = float32(b - zb) * sb
    s  = fa + fb  (fa - fb for Sub)    float32 add, round to nearest even
    q  = s / so                        MLAS QuantizeLinear: a division (not s * (1/so)),
    y  = nearbyint(clamp(q, -128 - zo, 127 - zo)) + zo      round half to even
Our exact integer rule (requant="single") rounds the exact value ((a-za) sa +- (b-zb) sb) / so once,
so the two differ where that value lies within a few float32 ulps of a half: 0 to ~4 of the 65,536
input pairs of an Add. Residual networks (mobilenet_v2) amplify such a flip over later layers.

The golden model here is that float32 sequence in numpy (`add_sub_f32`). The C kernel
(runtime_c/kernels/mcf_add_s8_ort.c) reproduces it with integers only, no FPU:
  - fa and fb are exact multiples of a common power of two 2^k (a float32 has a 24-bit mantissa),
    so DA[a] = fa / 2^k and DB[b] = +-fb / 2^k (the kernel shifts the mantissas of a 256-entry
    table of their float32 bits) make the exact sum S = DA[a] + DB[b] an integer;
  - everything after the sum (round S 2^k to float32, divide by so, round half to even, clamp,
    the fused activation's clamp) is a monotone non-decreasing function of S, so it is a
    staircase: output = act_min + #{j : T[j] <= S} for thresholds T[0..n) (n = act_max - act_min),
    T[j] the least S whose output is >= act_min + 1 + j. `tables` finds them by bisection on that
    float32 function;
  - fast path: int32 tables ea[a] + eb[b] hold the exact value ((fa + fb) / so + zo + 1/2) in fixed
    point; its floor is the output unless its fraction lies within ADD_EPS / 2^16 of a step, where
    the exact sum is compared with the thresholds (a few pairs in 10^4, and every exact tie).
`tables` then checks the integer form against the float32 sequence on all 65,536 input pairs, so
a compiled layer equals the golden model by construction (a mismatch raises, naming the node).
The bilinear Resize (below) has no such integer form; its kernel runs the float32 operations.
"""
from __future__ import annotations

import numpy as np

F32 = np.float32
RULE = "ort"             # node attribute value: attrs["float_rule"] == "ort"
MAX_SUM_BITS = 52        # |S| < 2^52: S exact in float64 while the thresholds are searched
ADD_FRAC_BITS = 16       # the add's fast path: fixed point with 16 fractional bits (mcf_ort_float.h)
ADD_EPS = 16             # ... and its fraction within 16 / 2^16 of a step takes the exact path


def uses_ort_rule(node) -> bool:
    return node.attrs.get("float_rule") == RULE


def dequantize_f32(x, scale: float, zp: int) -> np.ndarray:
    """onnxruntime's DequantizeLinear: float32(x - zp) * scale, one float32 rounding."""
    return (np.asarray(x).astype(np.int32) - zp).astype(F32) * F32(scale)


def quantize_f32(v, scale: float, zp: int, lo: int, hi: int) -> np.ndarray:
    """onnxruntime's QuantizeLinear (MLAS): v / scale in float32, clamped to the int8 range minus
    the zero point, rounded half to even, plus the zero point; then the fused activation's clamp."""
    q = np.asarray(v, dtype=F32) / F32(scale)
    q = np.clip(q, F32(-128 - zp), F32(127 - zp))
    return np.clip(np.rint(q).astype(np.int64) + zp, lo, hi)


def add_sub_f32(a, b, p: dict, sign: int) -> np.ndarray:
    """The golden model of an int8 Add (sign 1) / Sub (-1) under the ORT rule; p from
    _AddSub.int8_params plus the three scales (`ort_params`)."""
    fa = dequantize_f32(a, p["in1_s"], p["in1_zp"])
    fb = dequantize_f32(b, p["in2_s"], p["in2_zp"])
    s = fa + fb if sign > 0 else fa - fb
    return quantize_f32(s, p["out_s"], p["out_zp"], p["act_min"], p["act_max"]).astype(np.int8)


def ort_params(node, g, p: dict) -> dict:
    """int8_params plus the float32 scales of the two inputs and the output."""
    q1, q2, qo = (g.tensors[t].quant for t in (node.inputs[0], node.inputs[1], node.outputs[0]))
    return dict(p, in1_s=float(F32(q1.s)), in2_s=float(F32(q2.s)), out_s=float(F32(qo.s)))


def _exponent_floor(v: np.ndarray) -> int:
    """The largest k such that every (float32) value of v is an integer multiple of 2^k."""
    v = v[v != 0].astype(np.float64)
    if v.size == 0:
        return 0
    _, e = np.frexp(v)                      # |v| = m 2^e, 0.5 <= m < 1, m has 24 significant bits
    return int(e.min()) - 24


def _output_of_sum(s: np.ndarray, k: int, p: dict) -> np.ndarray:
    """The output for exact sums s (int64, in units of 2^k): float32 rounding, then QuantizeLinear."""
    f = (s.astype(np.float64) * 2.0 ** k).astype(F32)   # exact in float64, one rounding to float32
    return quantize_f32(f, p["out_s"], p["out_zp"], p["act_min"], p["act_max"])


def tables(node, p: dict, sign: int) -> dict:
    """The integer form of the ORT rule for the C kernel: da, db (int64 [256], indexed by x + 128),
    thresholds (int64 [act_max - act_min]) and the fast path's ea, eb (int32 [256]); checked
    against add_sub_f32 on every input pair."""
    from ..errors import McuforgeError
    xs = np.arange(-128, 128)
    fa = dequantize_f32(xs, p["in1_s"], p["in1_zp"])
    fb = dequantize_f32(xs, p["in2_s"], p["in2_zp"])
    fb = fb if sign > 0 else -fb
    k = min(_exponent_floor(fa), _exponent_floor(fb))
    if (np.abs(fa).max() + np.abs(fb).max()) * 2.0 ** -k >= 2.0 ** MAX_SUM_BITS:
        raise McuforgeError(f"{node.op} node {node.name!r}: input scales {p['in1_s']:g} and {p['in2_s']:g} are "
                            f"too far apart for the integer form of onnxruntime's float32 add (requant='ort'); "
                            f"compile with requant='single'")
    if np.any((fa != 0) & (np.abs(fa) < np.finfo(F32).tiny)) or np.any((fb != 0) & (np.abs(fb) < np.finfo(F32).tiny)):
        raise McuforgeError(f"{node.op} node {node.name!r}: subnormal dequantized inputs (requant='ort'); "
                            f"compile with requant='single'")
    da = (fa.astype(np.float64) * 2.0 ** -k).astype(np.int64)
    db = (fb.astype(np.float64) * 2.0 ** -k).astype(np.int64)
    s_min, s_max = int(da.min() + db.min()), int(da.max() + db.max())
    lo, hi = int(p["act_min"]), int(p["act_max"])
    targets = np.arange(lo + 1, hi + 1)
    # bisection for each target output y: least S in [s_min, s_max + 1] with output(S) >= y
    # (s_max + 1: never reached); invariant output(L) < y <= output(H), L = s_min - 1 virtual.
    low = np.full(targets.shape, s_min - 1, dtype=np.int64)
    high = np.full(targets.shape, s_max + 1, dtype=np.int64)
    while targets.size and np.any(high - low > 1):
        mid = low + (high - low) // 2
        ok = _output_of_sum(mid, k, p) >= targets
        high, low = np.where(ok, mid, high), np.where(ok, low, mid)
    thresholds = high
    # the fast path: ea[a] + eb[b] = (fa + fb) / so + out_zp + 1/2 in fixed point (ADD_FRAC_BITS
    # fractional bits, |.| < 2^30), so its floor is the exactly rounded output except near a step
    fo = np.float64(p["out_s"])
    span = (np.abs(fa).max() + np.abs(fb).max()) / fo + abs(p["out_zp"]) + 2
    if span >= 2.0 ** (30 - ADD_FRAC_BITS):
        raise McuforgeError(f"{node.op} node {node.name!r}: output scale {p['out_s']:g} too fine for the input "
                            f"scales (requant='ort'); compile with requant='single'")
    one = 1 << ADD_FRAC_BITS
    ea = np.round((fa.astype(np.float64) / fo + p["out_zp"] + 0.5) * one).astype(np.int64)
    eb = np.round(fb.astype(np.float64) / fo * one).astype(np.int64)
    t = {"da": da, "db": db, "thresholds": thresholds, "ea": ea, "eb": eb, "unit_exp": k,
         "fa_bits": fa.view(np.uint32), "fb_bits": fb.view(np.uint32)}
    # the proof: the kernel (fast path, or the exact sum against the thresholds within ADD_EPS of
    # a step) equals the float32 sequence on every input pair
    a, b = np.meshgrid(xs + 128, xs + 128, indexing="ij")
    want = add_sub_f32(a.ravel() - 128, b.ravel() - 128, p, sign).astype(np.int64)
    got, _ = kernel_model(t, p, a.ravel(), b.ravel())
    if not np.array_equal(got, want):
        bad = int(np.count_nonzero(got != want))
        raise McuforgeError(f"{node.op} node {node.name!r}: integer form of onnxruntime's float32 rule differs "
                            f"on {bad} input pairs (requant='ort'); compile with requant='single'")
    return t


def exact_from_bits(bits: np.ndarray, k: int) -> np.ndarray:
    """What the kernel's exact path makes of a float32's bits: the value / 2^k as an integer
    (normal numbers or zero; k at most every value's lowest mantissa bit)."""
    bits = bits.astype(np.int64)
    m = (bits & 0x7FFFFF) | 0x800000
    v = m << np.maximum(((bits >> 23) & 0xFF) - 150 - k, 0)
    v = np.where((bits & 0x7FFFFFFF) == 0, 0, v)
    return np.where(bits >> 31 != 0, -v, v)


def kernel_model(t: dict, p: dict, ia: np.ndarray, ib: np.ndarray):
    """What mcf_add_s8_ort computes for table indices ia = x1 + 128, ib = x2 + 128: (outputs, mask
    of the pairs that took the exact path)."""
    lo, hi = int(p["act_min"]), int(p["act_max"])
    e = t["ea"][ia] + t["eb"][ib]
    mask = (1 << ADD_FRAC_BITS) - 1
    f = e & mask
    near = (f < ADD_EPS) | (f > mask - ADD_EPS)
    fast = np.clip(e >> ADD_FRAC_BITS, lo, hi)
    s = exact_from_bits(t["fa_bits"], t["unit_exp"])[ia] + exact_from_bits(t["fb_bits"], t["unit_exp"])[ib]
    exact = lo + np.searchsorted(t["thresholds"], s, side="right")
    return np.where(near, exact, fast), near


# -- bilinear Resize ------------------------------------------------------------------------
# onnxruntime's float Resize (mode linear, NCHW, UpsampleBilinear): per output row y the
# clamped source coordinate v (float32, ir/ops/resize.py computes it as onnxruntime does),
# y1 = min(int(v), H - 1), y2 = min(y1 + 1, H - 1), dy1 = |v - y1|, dy2 = |v - y2| in float32
# (both 0.5 where y1 == y2); the same along x; then in float32, left to right,
#     out = dx2 dy2 X11 + dx1 dy2 X21 + dx2 dy1 X12 + dx1 dy1 X22     (X21: row y1, column x2)
# with each weight product (dx dy) rounded before it multiplies X. No integer form of this with
# small tables exists (four operands), so the C kernel (mcf_resize_bilinear_s8_ort.c) runs the
# same float32 operations in the same order, built so that no multiply-add is fused (software
# float on cores without an FPU is IEEE-exact too).

def bilinear_axis(a: dict, axis: int, in_size: int, out_size: int):
    """(i1, i2, d1, d2) per output index along one axis: source indices and float32 weights."""
    from ..ir.ops.resize import linear_table
    lo, hi, w = linear_table(a, axis, in_size, out_size)
    v = (lo + w).astype(F32)                    # the clamped float32 coordinate (lo + w is exact)
    d1 = np.abs(v - lo.astype(F32)).astype(F32)
    d2 = np.abs(v - hi.astype(F32)).astype(F32)
    same = lo == hi
    d1[same], d2[same] = F32(0.5), F32(0.5)
    return lo.astype(np.int64), hi.astype(np.int64), d1, d2


def resize_params(node, g) -> dict:
    qi, qo = g.tensors[node.inputs[0]].quant, g.tensors[node.outputs[0]].quant
    return {"in_s": float(F32(qi.s)), "in_zp": int(qi.zp), "out_s": float(F32(qo.s)), "out_zp": int(qo.zp)}


def bilinear_tables(node, in_hw) -> dict:
    """Per-axis source indices and float32 weights of the resize (bilinear_axis on both axes)."""
    (h, w), (oh, ow) = in_hw, (int(d) for d in node.attrs["size"])
    if (oh, ow) == (h, w):   # onnxruntime copies a tensor whose shape the resize keeps
        y1, x1 = np.arange(h), np.arange(w)
        return {"y1": y1, "y2": y1, "x1": x1, "x2": x1,
                **{k: np.full(n, F32(0.5)) for k, n in (("dy1", h), ("dy2", h), ("dx1", w), ("dx2", w))}}
    t = dict(zip(("y1", "y2", "dy1", "dy2"), bilinear_axis(node.attrs, 0, h, oh)))
    t.update(zip(("x1", "x2", "dx1", "dx2"), bilinear_axis(node.attrs, 1, w, ow)))
    return t


def resize_bilinear_f32(node, x, p: dict) -> np.ndarray:
    """Golden model of an int8 NHWC bilinear resize under the ORT rule."""
    t = bilinear_tables(node, x.shape[1:3])
    f = dequantize_f32(x, p["in_s"], p["in_zp"])
    r1, r2 = f[:, t["y1"]], f[:, t["y2"]]
    X11, X21, X12, X22 = r1[:, :, t["x1"]], r1[:, :, t["x2"]], r2[:, :, t["x1"]], r2[:, :, t["x2"]]
    wy1, wy2 = t["dy1"][None, :, None, None], t["dy2"][None, :, None, None]
    wx1, wx2 = t["dx1"][None, None, :, None], t["dx2"][None, None, :, None]
    out = (wx2 * wy2) * X11 + (wx1 * wy2) * X21
    out = out + (wx2 * wy1) * X12
    out = out + (wx1 * wy1) * X22
    return quantize_f32(out.astype(F32), p["out_s"], p["out_zp"], -128, 127).astype(np.int8)
