"""Optimized sub-byte weight kernels. Cortex-M4 / M7 / M33 DSP extension: convolution (groups 1)
and fully connected layers with int4 or ternary weights (runtime_c/include/mcf_subbyte_dsp.h);
tuned portable C for depthwise (runtime_c/include/mcf_subbyte_ref.h), any core.

The weights stay packed in flash (offset binary, per channel pair and group of 4 K of the int8
DSP kernel's patch); at run time blocks of channels are unpacked into the int8 DSP kernel's
doubled int16 layout in the scratch and that kernel runs them (mcf_subbyte_dsp.h)."""
from __future__ import annotations

import numpy as np

from ..kernel_select import Variant, register_variant
from .dsp_gemm import _dsp_gemm_ok, dsp_gemm_quant, fc_window
from .shared import DSP, MVE, _ceil, conv_segments, folded_bias, segmented_weights


DSP_BLOCK_BYTES = 8192     # scratch for one block of unpacked int16 weights (a layer that fits: one block)


def _window(params: dict) -> dict:
    return params["win"] if "win" in params else fc_window(params)


def dsp_word_layout(w: np.ndarray, win: dict, bits: int, twos: bool = False) -> np.ndarray:
    """Weights [C][...] (values of the grid) -> the flash bytes mcf_subbyte_dsp.h unpacks: per
    channel pair (an odd last channel paired with zeros), per group of 4 K of the int8 DSP
    kernel's segmented patch, int4 one word (byte i = (w0[i] + 8) | (w1[i] + 8) << 4), ternary
    one word per two groups (byte i = (w0[g][i] + 1) | (w1[g][i] + 1) << 2 | (w0[g+1][i] + 1) << 4
    | (w1[g+1][i] + 1) << 6, the groups' count rounded up to even). twos: the same fields as two's
    complement (w & 15, w & 3) instead of offset binary, for the scaled unpacking."""
    wk, k4 = segmented_weights(np.asarray(w, np.int64), win, 4)
    c = wk.shape[0]
    if c % 2:
        wk = np.concatenate([wk, np.zeros((1, k4), np.int64)])
    groups = k4 // 4
    p = wk.reshape(-1, 2, groups, 4)                     # [pair][ch][group][i]
    if bits == 4:
        f = p & 15 if twos else p + 8
        b = f[:, 0] | (f[:, 1] << 4)                      # [pair][group][i]
    else:
        if groups % 2:
            p = np.concatenate([p, np.zeros(p.shape[:2] + (1, 4), np.int64)], axis=2)
        t = (p & 3 if twos else p + 1).reshape(p.shape[0], 2, -1, 2, 4)      # [pair][ch][h][g of the two][i]
        b = t[:, 0, :, 0] | (t[:, 1, :, 0] << 2) | (t[:, 0, :, 1] << 4) | (t[:, 1, :, 1] << 6)
    return b.astype(np.uint8).reshape(-1)


def dsp_sub_quant(consts: dict, rq: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The int8 DSP kernel's {2 * bias', m, rcz, e} as three compact arrays (2 bias', m, e; rcz is
    formed at run time); a dead channel (constant output y) as m = 2^30, e = 1, 2 bias' = 8 (y -
    out_zp), which mcf_dsp_requant turns into exactly y."""
    q = dsp_gemm_quant(consts, rq).reshape(-1, 4).astype(np.int64)
    w = np.asarray(consts["weights"])
    dead = ~w.reshape(w.shape[0], -1).any(axis=1)
    b2, m, e = q[:, 0].copy(), q[:, 1].copy(), q[:, 3].copy()
    y = q[dead, 2] // 2
    b2[dead] = 8 * (y - int(rq["out_zp"]))
    m[dead] = 1 << 30
    e[dead] = 1
    return b2, m, e


def _k(params: dict) -> int:
    if "win" in params:
        win = params["win"]
        return win["k_h"] * win["k_w"] * win["in_c"]
    return params["in_features"]


def _accepts(params: dict) -> bool:
    """Groups 1 and the int8 DSP kernel's preconditions (its accumulator bound, mcf_dsp_requant's);
    a single-row fully connected layer (mcf_sub_fc_row) also takes left shifts (_lsh_ok)."""
    if params.get("rows") == 1 and _lsh_ok(params["consts"], params["rq"]):
        return True
    return params.get("groups", 1) == 1 and _dsp_gemm_ok(params)


def _head_accepts(params: dict) -> bool:
    """A single-row layer the row kernel takes (_accepts) whose shape is a head's (head_ok)."""
    from .dsp_fc_radix import head_ok
    return (params.get("rows") == 1 and head_ok(params["in_features"], np.shape(params["consts"]["weights"])[0])
            and _accepts(params))


# scaled unpacking (mcf_sub_unpack4s_words / 2s): the fields sign-extended in the top bits of their
# bytes give SCALE[bits] times the doubled weights
SCALE = {4: 8, 2: 32}


def scaled_ok(w: np.ndarray, b2: np.ndarray, m: np.ndarray, bits: int) -> bool:
    """Whether a layer may unpack scaled weights (16 w / 64 w): every stored multiplier (dead channels'
    2^30 included) a multiple of SCALE, so m / SCALE is exact and A' (m / SCALE) = A m, and the
    scaled accumulator, SCALE x (|2 bias'| + 2 x 128 sum |w|) per channel, within 2^31 - 1. The
    16-bit-mantissa multipliers the quantizer gives sub-byte layers (quant/subbyte.py:
    mult16_scales) have 15 low zero bits."""
    f = SCALE[bits]
    wabs = np.abs(np.asarray(w, np.int64).reshape(len(b2), -1)).sum(axis=1)
    bound = np.abs(np.asarray(b2, np.int64)) + 256 * wabs
    return bool((np.asarray(m, np.int64) % f == 0).all() and (f * bound <= 2 ** 31 - 1).all())


def _prepare(params: dict, consts: dict, lsh: int = 0) -> dict:
    """lsh (conv layers, and fully connected ones of several rows, with left-shift channels): 1 the
    _lsh block kernel (double rounding), 2 the plain one under single rounding
    (_conv_lsh_single_accepts)."""
    bits = params["weight_bits"]
    win = _window(params)
    L, n_seg = conv_segments(win)
    k4 = n_seg * _ceil(L, 4)
    out_c = consts["weights"].shape[0]
    if params.get("rows") == 1 or lsh:
        b2, m, e = dsp_sub_quant_lsh(consts, params["rq"], extra=int(lsh == 2))
    else:
        b2, m, e = dsp_sub_quant(consts, params["rq"])
    # conv layers without left shifts (the _lsh kernel's channels need 2^(s+1) w) may unpack scaled
    scaled = "win" in params and not lsh and scaled_ok(consts["weights"], b2, m, bits)
    if scaled:      # b2 x SCALE and m / SCALE are formed per block (mcf_sub_block_quant): flash keeps
        params["scaled"] = True     # the unscaled ones, which fit int16 / uint16 where the layer's do
    arrays = {"weights": ("uint8_t", dsp_word_layout(consts["weights"], win, bits, twos=scaled)),
              "bias": ("int32_t", b2), "mult": ("int32_t", m), "shift": ("int8_t", e)}
    params["has_bias"] = True
    if params.get("rows") == 1:          # mcf_sub_fc_row: the radix layout (dsp_fc_radix.py)
        from .dsp_fc_radix import prepare_fc_row
        params["bias32"] = True          # `bias` holds its packed constants (compact_constants leaves it)
        return prepare_fc_row(params, consts, bits, b2, m, e)
    block, cols = sub_dsp_schedule(win, out_c, k4, L, params.get("scratch_budget"),
                                   conv="win" in params)
    params["block"] = block
    if cols:
        params["cols"] = cols
    if block < out_c or cols:
        # the blocks (or the column chunks) read the input again: the output must not overwrite it
        params["inplace_safe"] = False
    params["scratch_bytes"] = sub_dsp_scratch(k4, L, block, cols)
    if block < out_c or cols:
        params["scratch_grows"] = True       # codegen/c/slack.py: more scratch where the arena has it
    return arrays


# -- the order of a multi-block layer: which of im2col and unpacking is repeated -----------------------
# Instruction costs on Cortex-M4 (QEMU counts of mcf_subbyte_dsp.h / mcf_conv2d_s8_dsp.c, rounded up):
UNPACK_PER_WEIGHT = 1.3        # mcf_sub_unpack4 / 2: 20 instructions per 16 weights + calls
BLOCK_OVERHEAD = 60            # per block loaded: constants, calls
IM2COL_PER_K4 = 2.5            # one pixel pair's column per K4 element (widen_seg2: 9 per 4 K)
IM2COL_PER_SEG = 30            # ... and per segment (calls, bounds)
PAIR_CALL = 40                 # one run of a block over one pixel pair (run_pairs' frame, requant set-up)


def sub_dsp_scratch(k4: int, L: int, block: int, cols: int) -> int:
    """Scratch of mcf_sub_dsp_gemm: the columns of max(cols, 1) pixel pairs (4 k4 bytes each), the
    padding segment (L4 + 8), the block's constants (4 block + 2 words), its weights (2 block k4)."""
    return 4 * k4 * max(cols, 1) + _ceil(L, 4) + 8 + 4 * (4 * block + 2) + 2 * block * k4


def sub_dsp_schedule(win: dict, out_c: int, k4: int, L: int, budget: int | None = None,
                     conv: bool = True) -> tuple[int, int]:
    """(block, cols) for mcf_sub_dsp_gemm within `budget` scratch bytes (None: the scratch of the
    DSP_BLOCK_BYTES rule, one pair's columns and blocks of at most that many weight bytes, so the
    arena does not grow over what that rule asked).

    A layer whose unpacked weights fit one block takes it (cols = 0: the int8 kernel as it is).
    Otherwise each candidate is costed (instructions, the constants above): block-outer (cols = 0)
    builds every pair's column once per block; columns kept (cols = P pairs) build them once and
    unpack every block once per chunk of P pairs (once in all when P covers the image). Few-pixel
    layers with many channels (vww_mbv1_96's last pointwise layers: 9 to 36 pixels, 4 to 16
    blocks) keep all their columns; fully connected rows (conv False) keep block-outer."""
    return sub_dsp_plan(win, out_c, k4, L, budget, conv)[:2]


def sub_dsp_budget(k4: int, L: int, out_c: int, budget: int | None) -> int:
    """The scratch budget of a layer: `budget`, or the DSP_BLOCK_BYTES rule's (one pair's columns
    and a block of at most that many weight bytes)."""
    if budget is not None:
        return budget
    b0 = max(2, DSP_BLOCK_BYTES // (2 * k4) // 2 * 2)
    return sub_dsp_scratch(k4, L, min(b0, out_c), 0)


def sub_dsp_plan(win: dict, out_c: int, k4: int, L: int, budget: int | None = None,
                 conv: bool = True) -> tuple[int, int, float]:
    """sub_dsp_schedule's (block, cols) and its modelled instructions (unpacking, im2col, per block
    and pair calls; the multiply loop and the outputs, the same for every candidate, left out)."""
    n_seg = k4 // _ceil(L, 4)
    pairs = (win["out_h"] * win["out_w"] + 1) // 2
    images = win.get("batch", 1)
    budget = sub_dsp_budget(k4, L, out_c, budget)
    im2col = IM2COL_PER_K4 * k4 + IM2COL_PER_SEG * n_seg
    weights = out_c * k4

    def cost(block, cols):
        nb = -(-out_c // block)
        if not cols:
            return images * pairs * (nb * (im2col + PAIR_CALL)) + nb * BLOCK_OVERHEAD + UNPACK_PER_WEIGHT * weights
        chunks = images * -(-pairs // cols)
        loads = chunks if nb > 1 else 1
        return (images * pairs * (im2col + nb * PAIR_CALL)
                + loads * (nb * BLOCK_OVERHEAD + UNPACK_PER_WEIGHT * weights))

    if budget >= sub_dsp_scratch(k4, L, out_c, 0):
        return out_c, 0, cost(out_c, 0)

    def largest_block(cols):
        room = budget - sub_dsp_scratch(k4, L, 0, cols)
        b = room // (16 + 2 * k4) // 2 * 2
        return min(b, out_c) if b >= 2 else 0

    cands = [(largest_block(0), 0)]
    if conv:
        cands += [(largest_block(p), p) for p in range(1, pairs + 1)]
    cands = [(b, p) for b, p in cands if b >= 2]
    if not cands:
        b0 = min(max(2, DSP_BLOCK_BYTES // (2 * k4) // 2 * 2), out_c)
        return b0, 0, cost(b0, 0)
    b, p = min(cands, key=lambda bp: (cost(*bp), sub_dsp_scratch(k4, L, *bp)))
    return b, p, cost(b, p)


# -- tuned portable C --------------------------------------------------------------------------------
def _fast_acc_ok(params: dict) -> bool:
    """mcf_sub_out_fast's bound: |bias| + 255 * sum |w| < 2^29 for every channel."""
    consts = params["consts"]
    w = np.asarray(consts["weights"], np.int64)
    sabs = np.abs(w.reshape(w.shape[0], -1)).sum(axis=1)
    bias = 0 if consts["bias"] is None else np.abs(np.asarray(consts["bias"], np.int64))
    return bool((bias + 255 * sabs < 2 ** 29).all())


def _gemm_fast_accepts(params: dict) -> bool:
    return params.get("groups", 1) == 1 and _fast_acc_ok(params)


def _gemm_fast_prepare(params: dict, consts: dict) -> dict:
    params["scratch_bytes"] = 10 * _k(params)       # one int16 weight row, four int16 patches
    return {}


# registered before the DSP variants, so tried after them: cores without the DSP extension
for _bits in (4, 2):
    register_variant(f"mcf_conv2d_s8_w{_bits}", Variant(
        function=f"mcf_conv2d_s8_w{_bits}_fast", sources=(f"mcf_conv2d_s8_w{_bits}_fast.c",),
        accepts=_gemm_fast_accepts, prepare=_gemm_fast_prepare))
    register_variant(f"mcf_fully_connected_s8_w{_bits}", Variant(
        function=f"mcf_fully_connected_s8_w{_bits}_fast", sources=(f"mcf_fully_connected_s8_w{_bits}_fast.c",),
        accepts=_gemm_fast_accepts, prepare=_gemm_fast_prepare))


for _bits in (4, 2):
    register_variant(f"mcf_conv2d_s8_w{_bits}", Variant(
        function=f"mcf_conv2d_s8_w{_bits}_dsp", sources=(f"mcf_conv2d_s8_w{_bits}_dsp.c", "mcf_conv2d_s8_dsp.c"),
        requires=DSP,
        accepts=_accepts, prepare=_prepare))


def _conv_lsh_accepts(params: dict) -> bool:
    """Groups 1, TFLite's double rounding (the _lsh block kernel's requantization), a live channel
    with shift >= 0, and _lsh_ok's bounds. A dead (all-zero) channel's shift does not count: its
    output is a constant either kernel gives (vww_mbv1_96's pointwise layers have such channels
    and no live left shift, and run the plain kernel, one instruction less per output)."""
    from ....reference.arith import rounding_mode
    from .dsp_gemm import dead_channels
    consts = params["consts"]
    live, _, _ = dead_channels(consts, params["rq"])
    return (params.get("groups", 1) == 1 and rounding_mode() == "double"
            and bool((np.asarray(live["shift"]) >= 0).any()) and _lsh_ok(consts, params["rq"]))


def _conv_lsh_prepare(params: dict, consts: dict) -> dict:
    return _prepare(params, consts, lsh=1)


# Single rounding (models quantized from ONNX): the PLAIN block kernel runs left-shift channels. Its
# requantization is SMMLA(A, m, rcz) >> e (MCF_SINGLE_ROUNDING in mcf_opt.h). A channel with left
# shift s >= 0 (y = acc m 2^(s-31)) gets 2^(s+1) more in its unpacked weights and bias (A = 2^(s+2)
# acc, the int8 doubling included; stored e = -(s+1), mcf_sub_scale_left) and e = 1, rcz = 1 + 2 zp
# (mcf_sub_block_quant, lsh = 2): SMMLA(A, m, 1 + 2 zp) >> 1 = floor((floor(2y) + 1) / 2) + zp =
# floor(y + 1/2) + zp, the single rule. Exact while |A| < 2^31 and |2^(s+2) w| < 2^15 (_lsh_ok, extra 1).
def _conv_lsh_single_accepts(params: dict) -> bool:
    from ....reference.arith import rounding_mode
    from .dsp_gemm import dead_channels
    consts = params["consts"]
    live, _, _ = dead_channels(consts, params["rq"])
    return (params.get("groups", 1) == 1 and rounding_mode() == "single"
            and bool((np.asarray(live["shift"]) >= 0).any()) and _lsh_ok(consts, params["rq"], extra=1))


def _conv_lsh_single_prepare(params: dict, consts: dict) -> dict:
    return _prepare(params, consts, lsh=2)


# tried before the right-shift-only kernel: layers with channels whose multiplier is >= 1/2 (the
# shift folded into the unpacked weights, mcf_sub_scale_left; mcf_conv2d_s8_dsp_block_lsh)
for _bits in (4, 2):
    register_variant(f"mcf_conv2d_s8_w{_bits}", Variant(
        function=f"mcf_conv2d_s8_w{_bits}_dsp_lsh",
        sources=(f"mcf_conv2d_s8_w{_bits}_dsp_lsh.c", "mcf_conv2d_s8_dsp_lsh.c", "mcf_conv2d_s8_dsp.c"),
        requires=DSP, accepts=_conv_lsh_accepts, prepare=_conv_lsh_prepare))
    register_variant(f"mcf_conv2d_s8_w{_bits}", Variant(
        function=f"mcf_conv2d_s8_w{_bits}_dsp_lss",
        sources=(f"mcf_conv2d_s8_w{_bits}_dsp_lss.c", "mcf_conv2d_s8_dsp.c"),
        requires=DSP, accepts=_conv_lsh_single_accepts, prepare=_conv_lsh_single_prepare))
    register_variant(f"mcf_fully_connected_s8_w{_bits}", Variant(
        function=f"mcf_fully_connected_s8_w{_bits}_dsp", sources=(f"mcf_fully_connected_s8_w{_bits}_dsp.c", "mcf_conv2d_s8_dsp.c"),
        requires=DSP, accepts=_accepts, prepare=_prepare))
    # tried first: a classifier head (dsp_fc_radix.py: head_ok) runs mcf_sub_fc_head alone, so a model
    # whose only packed FC layers are heads links none of the general row path's code
    register_variant(f"mcf_fully_connected_s8_w{_bits}", Variant(
        function=f"mcf_fully_connected_s8_w{_bits}_dsp_head", sources=(f"mcf_fully_connected_s8_w{_bits}_dsp_head.c",),
        requires=DSP, accepts=_head_accepts, prepare=_prepare))


# Fully connected layers of several rows (the 1x1 convolution over `rows` pixels, fc_window) with
# left-shift channels: the same two block kernels as the convolutions, under either rounding
# (mcf_fully_connected_sub_dsp's lsh). A single row keeps the radix row kernel, which takes left
# shifts itself (_accepts), so these are tried first but refuse it.
def _fc_rows(params: dict) -> bool:
    return params.get("rows", 1) > 1


for _bits in (4, 2):
    register_variant(f"mcf_fully_connected_s8_w{_bits}", Variant(
        function=f"mcf_fully_connected_s8_w{_bits}_dsp_lsh",
        sources=(f"mcf_fully_connected_s8_w{_bits}_dsp_lsh.c", "mcf_conv2d_s8_dsp_lsh.c", "mcf_conv2d_s8_dsp.c"),
        requires=DSP, accepts=lambda p: _fc_rows(p) and _conv_lsh_accepts(p), prepare=_conv_lsh_prepare))
    register_variant(f"mcf_fully_connected_s8_w{_bits}", Variant(
        function=f"mcf_fully_connected_s8_w{_bits}_dsp_lss",
        sources=(f"mcf_fully_connected_s8_w{_bits}_dsp_lss.c", "mcf_conv2d_s8_dsp.c"),
        requires=DSP, accepts=lambda p: _fc_rows(p) and _conv_lsh_single_accepts(p), prepare=_conv_lsh_single_prepare))


# -- tuned portable C, any core ------------------------------------------------------------------
DW_MAX_K = 64     # MCF_SUB_DW_MAX_K in mcf_subbyte_ref.h


def _dw_fast_accepts(params: dict) -> bool:
    win = params["win"]
    return win["k_h"] * win["k_w"] <= DW_MAX_K and _fast_acc_ok(params)


def _dw_fast_prepare(params: dict, consts: dict) -> dict:
    # channel by channel: output (p, c) is written before input (p', c) of later pixels is read,
    # so the output must not share bytes with the input
    params["inplace_safe"] = False
    return {}


# registered in dsp_subbyte_dw.py (every depthwise variant, in the order they are tried)


# -- DSP depthwise 3x3: the int8 DSP 3x3 kernel over taps unpacked at run time ---------------------
def _dw_dsp_accepts(params: dict) -> bool:
    from .dsp_depthwise import _dsp_dw3_fits
    return _dsp_dw3_fits(params)


def _dw_dsp_prepare(params: dict, consts: dict, lsh: bool = False) -> dict:
    """Scratch: the taps ({2 bias', m, rcz, e} and 12 int16 a channel), then the int8 kernel's planes
    (four where its own rule takes four, else one); the weights in the unpacking's flash layout
    (dsp_subbyte_dw.py: dsp_dw3_layout, the portable packing's size)."""
    from .dsp_depthwise import dw3_four_planes_fit, dw3_plane_dims
    from .dsp_subbyte_dw import dsp_dw3_layout, dw3_scratch_bytes
    c = consts["weights"].shape[0]
    planes = 4 if dw3_four_planes_fit(params["win"]) else 1
    ph, pw = dw3_plane_dims(params["win"])
    params["block"] = planes
    params["has_bias"] = True
    params["scratch_bytes"] = dw3_scratch_bytes(c, params["weight_bits"], planes * 2 * ph * pw)
    params["inplace_exact"] = True      # as the int8 kernel: planes filled before outputs written
    b2, m, e = (dsp_sub_quant_lsh if lsh else dsp_sub_quant)(consts, params["rq"])
    return {"weights": ("uint8_t", dsp_dw3_layout(consts["weights"], params["weight_bits"])),
            "bias": ("int32_t", b2), "mult": ("int32_t", m), "shift": ("int8_t", e)}


# registered in dsp_subbyte_dw.py


# -- the same for layers with requantization multipliers >= 1/2 (shift >= 0) ------------------------
# A ternary channel's scale (mean |w|) is far above int8's (max |w| / 127), so the multipliers of
# narrowed depthwise layers reach 2^3 (vww_mbv1_96, kws_dscnn). TFLite: y = RDBPOT(SRDHM(x << s, m), 0)
# = floor((2^s x m + 2^30) / 2^31) for a left shift s >= 0 (single rounding gives the same number).
# The shift is folded into the unpacked taps and the bias at 2^(s+1) (the int8 kernel's doubling
# included), so the kernel's accumulator is A = 2^(s+1) x and y = floor((A m + 2^31) / 2^32) + zp =
# SMMLAR(A, m, zp): the _lsh entries of mcf_depthwise_conv2d_s8_dsp3x3.c (DW3_RQ0). Channels with a
# right shift keep mcf_dsp_requant. Exact while |A| < 2^31 and the taps fit int16 (_lsh_ok).
DW_LSH_TAP_MAX = (1 << 15) - 1


def _lsh_ok(consts: dict, rq: dict, extra: int = 0) -> bool:
    """Per live channel: m >= 0; a right shift e = -shift in 1..22 with acc bound <= 2^30 - 1, or a
    left shift s = shift >= 0 with 2^(s+extra) x (acc bound) <= 2^30 - 1 and the taps |w| 2^(s+1+extra)
    in int16 (extra = 1: the single-rounding form's one more doubling, _conv_lsh_single_accepts).
    The bound covers every partial sum (raw int8 inputs, folded bias), so no SMLAD wraps and the
    golden model's int32 x << s does not wrap either."""
    from .dsp_gemm import dead_channels
    from .shared import ACC_FAST_LIMIT, folded_bias
    live, _, _ = dead_channels(consts, rq)
    w = np.asarray(live["weights"], np.int64)
    c = w.shape[0]
    shift = np.asarray(live["shift"], np.int64)
    mult = np.asarray(live["mult"], np.int64)
    wabs = np.abs(w.reshape(c, -1))
    bound = np.abs(folded_bias(w, live["bias"], rq["in_zp"])) + 128 * wabs.sum(axis=1)
    s = np.maximum(shift, 0) + np.where(shift >= 0, extra, 0)
    return bool((mult >= 0).all() and (shift >= -22).all() and (shift <= 14).all()
                and (bound << s <= ACC_FAST_LIMIT).all() and (wabs.max(axis=1, initial=0) << (s + 1) <= DW_LSH_TAP_MAX).all())


def dsp_sub_quant_lsh(consts: dict, rq: dict, extra: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dsp_sub_quant with channels of shift s >= 0 as (2^(s+1) bias', m, e = -s): the kernel widens
    their taps by 2^(s+1) (mcf_depthwise_sub_dsp) and requantizes them with e = 0, rcz = out_zp.
    extra = 1 (single rounding, plain kernel): (2^(s+2) bias', m, e = -(s+1)), requantized with
    e = 1, rcz = 1 + 2 out_zp (mcf_sub_block_quant)."""
    w = np.asarray(consts["weights"])
    shift = np.asarray(consts["shift"], np.int64)
    left = (shift >= 0) & w.reshape(w.shape[0], -1).any(axis=1)     # dead channels: dsp_sub_quant's
    s = np.where(left, shift + extra, 0)
    b2, m, e = dsp_sub_quant(dict(consts, shift=np.where(left, -1, shift)), rq)
    return b2 << s, m, np.where(left, -s, e)


def _dw_dsp_lsh_accepts(params: dict) -> bool:
    from .dsp_depthwise import dw3_shape_ok
    consts = params["consts"]
    return (dw3_shape_ok(params["win"]) and bool((np.asarray(consts["shift"]) >= 0).any())
            and _lsh_ok(consts, params["rq"]))


# registered in dsp_subbyte_dw.py, after the right-shift-only kernel (tried before it)


# -- Cortex-M55 Helium convolution: the int8 Helium kernel over blocks unpacked at run time -------
MVE_BLOCK_BYTES = 8192     # scratch for one block of unpacked int8 weights


def mve_sub_layout(w: np.ndarray, bits: int) -> np.ndarray:
    """Weights [C][...] -> the flash bytes mcf_subbyte_mve.h unpacks: per group of 4 channels
    (zero padded) and 16 K (zero padded), int4 32 bytes (ch0 | ch1 << 4, then ch2 | ch3 << 4),
    ternary 16 bytes (ch0 | ch1 << 2 | ch2 << 4 | ch3 << 6), two's complement fields."""
    from .mve import mve_weights4x16
    k16 = _ceil(int(np.prod(w.shape[1:])), 16)
    x = mve_weights4x16(w).astype(np.int64).reshape(-1, k16 // 16, 4, 16) & ((1 << bits) - 1)   # [G][KB][4][16]
    if bits == 4:
        b = np.stack([x[:, :, 0] | (x[:, :, 1] << 4), x[:, :, 2] | (x[:, :, 3] << 4)], axis=2)
    else:
        b = x[:, :, 0] | (x[:, :, 1] << 2) | (x[:, :, 2] << 4) | (x[:, :, 3] << 6)
    return b.astype(np.uint8).reshape(-1)


def mve_sub_layout3(w: np.ndarray, block: int) -> np.ndarray:
    """Ternary weights [C][...] -> the base-3 flash bytes mcf_subbyte_mve.h unpacks (1.6 bits a
    weight instead of 2): the int8 Helium kernel's vectors ([C4 / 4][K16 / 16][4][16], zero
    padded) of each block of `block` channels, zero padded to a multiple of 5 vectors, and per run
    of 5 vectors 16 bytes, byte i the five trits w + 1 of lane i (first vector most significant;
    quant/subbyte.py: pack_base3). Blocks are packed apart (each starts at a whole run)."""
    from ....quant.subbyte import pack_base3
    from .mve import mve_weights4x16
    k16 = _ceil(int(np.prod(w.shape[1:])), 16)
    vecs = mve_weights4x16(w).reshape(-1, 16)                    # [G][KB][4] vectors, in order
    per = _ceil(block, 4) * k16 // 16                            # vectors of a whole block
    out = []
    for b0 in range(0, vecs.shape[0], per):
        v = vecs[b0:b0 + per]
        v = np.concatenate([v, np.zeros((_ceil(len(v), 5) - len(v), 16), np.int8)])
        out.append(pack_base3(v.reshape(-1, 5, 16).transpose(0, 2, 1)))
    return np.concatenate(out)


def _mve_accepts(params: dict) -> bool:
    from .mve import _mve_conv_accepts
    return _mve_conv_accepts(params)


def mve_compact_quant(params: dict, consts: dict) -> dict:
    """The Helium kernels' per-channel constants as the compact arrays they read
    (mcf_subbyte_mve_quant.h): the folded bias (bias - in_zp * sum(w), the kernels read raw int8
    inputs), multiplier and shift; codegen/c/layers/subbyte.py narrows the first two to int16 /
    uint16 where the layer's values allow (compact_constants)."""
    params["has_bias"] = True
    return {"bias": ("int32_t", folded_bias(consts["weights"], consts["bias"], params["rq"]["in_zp"])),
            "mult": ("int32_t", np.asarray(consts["mult"], np.int64)),
            "shift": ("int8_t", np.asarray(consts["shift"], np.int64))}


def _mve_prepare(params: dict, consts: dict) -> dict:
    from .mve import mve_mode
    win = params["win"]
    kpad = _ceil(win["k_h"] * win["k_w"] * win["in_c"], 16)
    out_c = consts["weights"].shape[0]
    block = max(4, MVE_BLOCK_BYTES // kpad // 4 * 4)
    block = out_c if block >= out_c else block
    params["block"] = block
    if block < out_c:
        params["inplace_safe"] = False       # every block reads the whole input again
    mode = mve_mode(consts["shift"])         # a block's mode (mcf_sub_mve_mode) never needs more words
    qstride = 12 + 4 * (mode & 1) + 4 * (mode >> 1)
    wbytes = _ceil(block, 4) * kpad
    if params["weight_bits"] == 2:           # base 3, unpacked in runs of 5 vectors
        params["base3"] = True
        wbytes = _ceil(wbytes, 80)
        weights = mve_sub_layout3(consts["weights"], block)
    else:
        weights = mve_sub_layout(consts["weights"], 4)
    # the two patches, the block's unpacked weights, its expanded constants (mve_quant_conv)
    params["scratch_bytes"] = 16 + 2 * kpad + wbytes + 4 * (4 + qstride * _ceil(block, 4) // 4)
    return dict(mve_compact_quant(params, consts), weights=("uint8_t", weights))


for _bits in (4, 2):
    register_variant(f"mcf_conv2d_s8_w{_bits}", Variant(
        function=f"mcf_conv2d_s8_w{_bits}_mve", sources=(f"mcf_conv2d_s8_w{_bits}_mve.c", "mcf_conv2d_s8_mve.c"),
        requires=MVE, accepts=_mve_accepts, prepare=_mve_prepare))


# -- Cortex-M55 Helium fully connected: fields read in place (runtime_c/include/mcf_subbyte_mve_fc.h) -
def mve_fc_layout(w: np.ndarray, bits: int) -> np.ndarray:
    """Weights [C][K] -> per group of 4 channels (zero padded) and 16 K (zero padded) the bytes of
    mcf_subbyte_mve_fc.h, each a signed number holding its fields: int4 32 bytes, byte i of the
    first 16 = (w0[i] + 8) | (w1[i] & 15) << 4, of the next 16 the same of w2, w3; ternary 16 bytes,
    byte i = (w0 + 1) | (w1 + 1) << 2 | (w2 + 1) << 4 | (w3 & 3) << 6."""
    from .mve import mve_weights4x16
    k16 = _ceil(int(np.prod(w.shape[1:])), 16)
    x = mve_weights4x16(w).astype(np.int64).reshape(-1, k16 // 16, 4, 16)      # [G][KB][4][16]
    if bits == 4:
        b = np.stack([(x[:, :, 0] + 8) | ((x[:, :, 1] & 15) << 4), (x[:, :, 2] + 8) | ((x[:, :, 3] & 15) << 4)], axis=2)
    else:
        b = (x[:, :, 0] + 1) | ((x[:, :, 1] + 1) << 2) | ((x[:, :, 2] + 1) << 4) | ((x[:, :, 3] & 3) << 6)
    return b.astype(np.uint8).reshape(-1)


def _mve_fc_accepts(params: dict) -> bool:
    from .mve import mve_accepts
    return mve_accepts(params["consts"], params["rq"]["in_zp"])


def _mve_fc_prepare(params: dict, consts: dict) -> dict:
    """No scratch; the compact constants zero padded to whole groups of 4 channels (the kernel's
    loads are whole vectors); `mve_mode` (1: some channel shifts left) picks the kernel's build."""
    from .mve import mve_mode
    params["scratch_bytes"] = 0
    params["mve_mode"] = mve_mode(consts["shift"])
    arrays = mve_compact_quant(params, consts)
    for what, (ctype, v) in arrays.items():
        arrays[what] = (ctype, np.concatenate([v, np.zeros(_ceil(len(v), 4) - len(v), np.int64)]))
    arrays["weights"] = ("uint8_t", mve_fc_layout(consts["weights"], params["weight_bits"]))
    return arrays


for _bits in (4, 2):
    register_variant(f"mcf_fully_connected_s8_w{_bits}", Variant(
        function=f"mcf_fully_connected_s8_w{_bits}_mve", sources=(f"mcf_fully_connected_s8_w{_bits}_mve.c",),
        requires=MVE, accepts=_mve_fc_accepts, prepare=_mve_fc_prepare))


# -- Cortex-M55 Helium depthwise: the int8 Helium kernel over taps unpacked at run time ------------
def mve_dw_layout(wt: np.ndarray, bits: int) -> np.ndarray:
    """The int8 Helium depthwise kernel's weights ([C4 / 4][taps][4], flattened) zero padded to whole
    vectors (32 int4 / 64 ternary weights) and packed in order, two's complement fields, element i
    of a run of 8 / bits in bits (i mod per) * bits (mcf_subbyte_mve_dw.h unpacks with VST2 / VST4)."""
    per = 8 // bits
    n = _ceil(len(wt), 128 // bits)
    f = np.zeros(n, np.int64)
    f[:len(wt)] = np.asarray(wt, np.int64) & ((1 << bits) - 1)
    return (f.reshape(-1, per) << (bits * np.arange(per))).sum(axis=1).astype(np.uint8)


def _mve_dw_accepts(params: dict) -> bool:
    from .mve import _mve_dwc_accepts
    return _mve_dwc_accepts(params)


def _mve_dw_prepare(params: dict, consts: dict) -> dict:
    """Scratch: the unpacked int8 weights (16-byte aligned), the int8 kernel's packed_quant expanded
    from the compact constants (mode and 3 padding words, mve_quant4: 20 bytes a channel, the
    input zero point row), then its column table."""
    from .mve import _mve_dwc_prepare
    arrays = _mve_dwc_prepare(params, consts)
    params.pop("drop", None)                  # "weights" is replaced by the packed taps
    wt = arrays["packed_weights"][1]
    packed = mve_dw_layout(wt, params["weight_bits"])
    c4 = _ceil(params["win"]["out_c"], 4)
    quant = 16 + 20 * c4 + _ceil(c4, 16)
    params["scratch_bytes"] = 15 + len(packed) * (8 // params["weight_bits"]) + quant + params["scratch_bytes"]
    return dict(mve_compact_quant(params, consts), weights=("uint8_t", packed))


# registered in dsp_subbyte_dw.py
