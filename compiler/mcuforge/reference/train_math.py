"""exp and log of runtime_c/include/mcf_train_math.h, repeated in numpy float32 operations one
for one, so the golden training step and the C step agree bit for bit (no libm involved)."""
from __future__ import annotations

import numpy as np

F = np.float32


def expf(x) -> np.ndarray:
    x = np.asarray(x, dtype=F)
    x = np.minimum(np.maximum(x, F(-87.0)), F(88.0))
    t = x * F(1.44269502)
    k = np.trunc(t + np.where(t >= 0, F(0.5), F(-0.5)).astype(F)).astype(np.int32)
    kf = k.astype(F)
    r = (x - kf * F(0.693145751953125)) - kf * F(1.42860677e-06)
    p = np.full_like(r, F(1.38888889e-03))
    for c in (8.33333377e-03, 4.16666679e-02, 1.66666672e-01, 0.5, 1.0, 1.0):
        p = p * r + F(c)
    s = ((k + 127).astype(np.uint32) << np.uint32(23)).view(F)
    return (p * s).astype(F)


def logf(x) -> np.ndarray:
    x = np.ascontiguousarray(np.asarray(x, dtype=F))
    u = x.view(np.uint32)
    e = ((u >> np.uint32(23)) & np.uint32(0xFF)).astype(np.int32) - 127
    m = ((u & np.uint32(0x7FFFFF)) | np.uint32(127 << 23)).view(F)
    big = m > F(1.41421354)
    m = np.where(big, m * F(0.5), m).astype(F)
    e = e + big.astype(np.int32)
    s = (m - F(1.0)) / (m + F(1.0))
    s2 = s * s
    p = np.full_like(s, F(2.22222224e-01))
    for c in (2.85714298e-01, 4.00000006e-01, 6.66666687e-01, 2.0):
        p = p * s2 + F(c)
    p = p * s
    ef = e.astype(F)
    return ((ef * F(1.42860677e-06) + p) + ef * F(0.693145751953125)).astype(F)
