"""int8 fully connected layers with left-shift channels (requantization multiplier >= 1/2, stored
shift s >= 0) on the DSP extension (Cortex-M4 / M7 / M33): the DSP matrix kernel of the fully
connected layer (mcf_fully_connected_s8_dsp: the 1x1 convolution over `rows` pixels, dsp_gemm.py)
with the shift folded into the channel's weights and bias at compile time, instead of the
portable _fast fallback (mcf_dsp_requant takes right shifts 1..22 only).

Double rounding (TFLite): 2^(s+1) w (the kernel's doubling included) and 2^(s+1) bias', e word 0,
rcz = out_zp, run by the _lsh block kernel (mcf_conv2d_s8_dsp_block_lsh, MCF_CONV_DSP_LSH in
mcf_conv2d_s8_dsp.c): SMMLAR(A, m, zp) = floor((2^s x m + 2^30) / 2^31) + zp = SRDHM(x << s, m) + zp;
right-shift channels keep {2 bias', m, rcz, e | 0xFFFFFF00}. mcf_fully_connected_s8_dsp_lsh.c.
Single rounding (MCF_SINGLE_ROUNDING): the plain kernel itself, 2^(s+2) w and bias', e = 1,
rcz = 1 + 2 out_zp: SMMLA(A, m, rcz) >> 1 = floor(x m 2^s / 2^31 + 1/2) + zp (the rule of
dsp_subbyte.py's _dsp_lss, here prepared once in flash).
Bounds (dsp_subbyte._lsh_ok, checked at compile time): |A| < 2^31 for every partial sum and the
scaled weights in int16; otherwise the layer keeps _fast. Dead channels: dsp_gemm_quant's constants
(the e word of the _lsh kernel as e | 0xFFFFFF00)."""
from __future__ import annotations

import numpy as np

from ..kernel_select import Variant, register_variant
from .dsp_gemm import _dsp_fc_prepare, dead_channels, dsp_gemm_quant
from .dsp_subbyte import _conv_lsh_accepts, _conv_lsh_single_accepts
from .shared import DSP


def left_shifts(consts: dict, rq: dict) -> np.ndarray:
    """Mask of the live channels with a left shift (stored shift >= 0)."""
    _, dead, _ = dead_channels(consts, rq)
    return (np.asarray(consts["shift"], np.int64) >= 0) & ~dead


def dsp_lsh_quant(consts: dict, rq: dict, single: bool, e_word: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """({b, m, rcz, e} per channel, the power s' of the weights' 2^(s'+1)): left-shift channels as
    the module docstring says (s' = s, or s + 1 under single rounding), the others as
    dsp_gemm_quant gives them (s' = 0), their e as the _lsh block kernel's e word under double
    rounding (e_word False: e itself, for the depthwise _lsh kernels, which test e == 0)."""
    left = left_shifts(consts, rq)
    shift = np.asarray(consts["shift"], np.int64)
    s = np.where(left, shift + int(single), 0)
    q = dsp_gemm_quant(dict(consts, shift=np.where(left, -1, shift)), rq).reshape(-1, 4).astype(np.int64)
    q[:, 0] <<= s
    zp = int(rq["out_zp"])
    if single:
        q[left, 2], q[left, 3] = 1 + 2 * zp, 1
    else:
        q[left, 2], q[left, 3] = zp, 0
        if e_word:
            q[~left, 3] -= 256                # e | 0xFFFFFF00 (e in 1..22) as int32
    return q.astype(np.int32).reshape(-1), s


def lsh_arrays(params: dict, consts: dict, single: bool, e_word: bool = True) -> dict:
    """The quant= and left= arguments of the DSP prepare functions (_dsp_conv_prepare and the ones
    built on it, dsp_depthwise's) for a layer with left-shift channels."""
    q, s = dsp_lsh_quant(consts, params["rq"], single, e_word)
    return {"quant": q, "left": s}


def _prepare(params: dict, consts: dict, single: bool) -> dict:
    return _dsp_fc_prepare(params, consts, **lsh_arrays(params, consts, single))


register_variant("mcf_fully_connected_s8", Variant(
    function="mcf_fully_connected_s8_dsp_lsh",
    sources=("mcf_fully_connected_s8_dsp_lsh.c", "mcf_conv2d_s8_dsp_lsh.c", "mcf_conv2d_s8_dsp.c"),
    requires=DSP, accepts=_conv_lsh_accepts, prepare=lambda p, c: _prepare(p, c, single=False)))

register_variant("mcf_fully_connected_s8", Variant(
    function="mcf_fully_connected_s8_dsp", sources=("mcf_fully_connected_s8_dsp.c", "mcf_conv2d_s8_dsp.c"),
    requires=DSP, accepts=_conv_lsh_single_accepts, prepare=lambda p, c: _prepare(p, c, single=True)))
