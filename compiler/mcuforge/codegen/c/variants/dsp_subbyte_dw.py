"""Depthwise layers with int4 / ternary weights: every variant, registered here in the order they
are tried (the last registered first), beside the int8 kernels they run.

The pattern of the sub-byte kernels: the taps (k_h k_w a channel, a small share of the work) are
unpacked once per call into the scratch in the layout an int8 depthwise kernel reads, with its
constants, and that kernel runs the layer (runtime_c/include/mcf_subbyte_dsp_dw.h,
mcf_subbyte_mve_dw.h). For every shape where int8 runs a DSP or Helium kernel there is one:
  - Cortex-M55 Helium: depth multiplier 1 (any kernel) over mcf_depthwise_conv2d_s8_mve_ch (`_mve`),
    any multiplier over mcf_depthwise_conv2d_s8_mve (`_mve_gen`, tried after `_mve`);
  - DSP (M4 / M7 / M33): 3x3 / multiplier 1 / dilation 1 over the int8 3x3 kernel (`_dsp`,
    `_dsp_lsh`), any other shape over the int8 general kernel with one or two planes (`_dsp_gen`,
    `_dsp_gen_lsh`); the `_lsh` forms take channels whose multiplier is >= 1/2 (shift >= 0);
  - tuned portable C (`_fast`) everywhere else (no DSP, or the int8 kernels' preconditions fail).
An input channel count of 1 never reaches these (codegen/c/layers/conv.py makes it a convolution)."""
from __future__ import annotations

import numpy as np

from ..kernel_select import Variant, register_variant
from .dsp_depthwise import DSP_DW2_MAX_SCRATCH, dw3_shape_ok, plane_dims
from .dsp_gemm import _dsp_gemm_ok
from .dsp_subbyte import (_dw_dsp_accepts, _dw_dsp_lsh_accepts, _dw_dsp_prepare, _dw_fast_accepts,
                          _dw_fast_prepare, _lsh_ok, _mve_dw_accepts, _mve_dw_prepare, dsp_sub_quant,
                          dsp_sub_quant_lsh, mve_dw_layout)
from .shared import DSP, MVE


# -- DSP, any shape: the int8 general DSP depthwise kernel over taps unpacked at run time ------------
def _dw_gen_shape_ok(win: dict) -> bool:
    """Shapes the 3x3 kernels do not take, horizontal dilation 1: with dil_w > 1 the int8 kernel
    gathers each tap pair from two columns and is no faster than `_fast` (measured 3x3 dilation 2,
    32 channels @16x16 on M4: int8 1.72 M, `_fast` 1.67 M instructions), so those keep `_fast`."""
    return not dw3_shape_ok(win) and win["dil_w"] == 1


def _two_planes(win: dict) -> bool:
    """The int8 kernel's rule for its two-plane form (dsp_depthwise._dsp_dw2_accepts)."""
    ph, pw = plane_dims(win)
    return win["out_c"] == win["in_c"] >= 2 and 4 * ph * pw <= DSP_DW2_MAX_SCRATCH


def _dw_gen_accepts(params: dict, planes: int = 1) -> bool:
    win = params["win"]
    return (_dw_gen_shape_ok(win) and (planes == 1 or _two_planes(win))
            and _dsp_gemm_ok(params))


def _dw_gen_lsh_accepts(params: dict, planes: int = 1) -> bool:
    win, consts = params["win"], params["consts"]
    return (_dw_gen_shape_ok(win) and (planes == 1 or _two_planes(win))
            and bool((np.asarray(consts["shift"]) >= 0).any()) and _lsh_ok(consts, params["rq"]))


PERM = np.array([0, 2, 1, 3])     # byte i of an unpacked field word -> halfword PERM[i] of its four


def halfword_words(h: np.ndarray, bits: int) -> np.ndarray:
    """A stream of halfwords h (values of `bits` bits) -> the flash bytes that mcf_sub_unpack4_words /
    _unpack2_words (mcf_subbyte_dsp.h) turn into the doubled stream, two halfwords a word: zero
    padded to whole 32-bit words, a word holding 8 (int4) / 16 (ternary) halfwords in offset binary:
    field j (4 / 2 bits at 8 i + bits j) of byte i holds h[4 j + PERM[i]] + 8 (int4) / + 1 (ternary),
    so that SSUB8 of one field of the four bytes, doubled, gives (2 h0, 2 h2, 2 h1, 2 h3) as bytes and
    SXTB16 / SXTB16 ROR 8 the words (2 h0, 2 h1), (2 h2, 2 h3)."""
    h = np.asarray(h, np.int64).reshape(-1)
    per = 32 // bits                                  # halfwords a word
    flat = np.zeros(-(-h.size // per) * per, np.int64)
    flat[:h.size] = h
    f = flat.reshape(-1, 8 // bits, 4)[:, :, PERM] + (8 if bits == 4 else 1)    # [word][field j][byte i]
    word = (f << (bits * np.arange(8 // bits))[None, :, None]).sum(axis=1)  # [word][byte i]
    return word.astype(np.uint8).reshape(-1)


def dsp_gen_layout(w: np.ndarray, bits: int) -> np.ndarray:
    """Weights [C][k_h][k_w][1] -> the flash bytes mcf_depthwise_sub_dsp_gen unpacks: the int8 general
    DSP kernel's halfwords (per channel [k_h][2 ceil(k_w / 2)], zero after the last tap of a row) as
    one stream (halfword_words)."""
    w = np.asarray(w, np.int64)
    c, kh, kw = w.shape[0], w.shape[1], w.shape[2]
    kp = (kw + 1) // 2
    h = np.zeros((c, kh, 2 * kp), np.int64)
    h[:, :, :kw] = w.reshape(c, kh, kw)
    return halfword_words(h, bits)


def dsp_dw3_layout(w: np.ndarray, bits: int) -> np.ndarray:
    """Weights [C][3][3][1] -> the flash bytes mcf_depthwise_sub_dsp unpacks: the kernel rows of all
    channels in order (row g = 3 c + r), by pairs Q = 2k, P = 2k + 1, six halfwords a pair
    (Q0, Q1, P0, Q2, P1, P2), a last unpaired row (C odd) as (Q0, Q1, 0, Q2); as one stream
    (halfword_words), 9 C (+ 1) halfwords: the portable packing's 9 fields a channel, so no more
    flash once the arrays are word aligned. Unpacked, a pair is three words a = (2 Q0, 2 Q1),
    x = (2 P0, 2 Q2), b = (2 P1, 2 P2), and the int8 3x3 kernel's rows A = (2 w0, 2 w1), B = (2 w1,
    2 w2) are A_Q = a, B_Q = PKHTB(x, a, ASR 16), A_P = PKHBT(x, b, LSL 16), B_P = b
    (mcf_dw3_sub_spread)."""
    r = np.asarray(w, np.int64).reshape(-1, 3)         # [3 C][3]
    pairs = r.shape[0] // 2
    q, p = r[0:2 * pairs:2], r[1:2 * pairs:2]
    h = np.stack([q[:, 0], q[:, 1], p[:, 0], q[:, 2], p[:, 1], p[:, 2]], axis=1).reshape(-1)
    if r.shape[0] % 2:
        last = r[-1]
        h = np.concatenate([h, [last[0], last[1], 0, last[2]]])
    return halfword_words(h, bits)


def dw3_scratch_bytes(c: int, bits: int, plane_bytes: int) -> int:
    """mcf_depthwise_sub_dsp's scratch: {2 bias', m, rcz, e} (16 bytes a channel), the taps (24 bytes
    a channel), the planes; the unpacked stream sits at the end of the taps (from word floor(3 C / 2))
    and its last flash word's whole group of 4 / 8 words may run into the planes (never past them
    but for one plane of a tiny output)."""
    rows = 3 * c
    hw = 6 * (rows // 2) + 4 * (rows % 2)
    per = 32 // bits
    unpacked = -(-hw // per) * per // 2            # words written by the unpacking
    return 16 * c + max(24 * c + plane_bytes, 4 * (rows // 2 + unpacked))


def _dw_gen_prepare(params: dict, consts: dict, planes: int = 1, lsh: bool = False) -> dict:
    """Scratch: {2 bias', m, rcz, e} (16 bytes a channel), the taps ([k_h][ceil(k_w / 2)] words a
    channel, + 28 bytes: the unpacking writes whole words of fields), the int8 kernel's planes
    (2 PH PW bytes each, + 8). Flash: dsp_gen_layout and 9 bytes of constants a channel."""
    win = params["win"]
    c = win["out_c"]
    ph, pw = plane_dims(win)
    kp = (win["k_w"] + 1) // 2
    params["block"] = planes
    params["has_bias"] = True
    params["scratch_bytes"] = 16 * c + 4 * c * win["k_h"] * kp + 28 + planes * 2 * ph * pw + 8
    # as the int8 kernel: input channel c is in the plane before output channel c is written
    if win["out_c"] == win["in_c"]:
        params["inplace_exact"] = True
    else:
        params["inplace_safe"] = False
    b2, m, e = (dsp_sub_quant_lsh if lsh else dsp_sub_quant)(consts, params["rq"])
    return {"weights": ("uint8_t", dsp_gen_layout(consts["weights"], params["weight_bits"])),
            "bias": ("int32_t", b2), "mult": ("int32_t", m), "shift": ("int8_t", e)}


# -- Cortex-M55 Helium, any depth multiplier: the int8 general Helium kernel ------------------------
def _mve_gen_accepts(params: dict) -> bool:
    """The layers the int8 general Helium kernel takes that `_mve` does not (depth multiplier > 1):
    where both apply, `_mve` reads the compact constants and this one keeps the int8 kernel's wide
    ones in flash, so the kernel choice must not trade `_mve`'s scratch for that flash."""
    from .dsp_subbyte import _mve_dw_accepts as sub_accepts
    from .mve import _mve_dw_accepts as int8_accepts
    return int8_accepts(params) and not sub_accepts(params)


def _mve_gen_prepare(params: dict, consts: dict) -> dict:
    """Scratch: the unpacked int8 weights [out_c][taps] (16-byte aligned, whole vectors), then the
    int8 kernel's offset vectors; `bias` holds its packed_quant ({bias', left, m, -right} a
    channel, then the input zero point row). Flash: the portable order packed (mve_dw_layout)."""
    from .mve import _mve_dw_prepare as int8_prepare
    arrays = int8_prepare(params, consts)
    packed = mve_dw_layout(np.asarray(consts["weights"]).reshape(-1), params["weight_bits"])
    params["scratch_bytes"] = 15 + len(packed) * (8 // params["weight_bits"]) + params["scratch_bytes"]
    params["has_bias"] = True
    params["packed_quant"] = True             # _sub.j2: no mult / shift arrays
    return {"weights": ("uint8_t", packed), "bias": arrays["packed_quant"], "mult": None, "shift": None}


# -- registration: the last registered is tried first ----------------------------------------------
for _bits in (4, 2):
    _k = f"mcf_depthwise_conv2d_s8_w{_bits}"
    register_variant(_k, Variant(
        function=f"{_k}_fast", sources=(f"{_k}_fast.c",), accepts=_dw_fast_accepts, prepare=_dw_fast_prepare))
    _gen = (f"{_k}_dsp_gen.c", "mcf_depthwise_conv2d_s8_dsp.c")
    _gen_lsh = (f"{_k}_dsp_gen_lsh.c", "mcf_depthwise_conv2d_s8_dsp_lsh.c", "mcf_depthwise_conv2d_s8_dsp.c")
    for _planes in (1, 2):      # two planes tried first (the lean choice may pass over to one)
        register_variant(_k, Variant(
            function=f"{_k}_dsp_gen", sources=_gen, requires=DSP,
            accepts=lambda p, n=_planes: _dw_gen_accepts(p, n),
            prepare=lambda p, c, n=_planes: _dw_gen_prepare(p, c, n)))
    for _planes in (1, 2):      # tried before the right-shift-only kernel: only where a channel shifts left
        register_variant(_k, Variant(
            function=f"{_k}_dsp_gen_lsh", sources=_gen_lsh, requires=DSP,
            accepts=lambda p, n=_planes: _dw_gen_lsh_accepts(p, n),
            prepare=lambda p, c, n=_planes: _dw_gen_prepare(p, c, n, lsh=True)))
    register_variant(_k, Variant(
        function=f"{_k}_dsp", sources=(f"{_k}_dsp.c", "mcf_depthwise_conv2d_s8_dsp3x3.c"), requires=DSP,
        accepts=_dw_dsp_accepts, prepare=_dw_dsp_prepare))
    register_variant(_k, Variant(
        function=f"{_k}_dsp_lsh", sources=(f"{_k}_dsp_lsh.c", "mcf_depthwise_conv2d_s8_dsp3x3.c"), requires=DSP,
        accepts=_dw_dsp_lsh_accepts, prepare=lambda p, c: _dw_dsp_prepare(p, c, lsh=True)))
    register_variant(_k, Variant(
        function=f"{_k}_mve_gen", sources=(f"{_k}_mve_gen.c", "mcf_depthwise_conv2d_s8_mve.c"), requires=MVE,
        accepts=_mve_gen_accepts, prepare=_mve_gen_prepare))
    register_variant(_k, Variant(
        function=f"{_k}_mve", sources=(f"{_k}_mve.c", "mcf_depthwise_conv2d_s8_mve_ch.c"), requires=MVE,
        accepts=_mve_dw_accepts, prepare=_mve_dw_prepare))
