"""Few-pixel convolutions with int4 / ternary weights over one block on the DSP extension
(Cortex-M4 / M7 / M33): the radix form of runtime_c/include/mcf_subbyte_dsp_rdx.h.

The default DSP sub-byte convolution (dsp_subbyte.py) unpacks its blocks into the int8 kernel's
int16 weights at 1.0 instruction a weight; with few output pixels (vww_mbv1_96's 128 -> 256 and
256 -> 256 pointwise layers at 3x3) that is a sixth of the layer. Here the block holds, per group of
G = 4 (int4) / 8 (ternary) channels, G "virtual channels" whose int16 halfwords are SMLAD operands
as they stand: the raw radix halfword h = sum_{j<G-1} (w_j + o) R^j + R^(G-1) w_{G-1} (one per
input k, as the single-row FC's layout, dsp_fc_radix.py) and its prefixes h mod R^(j+1), each one
BIC from the previous (int4 3 per 8 weights, ternary 7 per 16, instead of 6 and 12). The int8 GEMM
loop runs them unchanged with its accumulators stored raw; a decode pass turns the differences of
neighbouring prefix sums into each channel's accumulator (minus o S, S the column's sum) and
requantizes it with the multiplier divided by the field's scale, exact (rdx_ok).

The choice is by cost (sub_dsp_plan's model for the default kernel, rdx_plan's for this one), so
only layers where it pays take it; left-shift channels (_dsp_lsh / _dsp_lss) keep the default
kernels."""
from __future__ import annotations

import numpy as np

from ..kernel_select import Variant, register_variant
from .dsp_gemm import _dsp_gemm_ok
from .dsp_subbyte import IM2COL_PER_K4, IM2COL_PER_SEG, _window, dsp_sub_quant, sub_dsp_budget, sub_dsp_plan
from .shared import DSP, _ceil, conv_segments, segmented_weights

GROUP = {4: 4, 2: 8}          # real channels per radix halfword
OFFSET = {4: 8, 2: 1}         # offset of the low fields
INT32_MAX = (1 << 31) - 1

# Instruction costs on Cortex-M4 (exact QEMU counts of mcf_subbyte_dsp_rdx.h, pointwise 256 -> 256 at 3x3,
# benchmarks/subbyte_fewpix.py --profile), next to dsp_subbyte.py's for the default kernel
UNPACK_RDX = {4: 0.55, 2: 0.57}  # mcf_rdx_unpack4 / 2 per weight (int4 17 per 32, ternary 35 per 64, + row set-up)
CONST_PER_CHANNEL = 30         # mcf_rdx_load_block: virtual biases and {m', rcz, e} per channel
SUM_PER_K4 = 1.8               # mcf_rdx_col_sums per K4 element of a pixel pair
BLOCK_CALL = 130               # per block and chunk: the load / run / decode calls (mcf_conv2d_s8_dsp_run_acc's frame)
ROW_STEP = 20                  # per pair of virtual channels and chunk: pairs_acc_t's step to the next row
DECODE_PIXEL = 17              # per pixel and block: mcf_rdx_decode4 / 2's pixel set-up
OUT_EXTRA = 2.5                # per output: the decode (8.25 an output) less what the GEMM's output stage saves


def rdx_layout(w: np.ndarray, win: dict, bits: int) -> np.ndarray:
    """Weights [C][...] (values of the grid) -> the flash bytes mcf_rdx_unpack4 / 2 read: channels
    zero padded to a multiple of G, per group of G channels and group of 4 K of the int8 DSP
    kernel's segmented patch the words (h(k0) | h(k2) << 16, h(k1) | h(k3) << 16), h as above."""
    g, o, r = GROUP[bits], OFFSET[bits], 1 << bits
    wk, k4 = segmented_weights(np.asarray(w, np.int64), win, 4)
    c = wk.shape[0]
    wp = np.zeros((_ceil(c, g), k4), np.int64)
    wp[:c] = wk
    f = wp.reshape(-1, g, k4)                                 # [group][j][k]
    h = np.zeros((f.shape[0], k4), np.int64)
    for j in range(g - 1):
        h += (f[:, j] + o) << (bits * j)
    h += (f[:, g - 1] & (r - 1)) << (bits * (g - 1))
    h = h.reshape(f.shape[0], k4 // 4, 4)                     # [group][kgroup][k0..k3]
    words = np.stack([h[..., 0] | (h[..., 2] << 16), h[..., 1] | (h[..., 3] << 16)], axis=-1)
    return words.astype("<u4").reshape(-1).view(np.uint8)


def rdx_ok(w: np.ndarray, b2: np.ndarray, m: np.ndarray, e: np.ndarray, bits: int) -> bool:
    """Whether the decode is exact for every channel: channel c sits in field j = c mod G, whose
    difference of prefix sums is d = s_j (W + b') with s_0 = 2 (doubled in the decode), s_j = R^j;
    d must be an int32 (|b'| + 128 sum |w| times s_j < 2^31: raw int8 inputs), and m a multiple
    of s_j / 2 (the multiplier is divided by it, exactly), m >= 0 and 1 <= e <= 22 (the
    requantization of mcf_dsp_requant)."""
    w = np.asarray(w, np.int64).reshape(len(b2), -1)
    b2, m, e = (np.asarray(v, np.int64) for v in (b2, m, e))
    j = np.arange(len(b2)) % GROUP[bits]
    s = np.where(j == 0, 2, 1 << (bits * j))
    bound = (np.abs(b2) // 2 + 128 * np.abs(w).sum(axis=1)) * s
    return bool((bound <= INT32_MAX).all() and (m % (s // 2) == 0).all() and (m >= 0).all()
                and (e >= 1).all() and (e <= 22).all())


def rdx_scratch(k4: int, L: int, block: int, cols: int) -> int:
    """mcf_sub_rdx_gemm's scratch: the columns of `cols` pairs (4 k4 bytes each), the padding
    segment (L4 + 8), the sums (2 words a pair), the accumulator rows (2 cols block words), the
    decode constants (3 block words), the rows (2 bias words and k4 halfwords a pair of virtual
    channels)."""
    return 4 * k4 * cols + _ceil(L, 4) + 8 + 8 * cols + 8 * cols * block + 12 * block + block * (2 * k4 + 4)


def rdx_plan(win: dict, out_c: int, k4: int, L: int, bits: int, budget: int | None = None):
    """(block, cols, modelled instructions) of the radix form within the layer's scratch budget
    (sub_dsp_budget), comparable with sub_dsp_plan's cost (outputs counted as the difference to
    the int8 kernel's requantization); None if no block of G channels fits."""
    g = GROUP[bits]
    out_cp = _ceil(out_c, g)
    n_seg = k4 // _ceil(L, 4)
    npix = win["out_h"] * win["out_w"]
    pairs = (npix + 1) // 2
    images = win.get("batch", 1)
    budget = sub_dsp_budget(k4, L, out_c, budget)
    im2col = IM2COL_PER_K4 * k4 + IM2COL_PER_SEG * n_seg + SUM_PER_K4 * k4
    weights = out_cp * k4

    def cost(block, cols):
        nb = -(-out_cp // block)
        chunks = images * -(-pairs // cols)
        loads = chunks if nb > 1 else 1
        return (images * pairs * im2col + loads * (UNPACK_RDX[bits] * weights + CONST_PER_CHANNEL * out_cp)
                + chunks * (nb * BLOCK_CALL + out_cp // 2 * ROW_STEP)
                + images * npix * (nb * DECODE_PIXEL + OUT_EXTRA * out_c))

    cands = []
    for p in range(1, pairs + 1):
        room = budget - rdx_scratch(k4, L, 0, p)
        b = min(room // (8 * p + 16 + 2 * k4) // g * g, out_cp)
        if b >= g:
            cands.append((b, p))
    if not cands:
        return None
    b, p = min(cands, key=lambda bp: (cost(*bp), rdx_scratch(k4, L, *bp)))
    return b, p, cost(b, p)


def _geometry(params: dict):
    win = _window(params)
    L, n_seg = conv_segments(win)
    return win, L, n_seg * _ceil(L, 4)


def _rdx_accepts(params: dict) -> bool:
    """Convolutions (groups 1) the int8 DSP kernel takes, without a clamp below int8's range, whose
    decode is exact (rdx_ok), and where the radix form's modelled instructions are below the
    default kernel's (the same budget)."""
    if "win" not in params or params.get("groups", 1) != 1 or not _dsp_gemm_ok(params):
        return False
    if params["rq"]["act_min"] > -128 or params["rq"]["act_max"] < 127:
        return False            # the decode has no clamp (a fused activation within int8's range)
    bits = params["weight_bits"]
    consts = params["consts"]
    b2, m, e = dsp_sub_quant(consts, params["rq"])
    if not rdx_ok(consts["weights"], b2, m, e, bits):
        return False
    win, L, k4 = _geometry(params)
    out_c = consts["weights"].shape[0]
    budget = params.get("scratch_budget")
    plan = rdx_plan(win, out_c, k4, L, bits, budget)
    return plan is not None and plan[2] < sub_dsp_plan(win, out_c, k4, L, budget)[2]


def _rdx_prepare(params: dict, consts: dict) -> dict:
    bits = params["weight_bits"]
    win, L, k4 = _geometry(params)
    out_c = consts["weights"].shape[0]
    block, cols, _ = rdx_plan(win, out_c, k4, L, bits, params.get("scratch_budget"))
    b2, m, e = dsp_sub_quant(consts, params["rq"])
    pad = _ceil(out_c, GROUP[bits]) - out_c          # padded channels: zero weights, bias, multiplier
    b2, m, e = (np.concatenate([np.asarray(v, np.int64), np.full(pad, f, np.int64)])
                for v, f in ((b2, 0), (m, 0), (e, 1)))
    params.update(block=block, cols=cols, has_bias=True, inplace_safe=False, scratch_grows=True,
                  scratch_bytes=rdx_scratch(k4, L, block, cols))
    return {"weights": ("uint8_t", rdx_layout(consts["weights"], win, bits)),
            "bias": ("int32_t", b2), "mult": ("int32_t", m), "shift": ("int8_t", e)}


# registered after dsp_subbyte's variants, so tried before them
for _bits in (4, 2):
    register_variant(f"mcf_conv2d_s8_w{_bits}", Variant(
        function=f"mcf_conv2d_s8_w{_bits}_dsp_rdx",
        sources=(f"mcf_conv2d_s8_w{_bits}_dsp_rdx.c", "mcf_conv2d_s8_dsp.c"),
        requires=DSP, accepts=_rdx_accepts, prepare=_rdx_prepare))
