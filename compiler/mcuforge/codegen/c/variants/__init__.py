"""Optimized kernel variants (DSP SIMD, Helium, tuned portable C) and their compile-time preparation.

Every variant is bit-exact with the portable kernel it replaces (and so with the golden model);
`accepts` states when its preconditions hold (e.g. accumulator bounds that its requantization
relies on), otherwise the layer keeps the portable kernel. Registration order matters: the last
registered variant of a kernel is tried first, so the most specialized (MVE) comes last.

Prepared constants (see runtime_c/include/mcf_opt.h):
  - the input zero point is folded into the bias (raw int8 inputs, padding filled with the zp);
  - DSP: per channel {2 * bias', multiplier, rcz, e}, weights doubled to int16 and reordered;
  - MVE: per channel {bias', multiplier, left shift, -right shift}, int8 weights padded/reordered.
"""
from __future__ import annotations

# one module per instruction set and kernel family; import order is registration order. The int8
# left-shift forms of the DSP kernels (dsp_fc_lsh, dsp_conv_lsh) come before the Helium ones, so
# that Cortex-M55 (which has the DSP extension too) tries its Helium kernels first
from . import (fast, fast_pool, fast_elementwise, gate_elementwise, dsp_gemm, dsp_depthwise, dsp_pool,  # noqa: F401,E402
               dsp_elementwise, dsp_matmul, dsp_fc_lsh, dsp_conv_lsh, mve_pool, mve_elementwise, mve)
from . import upsample  # noqa: F401,E402
from . import dsp_s16  # noqa: F401,E402  (TFLite's 16x8 scheme)
from . import dsp_subbyte  # noqa: F401,E402
from . import dsp_subbyte_dw  # noqa: F401,E402  (every sub-byte depthwise variant, after dsp_subbyte)
from . import dsp_subbyte_rdx  # noqa: F401,E402  (few-pixel sub-byte convolutions, tried before dsp_subbyte's)
from . import fast_subbyte_fc  # noqa: F401,E402  (M0 / M3 sub-byte FC, placed before dsp_subbyte's _fast)
from . import fast_subbyte_conv  # noqa: F401,E402  (M0 / M3 sub-byte conv, the same)
from . import fast_subbyte_dw  # noqa: F401,E402  (M0 / M3 sub-byte depthwise over the int8 _fast kernel, the same)
