"""Golden semantics of the training kernels in runtime_c/include/mcf_train.h, in numpy float32
with the C kernels' order of additions, so a C training step equals the numpy one bit for bit.

Gradients are float32. An int8 operand is read as float32((q - zp)) * float32(scale) (per tensor
or per channel), which is what `dequant` returns. Every sum is accumulated in float32 one term at
a time in the order the C kernel uses; the loops below run over the reduction index and
vectorize over the outputs, which keeps each output's order of additions.
"""
from __future__ import annotations

import numpy as np

from .train_math import expf, logf

F = np.float32


def dequant(q: np.ndarray, zp: int, scale, axis: int | None = None) -> np.ndarray:
    """int8 -> float32 as mcf_fsrc_at reads it; scale per tensor, or per index of `axis`."""
    v = (q.astype(np.int32) - int(zp)).astype(F)
    s = np.asarray(scale, dtype=F)
    if axis is not None and s.size > 1:
        shape = [1] * q.ndim
        shape[axis] = s.size
        s = s.reshape(shape)
    return (v * s).astype(F)


def _conv_geometry(x_shape, dy_shape, w_shape, strides, dilations, pads, groups):
    n, h, w, cin = x_shape
    _, oh, ow, cout = dy_shape
    _, kh, kw, cg = w_shape
    return n, h, w, cin, oh, ow, cout, kh, kw, cg


def conv2d_wgrad(x, dy, w_shape, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0), groups=1,
                 out_rows=None) -> np.ndarray:
    """dW [out_rows, KH, KW, Cin/groups] of the forward conv2d(x, W) whose output gradient is dy."""
    x, dy = np.asarray(x, F), np.asarray(dy, F)
    n, h, wd, cin, oh, ow, cout, kh, kw, cg = _conv_geometry(x.shape, dy.shape, w_shape, strides, dilations,
                                                              pads, groups)
    rows = cout if out_rows is None else out_rows
    sh, sw = strides
    dh, dw = dilations
    t, l, b, r = pads
    xp = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))
    xp = np.pad(xp, ((0, 0), (0, max(0, (oh - 1) * sh + (kh - 1) * dh + 1 - xp.shape[1])),
                     (0, max(0, (ow - 1) * sw + (kw - 1) * dw + 1 - xp.shape[2])), (0, 0)))
    opg = cout // groups
    chan = (np.arange(rows)[:, None] // opg) * cg + np.arange(cg)[None, :]     # [rows, cg] input channel
    acc = np.zeros((rows, kh, kw, cg), F)
    for i in range(n):
        for oy in range(oh):
            rows_y = xp[i, oy * sh: oy * sh + (kh - 1) * dh + 1: dh]
            for ox in range(ow):
                patch = rows_y[:, ox * sw: ox * sw + (kw - 1) * dw + 1: dw]      # [kh, kw, cin]
                pg = patch[:, :, chan].transpose(2, 0, 1, 3)                     # [rows, kh, kw, cg]
                acc += dy[i, oy, ox, :rows, None, None, None] * pg
    return acc


def conv2d_igrad(dy, w, x_shape, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0), groups=1) -> np.ndarray:
    """dX of conv2d(x, W) from dy and OHWI float32 weights w: taps ky, kx, then the group's channels."""
    dy, w = np.asarray(dy, F), np.asarray(w, F)
    n, h, wd, cin, oh, ow, cout, kh, kw, cg = _conv_geometry(x_shape, dy.shape, w.shape, strides, dilations,
                                                              pads, groups)
    sh, sw = strides
    dh, dw = dilations
    t, l = pads[0], pads[1]
    opg = cout // groups
    ic = np.arange(cin)
    g, icg = ic // cg, ic % cg
    acc = np.zeros((n, h, wd, cin), F)
    for ky in range(kh):
        ty = np.arange(h) + t - ky * dh
        oky = (ty >= 0) & (ty % sh == 0) & (ty // sh < oh)
        oy = np.where(oky, ty // sh, 0)
        for kx in range(kw):
            tx = np.arange(wd) + l - kx * dw
            okx = (tx >= 0) & (tx % sw == 0) & (tx // sw < ow)
            ox = np.where(okx, tx // sw, 0)
            mask = (oky[:, None] & okx[None, :])[None, :, :, None]
            d_pix = dy[:, oy][:, :, ox]                                          # [n, h, w, cout]
            for j in range(opg):
                oc = g * opg + j                                                  # [cin]
                term = d_pix[..., oc] * w[oc, ky, kx, icg]
                acc += np.where(mask, term, F(0.0))
    return acc


def avgpool_backward(dy, x_shape, kernel, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0),
                     count_include_pad=False) -> np.ndarray:
    dy = np.asarray(dy, F)
    n, h, wd, c = x_shape
    _, oh, ow, _ = dy.shape
    kh, kw = kernel
    sh, sw = strides
    dh, dw = dilations
    t, l = pads[0], pads[1]
    dx = np.zeros(x_shape, F)
    for oy in range(oh):
        for ox in range(ow):
            taps = [(oy * sh - t + ky * dh, ox * sw - l + kx * dw) for ky in range(kh) for kx in range(kw)]
            inside = [(iy, ix) for iy, ix in taps if 0 <= iy < h and 0 <= ix < wd]
            count = len(taps) if count_include_pad else len(inside)
            share = dy[:, oy, ox, :] / F(count)
            for iy, ix in inside:
                dx[:, iy, ix, :] += share
    return dx


def act_backward(y, dy, lo, hi) -> np.ndarray:
    """dX = dY where lo < y < hi (y's own units: int8 levels or float)."""
    y = np.asarray(y)
    return np.where((y > lo) & (y < hi), np.asarray(dy, F), F(0.0)).astype(F)


def reduce_sum(x, outer: int, mid: int, inner: int) -> np.ndarray:
    v = np.asarray(x, F).reshape(outer, mid, inner)
    acc = np.zeros((outer, inner), F)
    for m in range(mid):
        acc += v[:, m, :]
    return acc


def broadcast_sum(x, outer: int, mid: int, inner: int, scale: float = 1.0) -> np.ndarray:
    v = np.asarray(x, F).reshape(outer, 1, inner) * F(scale)
    return np.broadcast_to(v, (outer, mid, inner)).astype(F)


def softmax_xent(z, labels) -> tuple[np.float32, np.ndarray]:
    """(mean loss, dZ) of softmax cross-entropy over rows of z [batch, classes]."""
    z = np.asarray(z, F)
    labels = np.asarray(labels).reshape(-1)
    batch, classes = z.shape
    inv_batch = F(1.0) / F(batch)
    zmax = z[:, 0].copy()
    for j in range(1, classes):
        zmax = np.where(z[:, j] > zmax, z[:, j], zmax)
    e = expf(z - zmax[:, None])
    s = np.zeros(batch, F)
    for j in range(classes):
        s += e[:, j]
    rows = np.arange(batch)
    per_row = logf(s) - (z[rows, labels] - zmax)
    total = F(0.0)
    for v in per_row:
        total = F(total + v)
    p = e / s[:, None]
    p[rows, labels] = p[rows, labels] - F(1.0)
    return F(total * inv_batch), (p * inv_batch).astype(F)


def mse(y, t) -> tuple[np.float32, np.ndarray]:
    d = (np.asarray(y, F) - np.asarray(t, F)).reshape(-1)
    n = d.size
    acc = F(0.0)
    for v in d * d:
        acc = F(acc + v)
    return F(acc / F(n)), (d * (F(2.0) / F(n))).astype(F)


def _sgd_step(grad, v, lr, momentum, gscale, ch_axis):
    g = np.asarray(grad, F)
    if gscale is not None:
        s = np.asarray(gscale, F)
        shape = [1] * g.ndim
        shape[ch_axis] = s.size
        g = g * s.reshape(shape)
    if v is not None:
        v[...] = F(momentum) * v + g
        g = v
    return F(lr) * g


def sgd(p: np.ndarray, grad, v=None, lr=0.01, momentum=0.0, gscale=None, ch_axis=0) -> None:
    """In place, as mcf_sgd_f32/_s8/_s32: float params subtract lr*v; int8/int32 params take
    floor(p - lr*v + 0.5) saturated to [-127, 127] / [-2^24, 2^24]."""
    step = _sgd_step(grad, v, lr, momentum, gscale, ch_axis)
    if p.dtype == np.float32:
        p[...] = p - step
        return
    lo, hi = (-127, 127) if p.dtype == np.int8 else (-(1 << 24), 1 << 24)
    t = (p.astype(F) - step) + F(0.5)
    t = np.where(np.isnan(t), F(lo), t)
    p[...] = np.clip(np.floor(t), lo, hi).astype(p.dtype)
