"""exp and log in float32 for the training step, written as a fixed sequence of float32
operations so that numpy (here) and C (runtime_c, compiled with -ffp-contract=off) give the same
bits. No libm: newlib's expf/logf and numpy's differ in the last bit.

Structure: Cody-Waite range reduction and minimax polynomials as in Cephes expf / logf (public
constants); each line below is one rounded float32 operation, and the C side repeats them in this
order. Valid domains: exp_f for x <= 0 (it is only used on z - max(z)), log_f for normal x > 0.
"""
from __future__ import annotations

import numpy as np

F = np.float32

EXP_LO = F(-80.0)          # exp(-80) = 1.8e-35: normal, so no subnormal products anywhere
LOG2E = F(1.44269504088896341)
LN2_HI = F(0.693359375)
LN2_LO = F(-2.12194440e-4)
EXP_P = [F(1.9875691500e-4), F(1.3981999507e-3), F(8.3334519073e-3),
         F(4.1665795894e-2), F(1.6666665459e-1), F(5.0000001201e-1)]
SQRTHF = F(0.707106781186547524)
LOG_P = [F(7.0376836292e-2), F(-1.1514610310e-1), F(1.1676998740e-1), F(-1.2420140846e-1),
         F(1.4249322787e-1), F(-1.6668057665e-1), F(2.0000714765e-1), F(-2.4999993993e-1),
         F(3.3333331174e-1)]


def _pow2(k: np.ndarray) -> np.ndarray:
    """2**k as float32 from its bits (k in [-126, 127])."""
    return ((k.astype(np.int32) + 127) << 23).astype(np.uint32).view(np.float32)


def _horner(coeffs, v):
    """p = c0; p = p * v + c (product rounded, then sum) for the following coefficients."""
    p = np.full_like(v, coeffs[0])
    for c in coeffs[1:]:
        p = p * v
        p = p + c
    return p


def exp_f(x) -> np.ndarray:
    x = np.maximum(np.asarray(x, F), EXP_LO)            # x = x < -80 ? -80 : x
    t = x * LOG2E
    k = (t - F(0.5)).astype(np.int32)                    # (int32_t)(t - 0.5f): t <= 0, so round to nearest
    kf = k.astype(F)
    r = x - kf * LN2_HI
    r = r - kf * LN2_LO
    p = _horner(EXP_P, r)
    z = r * r
    y = p * z
    y = y + r
    y = y + F(1.0)
    return (y * _pow2(k)).astype(F)


def log_f(x) -> np.ndarray:
    x = np.asarray(x, F)
    bits = x.view(np.uint32)
    e = ((bits >> 23) & 0xFF).astype(np.int32) - 126    # x = m * 2**e, m in [0.5, 1)
    m = ((bits & 0x007FFFFF) | 0x3F000000).astype(np.uint32).view(F)
    small = m < SQRTHF
    e = np.where(small, e - 1, e)
    v = np.where(small, (m + m) - F(1.0), m - F(1.0)).astype(F)
    z = v * v
    p = _horner(LOG_P, v)
    y = p * v
    y = y * z
    ef = e.astype(F)
    y = y + ef * LN2_LO
    y = y - F(0.5) * z
    r = v + y
    r = r + ef * LN2_HI
    return r.astype(F)
