"""Depthwise layers with int4 / ternary weights on cores without SIMD (Cortex-M0 / M3):
mcf_depthwise_conv2d_s8_w{4,2}_fastu (runtime_c/include/mcf_subbyte_fastu_dw.h), the DSP cores'
pattern (dsp_subbyte_dw.py) over the int8 tuned portable kernel: the taps, from the portable packing
(base 3 for ternary where smaller, as `_fast`), and the per-channel constants unpacked once per call
into the scratch as mcf_depthwise_conv2d_s8_fast reads them (int32 taps, fast_quant's {bias', m,
rcz, e}), then that kernel runs the layer.

Taken only where every channel has the int8 kernel's 32-bit requantization (fast_quant: e in 1..22,
m >= 0, |bias'| + 128 sum |w| < 2^29): a channel stored with a left shift (e <= 0) would send the
int8 kernel to the reference requantization over int32 multipliers the layer does not store, so such
layers keep `_fast`. Tried before `_fast` (after every DSP / Helium variant) and taken where its
modelled cost (codegen/c/cost.py: fastu_dw_per_mac, the unpacking shared by the layer's output
pixels) is below `_fast`'s."""
from __future__ import annotations

import numpy as np

from ..cost import PER_MAC, fastu_dw_per_mac
from ..kernel_select import VARIANTS, Variant
from .shared import fast_quant


def _accepts(params: dict) -> bool:
    win, consts, rq = params["win"], params["consts"], params["rq"]
    q = fast_quant(consts, rq["in_zp"], rq["out_zp"]).reshape(-1, 4)
    if q.size == 0 or not bool((q[:, 3] > 0).all()):
        return False
    pixels = win["batch"] * win["out_h"] * win["out_w"]
    fast = PER_MAC[f"mcf_depthwise_conv2d_s8_w{params['weight_bits']}_fast"]
    return fastu_dw_per_mac(win["k_h"] * win["k_w"], pixels) < fast


def _prepare(params: dict, consts: dict) -> dict:
    """Scratch (int32): {bias', m, rcz, e} a channel, the taps, an int32 bias a channel (written where
    the layer stores int16 biases: the int8 kernel's windows over the padding read it). Flash: the
    portable packing and constants (no arrays replaced)."""
    win = params["win"]
    c = win["out_c"]
    params["scratch_bytes"] = 4 * (5 * c + c * win["k_h"] * win["k_w"])
    # as `_fast` (the arena plan does not depend on which of the two runs)
    params["inplace_safe"] = False
    return {}


for _bits in (4, 2):
    _k = f"mcf_depthwise_conv2d_s8_w{_bits}"
    _variants = VARIANTS[_k]
    _at = next(i for i, v in enumerate(_variants) if v.function == f"{_k}_fast")
    _variants.insert(_at, Variant(function=f"{_k}_fastu", sources=(f"{_k}_fastu.c", "mcf_depthwise_conv2d_s8_fast.c"),
                                  accepts=_accepts, prepare=_prepare))
