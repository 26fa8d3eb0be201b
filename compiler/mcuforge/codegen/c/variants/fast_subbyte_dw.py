"""Depthwise layers with int4 / ternary weights on cores without SIMD (Cortex-M0 / M3):
mcf_depthwise_conv2d_s8_w{4,2}_fastu (runtime_c/include/mcf_subbyte_fastu_dw.h), the DSP cores'
pattern (dsp_subbyte_dw.py) over the int8 tuned portable kernel: the taps, from the portable packing
(base 3 for ternary where smaller, as `_fast`), and the per-channel constants unpacked once per call
into the scratch as mcf_depthwise_conv2d_s8_fast reads them (int32 taps, fast_quant's {bias', m,
rcz, e}), then that kernel runs the layer.

Channels where the int8 kernel's 32-bit requantization is not exact (fast_quant: e in 1..22,
m >= 0, |bias'| + 128 sum |w| < 2^29; e.g. a left shift, which the ternary layers' multipliers above
1/2 need) go through its reference requantization, over int32 multipliers and shifts written into
the scratch; the layer needs |bias'| + 128 sum |w| < 2^31 (the accumulator's range). Only on cores without SIMD (as `_pair`: a lean choice on a DSP / Helium core that passes a
layer's DSP scratch over falls back to `_fast`, never here). Tried before `_fast` and taken where its
modelled cost (codegen/c/cost.py: fastu_dw_per_mac, the unpacking shared by the layer's output
pixels) is below `_fast`'s."""
from __future__ import annotations

import numpy as np

from ..cost import PER_MAC, fastu_dw_per_mac
from .fast_subbyte_fc import insert_before_fast
from .shared import folded_bias


def _accepts(params: dict) -> bool:
    win, consts, rq = params["win"], params["consts"], params["rq"]
    w = np.asarray(consts["weights"], np.int64)
    if w.size == 0:
        return False
    fb = folded_bias(w, consts["bias"], rq["in_zp"]).astype(np.int64)
    if not bool((np.abs(fb) + 128 * np.abs(w.reshape(w.shape[0], -1)).sum(axis=1) < 2 ** 31 - 1).all()):
        return False
    pixels = win["batch"] * win["out_h"] * win["out_w"]
    fast = PER_MAC[f"mcf_depthwise_conv2d_s8_w{params['weight_bits']}_fast"]
    return fastu_dw_per_mac(win["k_h"] * win["k_w"], pixels) < fast


def _prepare(params: dict, consts: dict) -> dict:
    """Scratch (int32): {bias', m, rcz, e} a channel, the taps, an int32 bias, multiplier and shift a
    channel (the int8 kernel's windows over the padding read the bias, its reference requantization
    the others). Flash: the portable packing and constants (no arrays replaced)."""
    win = params["win"]
    c = win["out_c"]
    params["scratch_bytes"] = 4 * (7 * c + c * win["k_h"] * win["k_w"])
    # as `_fast` (the arena plan does not depend on which of the two runs)
    params["inplace_safe"] = False
    return {}


for _bits in (4, 2):
    insert_before_fast(f"mcf_depthwise_conv2d_s8_w{_bits}", _accepts, _prepare, suffix="_fastu",
                       extra_sources=("mcf_depthwise_conv2d_s8_fast.c",))
