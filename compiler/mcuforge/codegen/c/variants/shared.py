"""Compile-time preparation shared by the kernel variants: folded biases, accumulator bounds,
per-channel requantization constants and weight reorderings (see runtime_c/include/mcf_opt.h)."""
from __future__ import annotations

import numpy as np

DSP = frozenset({"dsp"})
MVE = frozenset({"mve"})
ACC_FAST_LIMIT = (1 << 30) - 1


def _ceil(x: int, m: int) -> int:
    return (x + m - 1) // m * m



def folded_bias(w: np.ndarray, bias, in_zp: int) -> np.ndarray:
    """bias - in_zp * sum(w) per output channel (int64)."""
    cout = w.shape[0]
    b = np.zeros(cout, np.int64) if bias is None else np.asarray(bias, np.int64)
    return b - int(in_zp) * w.astype(np.int64).reshape(cout, -1).sum(axis=1)


def acc_bound(w: np.ndarray, bias, in_zp: int) -> int:
    """Worst-case |accumulator| of any partial sum with raw int8 inputs and the folded bias."""
    cout = w.shape[0]
    sabs = np.abs(w.astype(np.int64)).reshape(cout, -1).sum(axis=1)
    fb = np.abs(folded_bias(w, bias, in_zp))
    return int((fb + 128 * sabs).max(initial=0))


def dsp_requant_ok(consts: dict, in_zp: int) -> bool:
    """Preconditions of mcf_dsp_requant: |acc| < 2^30, multipliers >= 0, 1 <= -shift <= 22."""
    shift = np.asarray(consts["shift"], np.int64)
    mult = np.asarray(consts["mult"], np.int64)
    return bool(((-shift >= 1) & (-shift <= 22)).all() and (mult >= 0).all()
                and acc_bound(consts["weights"], consts["bias"], in_zp) <= ACC_FAST_LIMIT)


def dsp_quant(consts: dict, in_zp: int, out_zp: int) -> np.ndarray:
    """{2 * bias', multiplier, rcz, e} per channel."""
    fb = folded_bias(consts["weights"], consts["bias"], in_zp)
    e = -np.asarray(consts["shift"], np.int64)
    rcz = (1 << (e - 1)) + int(out_zp) * (1 << e)
    q = np.stack([2 * fb, np.asarray(consts["mult"], np.int64), rcz, e], axis=1)
    return q.astype(np.int32).reshape(-1)


def sxtb16_order(w: np.ndarray) -> np.ndarray:
    """Reorder the last axis (a multiple of 4) in groups of 4 as (w0, w2, w1, w3)."""
    shape = w.shape
    g = w.reshape(shape[:-1] + (shape[-1] // 4, 4))[..., [0, 2, 1, 3]]
    return g.reshape(shape)


def interleave_pairs(wk: np.ndarray, group: int) -> np.ndarray:
    """[C][K] -> channel pairs interleaved per `group` of K: [C/2][K/group][2][group], then the
    odd last channel as [K/group][group]; flattened."""
    c, k = wk.shape
    parts = []
    pairs = c // 2
    if pairs:
        p = wk[:2 * pairs].reshape(pairs, 2, k // group, group).transpose(0, 2, 1, 3)
        parts.append(p.reshape(-1))
    if c % 2:
        parts.append(wk[-1].reshape(-1))
    return np.concatenate(parts)


def conv_segments(win: dict) -> tuple[int, int]:
    """(segment length, number of segments) of a convolution patch: contiguous input bytes."""
    if win["dil_w"] == 1:
        return win["k_w"] * win["in_c"], win["k_h"]
    return win["in_c"], win["k_h"] * win["k_w"]


def segmented_weights(w: np.ndarray, win: dict, mult: int) -> tuple[np.ndarray, int]:
    """Weights [C][k_h][k_w][in_c] -> [C][K4], each segment zero-padded to a multiple of `mult`."""
    L, n_seg = conv_segments(win)
    L4 = _ceil(L, mult)
    c = w.shape[0]
    ws = np.zeros((c, n_seg, L4), np.int64)
    ws[:, :, :L] = w.astype(np.int64).reshape(c, n_seg, L)
    return ws.reshape(c, n_seg * L4), n_seg * L4


def fast_quant(consts: dict, in_zp: int, out_zp: int) -> np.ndarray:
    """Per channel {bias', m, rcz, e} (mcf_opt.h) where the 32-bit requantization is exact for that
    channel (|acc| < 2^29, m >= 0, 1 <= e <= 22), else {bias', 0, 0, 0} (reference requantization).
    2^29, not mcf_opt.h's 2^30: on ARMv6-M the tuned kernels split 2 acc into 16-bit halves and need
    |2 acc| < 2^30 for every partial sum to stay within int32."""
    w = consts["weights"]
    cout = w.shape[0]
    fb = folded_bias(w, consts["bias"], in_zp)
    sabs = np.abs(w.astype(np.int64)).reshape(cout, -1).sum(axis=1)
    bound = np.abs(fb) + 128 * sabs
    mult = np.asarray(consts["mult"], np.int64)
    e = -np.asarray(consts["shift"], np.int64)
    ok = (bound < (1 << 29)) & (mult >= 0) & (e >= 1) & (e <= 22)
    rcz = np.where(ok, (1 << np.clip(e - 1, 0, 30)) + int(out_zp) * (1 << np.clip(e, 0, 30)), 0)
    q = np.stack([fb, np.where(ok, mult, 0), rcz, np.where(ok, e, 0)], axis=1)
    return q.astype(np.int32).reshape(-1)

