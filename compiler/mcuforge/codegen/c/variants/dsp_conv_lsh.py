"""int8 convolutions (groups 1) and depthwise layers with left-shift channels (requantization
multiplier >= 1/2, stored shift s >= 0) on the DSP extension (Cortex-M4 / M7 / M33), instead of the
portable _fast fallback (mcf_dsp_requant takes right shifts 1..22 only). The int8 DSP kernels keep
their weights as doubled int16 (widened from int8 at compile time), so the shift is folded into a
left-shift channel's int16 weights and bias at compile time, as dsp_fc_lsh.py does for fully
connected layers (its dsp_lsh_quant / lsh_arrays), and the existing kernels run the layer:

- convolution, double rounding (TFLite): 2^(s+1) w, e word 0, rcz = out_zp, the _lsh block kernel
  (mcf_conv2d_s8_dsp_lsh: mcf_conv2d_s8_dsp.c compiled with MCF_CONV_DSP_LSH; one instruction more
  per output; right-shift channels' e as e | 0xFFFFFF00);
- convolution, single rounding (models quantized here): 2^(s+2) w, e = 1, rcz = 1 + 2 out_zp, the
  plain mcf_conv2d_s8_dsp itself;
- depthwise, either rounding: 2^(s+1) taps, e = 0, rcz = out_zp, the _lsh entries of the int8 DSP
  depthwise kernels (mcf_depthwise_conv2d_s8_dsp3x3_lsh / _lsh1: DW3_RQ0; mcf_depthwise_conv2d_s8_dsp_lsh
  / _dsp2_lsh: SMMLAR where e == 0), whose right-shift channels keep mcf_dsp_requant (either rounding):
  for a left shift TFLite's SRDHM(2^s x, m) and the single rule floor(2^s x m / 2^31 + 1/2) are the
  same number, floor((A m + 2^31) / 2^32) with A = 2^(s+1) x.

Bounds (dsp_subbyte._lsh_ok, at compile time): per live channel |A| < 2^31 for every partial sum
(raw int8 inputs, folded bias) and the scaled weights within int16 (one doubling more under single
rounding for the convolution); otherwise the layer keeps _fast. Dead (all-zero) channels: a
constant output (dsp_gemm.dead_channels). Imported before the Helium variants, so that Cortex-M55
tries its own kernels (which take left shifts) first."""
from __future__ import annotations

import numpy as np

from ..kernel_select import Variant, register_variant
from .dsp_depthwise import (_dsp_dw2_accepts, _dsp_dw2_prepare, _dsp_dw3_prepare, _dsp_dw_prepare, dw3_four_planes_fit,
                            dw3_shape_ok)
from .dsp_fc_lsh import left_shifts, lsh_arrays
from .dsp_gemm import _dsp_conv_prepare
from .dsp_subbyte import _conv_lsh_accepts, _conv_lsh_single_accepts, _lsh_ok
from .shared import DSP


# -- convolution (groups 1) -------------------------------------------------------------------------
def _conv_prepare(params: dict, consts: dict, single: bool) -> dict:
    return _dsp_conv_prepare(params, consts, **lsh_arrays(params, consts, single))


register_variant("mcf_conv2d_s8", Variant(
    function="mcf_conv2d_s8_dsp_lsh", sources=("mcf_conv2d_s8_dsp_lsh.c", "mcf_conv2d_s8_dsp.c"), requires=DSP,
    accepts=_conv_lsh_accepts, prepare=lambda p, c: _conv_prepare(p, c, single=False)))

register_variant("mcf_conv2d_s8", Variant(
    function="mcf_conv2d_s8_dsp", sources=("mcf_conv2d_s8_dsp.c",), requires=DSP,
    accepts=_conv_lsh_single_accepts, prepare=lambda p, c: _conv_prepare(p, c, single=True)))


# -- depthwise -------------------------------------------------------------------------------------
def _dw_lsh(params: dict) -> bool:
    """A live channel with a left shift, and _lsh_ok's bounds (either rounding)."""
    consts = params["consts"]
    return bool(left_shifts(consts, params["rq"]).any()) and _lsh_ok(consts, params["rq"])


def _dw_arrays(params: dict, consts: dict) -> dict:
    return lsh_arrays(params, consts, single=False, e_word=False)


# registered in the int8 kernels' order (dsp_depthwise.py), so tried as they are: the 3x3 kernel with
# four planes where they are small, else one; any other shape the general kernel, two planes first
DW_SOURCES = ("mcf_depthwise_conv2d_s8_dsp_lsh.c", "mcf_depthwise_conv2d_s8_dsp.c")

register_variant("mcf_depthwise_conv2d_s8", Variant(
    function="mcf_depthwise_conv2d_s8_dsp_lsh", sources=DW_SOURCES, requires=DSP, accepts=_dw_lsh,
    prepare=lambda p, c: _dsp_dw_prepare(p, c, **_dw_arrays(p, c))))

register_variant("mcf_depthwise_conv2d_s8", Variant(
    function="mcf_depthwise_conv2d_s8_dsp2_lsh", sources=DW_SOURCES, requires=DSP,
    accepts=lambda p: _dsp_dw2_accepts(p, _dw_lsh),
    prepare=lambda p, c: _dsp_dw2_prepare(p, c, **_dw_arrays(p, c))))

register_variant("mcf_depthwise_conv2d_s8", Variant(
    function="mcf_depthwise_conv2d_s8_dsp3x3_lsh1", sources=("mcf_depthwise_conv2d_s8_dsp3x3.c",), requires=DSP,
    accepts=lambda p: dw3_shape_ok(p["win"]) and _dw_lsh(p),
    prepare=lambda p, c: _dsp_dw3_prepare(p, c, 1, **_dw_arrays(p, c))))

register_variant("mcf_depthwise_conv2d_s8", Variant(
    function="mcf_depthwise_conv2d_s8_dsp3x3_lsh", sources=("mcf_depthwise_conv2d_s8_dsp3x3.c",), requires=DSP,
    accepts=lambda p: dw3_shape_ok(p["win"]) and dw3_four_planes_fit(p["win"]) and _dw_lsh(p),
    prepare=lambda p, c: _dsp_dw3_prepare(p, c, 4, **_dw_arrays(p, c))))
