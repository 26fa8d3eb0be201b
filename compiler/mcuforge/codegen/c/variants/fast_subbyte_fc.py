"""Fully connected layers with int4 / ternary weights on cores without SIMD (Cortex-M0 / M3):
mcf_fully_connected_s8_w{4,2}_pair (runtime_c/include/mcf_subbyte_pair.h), two multiply-accumulates
per 32-bit multiply read from the packed word in place, no scratch.

Tried after every DSP / Helium variant and before the tuned C one (_fast, which unpacks a row per
four pixels into int16 scratch and, for the single row of a fully connected layer, reads each field
at random: 7-11x int8's instructions). Flash: the weights offset (w + 8 / w + 1) in unsigned fields,
pair-ordered within each 32-bit word (pair_layout); the bias folded with the input zero point and
the offsets (pair_bias). Ternary rows keep 2-bit fields (2 bits a weight instead of base 3's 1.6)."""
from __future__ import annotations

import numpy as np

from ..kernel_select import VARIANTS, Variant
from .dsp_subbyte import _fast_acc_ok

OFFSET = {4: 8, 2: 1}


def pair_layout(w: np.ndarray, bits: int) -> np.ndarray:
    """[out, K] int weights -> little-endian bytes of the words the kernel reads: per word of
    n = 32 / bits fields and inputs x_0..x_{n-1} of its span, pair s = (a, b) = (4q + r, 4q + r + 2)
    (q, r = divmod(s, 2)) holds w'(b) in field s and w'(a) in field s + n / 2. Channels in pairs,
    the pair's words interleaved (one LDRD); an odd last channel's words follow alone."""
    n = 32 // bits
    out, k = w.shape
    f = (np.asarray(w, np.int64) + OFFSET[bits]).reshape(out, k // n, n)
    s = np.arange(n // 2)
    a = 4 * (s // 2) + s % 2
    fields = np.empty_like(f)
    fields[..., s] = f[..., a + 2]
    fields[..., s + n // 2] = f[..., a]
    words = (fields.astype(np.uint64) << (bits * np.arange(n, dtype=np.uint64))).sum(axis=-1).astype("<u4")
    pairs = out // 2 * 2       # channels in pairs, their words interleaved; an odd last one alone
    # the word count spelled out: with one channel there is no pair and -1 cannot be inferred from 0
    inter = words[:pairs].reshape(pairs // 2, 2, k // n).transpose(0, 2, 1).reshape(-1)
    return np.concatenate([inter, words[pairs:].reshape(-1)]).view(np.uint8)


def pair_bias(consts: dict, in_zp: int, bits: int) -> np.ndarray:
    """B = bias - (128 + zp) Sw - 128 off K per channel (int64; the caller checks its range)."""
    w = np.asarray(consts["weights"], np.int64)
    w = w.reshape(w.shape[0], -1)
    b = np.zeros(w.shape[0], np.int64) if consts["bias"] is None else np.asarray(consts["bias"], np.int64)
    return b - (128 + int(in_zp)) * w.sum(axis=1) - 128 * OFFSET[bits] * w.shape[1]


def _pair_accepts(params: dict) -> bool:
    bits = params["weight_bits"]
    consts = params["consts"]
    if params["in_features"] % (32 // bits) != 0 or not _fast_acc_ok(params):
        return False
    b = pair_bias(consts, params["rq"]["in_zp"], bits)
    return bool(np.abs(b).max() < 2 ** 31 - 2 ** 20) if b.size else True


def _pair_prepare(params: dict, consts: dict) -> dict:
    bits = params["weight_bits"]
    w = np.asarray(consts["weights"]).reshape(params["out_features"], -1)
    params["has_bias"] = True
    return {"weights": ("uint8_t", pair_layout(w, bits)),
            "bias": ("int32_t", pair_bias(consts, params["rq"]["in_zp"], bits).astype(np.int32))}


def insert_before_fast(kernel: str, accepts, prepare, suffix: str = "_pair", extra_sources: tuple = ()):
    """Register <kernel><suffix> just before the tuned C variant <kernel>_fast, for cores without
    SIMD only: on DSP / Helium cores a layer the arena choice passes off its SIMD kernel gets _fast,
    as before (a 640->128 int4 row took _pair there at 2.3x int8's instructions)."""
    variants = VARIANTS[kernel]
    at = next(i for i, v in enumerate(variants) if v.function == f"{kernel}_fast")
    variants.insert(at, Variant(function=f"{kernel}{suffix}", sources=(f"{kernel}{suffix}.c",) + tuple(extra_sources),
                                accepts=accepts, prepare=prepare, excludes=frozenset({"dsp", "mve"})))


for _bits in (4, 2):
    insert_before_fast(f"mcf_fully_connected_s8_w{_bits}", _pair_accepts, _pair_prepare)
