"""Single-row fully connected layers with int4 / ternary weights on the DSP extension (Cortex-M4 / M7
/ M33): the "radix" layout of runtime_c/include/mcf_subbyte_dsp_fc.h, prepared at compile time.

One 16-bit halfword holds the weights of one input k for a group of P output channels (P = 4 int4,
8 ternary), field j (j < P) at bits b j (b = 4 or 2): the low fields offset binary n_j = w_j + o
(o = 8 int4, 1 ternary, n_j in [0, 2^b)), the top field the two's complement w_{P-1}. As a signed
halfword it is h = sum_{j<P-1} n_j R^j + R^(P-1) w_{P-1} (R = 2^b; int4 in [-28672, 32767], ternary
in [-16384, 27306]). A word holds the halfwords of inputs (k, k + 2) (words ua, ub per group of 4 K:
(4g, 4g+2), (4g+1, 4g+3)), so that the x operand of SMLAD is the SXTB16-widened word of the row, the
same for every field. With masks m_j = (R - 1) R^j in both halfwords (Thumb-2 immediates):
    r_j   = sum SMLAD(u & m_j, x) = R^j (W_j + o S)           for j < P - 1
    r_top = sum SMLAD(u, x)       = sum_{j<P-1} r_j + R^(P-1) W_{P-1}
(W_j = sum_k w_j,k x_k, S = sum_k x_k), so W_j = (r_j >> bj) - o S and W_{P-1} = (r_top - sum r_j)
>> b(P-1), the difference taken modulo 2^32.

Exactness (chunk_steps): the low sums are exact if |r_j| < 2^31, the top one if
|R^(P-1) W_{P-1}| < 2^31 (then the difference mod 2^32 read as int32 is R^(P-1) W_{P-1} itself).
With |x| <= 128 (raw int8 inputs, the zero point is folded into the bias):
    int4:    |r_j| <= 16^2 * 15 * 128 * Kc,   |W_3| <= 7 * 128 * Kc < 2^19   ->  Kc <= 585
    ternary: |r_j| <= 4^6 * 2 * 128 * Kc,     |W_7| <= 128 * Kc < 2^17       ->  Kc <= 1023
over a chunk of Kc inputs, so the kernel decodes the sums after every chunk of CHUNK_STEPS_MAX steps
(8 K each: 584 / 1016 inputs) and adds the decoded dot products. Where the layer's own weights
prove the same bounds over the whole row (sum |w| instead of Kc max |w|, which is the usual case:
ad_fcae's 640-input int4 layer has sum |w| far below 4096 per channel), the row is one chunk.
The decoded dot products are the int8 contract's (the requantization bound is _lsh_ok's).

Heads (head_ok: K a multiple of 8 up to 504, at most 12 outputs) run their own kernel,
mcf_fully_connected_s8_w4 / w2_dsp_head (mcf_sub_fc_head): no widening pass, each loop widens the row
itself, int4's first two groups in one 8-channel loop whose words are interleaved per 4 K, the
8-channel loop ended by SENTINEL (fc_radix_layout(head=True)), S summed by the first loop in two
int16 lanes (|lane| <= 252 * 128). The same sums mod 2^32, so the same exactness (one chunk).
"""
from __future__ import annotations

import numpy as np

from .shared import _ceil

STEP_K = 8                                  # inputs per step of the assembly loops (4 weight words)
STATE_WORDS = 25                            # after each chunk's x words: 8 sums, 9 saved registers, 8 params
HEAD_STATE_WORDS = 27                       # a head's: and the output routine's body, w (MCF_FC_HOUT, _HW)
CHANNELS = {4: 4, 2: 8}                     # output channels per halfword
OFFSET = {4: 8, 2: 1}                       # offset of the low fields
CHUNK_STEPS_MAX = {4: 585 // STEP_K, 2: 1023 // STEP_K}
INT32_MAX = (1 << 31) - 1
LSH_FLAG = 1 << 16                          # in `block`: some channel shifts left (MCF_SUB_FC_LSH)
HEAD_FLAG = 1 << 17                         # in `block`: the head path (MCF_SUB_FC_HEAD, head_ok)
HEAD_MAX_K = 504                            # S in two int16 lanes: 252 inputs of |x| <= 128 each
HEAD_MAX_OUT = 12                           # one 8-channel loop and one narrower one at most
SENTINEL = {4: 0x00000000, 2: 0xFFFFFFFF}   # after an 8-channel loop's words: a low field n never 0 / 3


def last_width(c: int, bits: int) -> int:
    """Channels P' of the last group of a layer of c output channels: P where the last group is full
    or nearly so, else the narrowest of 1, 2, 4 (< P) that holds the c mod P channels left (fields of
    16 / P' bits: a halfword per input whatever P', so the flash is the same as a padded group's,
    and the loop runs P' channels' work instead of P's: mcf_sub_fc_radix16 / 8 / 4)."""
    p = CHANNELS[bits]
    r = c % p
    if r == 0:
        return p
    return next((q for q in (1, 2, 4) if q < p and r <= q), p)


def _groups(w: np.ndarray, bits: int):
    """The layer's channel groups: (rows [P'][K] zero-padded, P', field bits, top field offset).
    Full groups: P fields of `bits`, the top one two's complement; a narrower last group (last_width):
    P' fields of 16 / P' bits, every one offset binary (n <= 15 << 16 / P' bits: h stays a
    non-negative int16), so its decoded sums all carry o S, as the out routine expects of the
    low fields (it adds o S to field P - 1 only, which such a group does not output)."""
    p = CHANNELS[bits]
    c = w.shape[0]
    q = last_width(c, bits)
    full = c // p * p if q < p else _ceil(c, p)
    wp = np.zeros((_ceil(c, p), w.shape[1]), np.int64)
    wp[:c] = w
    for g in range(0, full, p):
        yield wp[g:g + p], p, bits, False
    if q < p:
        yield wp[full:full + q], q, 16 // q, True


def head_ok(k: int, c: int) -> bool:
    """The head path of mcf_sub_fc_row (mcf_sub_fc_head): no widening pass, each loop widens the row
    itself, so a row whose fixed costs are not spread over many groups. K a multiple of 8 (the loops
    take 8 inputs a pass and read no byte past the row), S within its 16-bit lanes, and at most one
    8-channel loop (c <= 12: a second would widen the row again)."""
    return k % STEP_K == 0 and STEP_K <= k <= HEAD_MAX_K and c <= HEAD_MAX_OUT


def head_wide(c: int, bits: int) -> bool:
    """Whether a head starts with an 8-channel loop (mcf_sub_fc_h4x2: int4 groups 0 and 1 / _h2:
    ternary group 0), as mcf_sub_fc_head decides."""
    return c > (6 if bits == 4 else 4)


def fc_radix_layout(w: np.ndarray, bits: int, head: bool = False) -> np.ndarray:
    """Weights [C][K] (values of the grid) -> the flash bytes: per group of channels (_groups), per
    group of 4 K (K zero-padded to a multiple of 8), the halfwords h(4g), h(4g+2), h(4g+1),
    h(4g+3), little-endian. head (head_ok): the first 8-channel loop's words (head_wide) as it reads
    them, int4 groups 0 and 1 interleaved per 4 K (A(4g, 4g+2), B(4g, 4g+2), A(4g+1, 4g+3),
    B(4g+1, 4g+3)), then SENTINEL; the other groups as above."""
    w = np.asarray(w, np.int64).reshape(np.shape(w)[0], -1)
    k = w.shape[1]
    kp = _ceil(k, STEP_K)
    out = []
    for f, p, b, top_offset in _groups(w, bits):
        fk = np.zeros((p, kp), np.int64)
        fk[:, :k] = f
        n = fk + OFFSET[bits]
        if not top_offset:
            n[-1] = fk[-1] & ((1 << b) - 1)
        h = (n << (b * np.arange(p))[:, None]).sum(axis=0)
        out.append(h.reshape(-1, 4)[:, [0, 2, 1, 3]].reshape(-1) & 0xFFFF)  # per 4 K: h(4g), h(4g+2), h(4g+1), h(4g+3)
    if head and head_wide(w.shape[0], bits):
        words = [(g[0::2] | g[1::2] << 16).reshape(-1, 2) for g in out]     # per 4 K: (e, o) words
        first = words.pop(0)
        if bits == 4:
            other = words.pop(0)
            first = np.stack([first[:, 0], other[:, 0], first[:, 1], other[:, 1]], axis=1)
        lead = np.append(first.reshape(-1), SENTINEL[bits]).astype("<u4").view("<u2")
        out = [lead] + out[2 if bits == 4 else 1:]
    return np.concatenate(out).astype("<u2").view(np.uint8)


def _sums_bounded(w: np.ndarray, bits: int, k0: int, k1: int) -> bool:
    """The exactness bounds of the module docstring over inputs [k0, k1), from the actual weights
    (every group: its low sums, and its top field's R^(P'-1) (W + o S) or R^(P-1) W)."""
    for f, p, b, top_offset in _groups(w, bits):
        f = f[:, k0:k1]
        n = np.abs(f + OFFSET[bits]).sum(axis=1) * 128 << (b * np.arange(p))
        top = n[-1] if top_offset else np.abs(f[-1]).sum() * 128 << (b * (p - 1))
        if (n[:-1] > INT32_MAX).any() or top > INT32_MAX:
            return False
    return True


def chunk_steps(w: np.ndarray, bits: int) -> int:
    """Steps (of 8 inputs) per chunk: the whole row where the layer's weights prove the bounds,
    else CHUNK_STEPS_MAX (proved from |w| <= 7 / 1 alone)."""
    w = np.asarray(w, np.int64).reshape(np.shape(w)[0], -1)
    steps = -(-w.shape[1] // STEP_K)
    if steps <= CHUNK_STEPS_MAX[bits] or _sums_bounded(w, bits, 0, w.shape[1]):
        return steps
    return CHUNK_STEPS_MAX[bits]


def worst_case_ok(bits: int, kc: int) -> bool:
    """The docstring's bounds from |x| <= 128 and |w| <= 7 (1) alone for a chunk of kc inputs, for
    a full group and for every narrower last group (last_width: all fields offset binary, the
    top one R^(P'-1) (W + o S) with |w + o| <= 15 (2))."""
    p, b = CHANNELS[bits], bits
    wmax = 7 if bits == 4 else 1
    nmax = (1 << b) - 1
    low = max(nmax * 128 * kc << (b * j) for j in range(p - 1))
    top = wmax * 128 * kc << (b * (p - 1))
    narrow = max((nmax * 128 * kc << (16 // q) * (q - 1)) for q in (1, 2, 4) if q < p)
    return max(low, top, narrow) <= INT32_MAX


def scratch_bytes(k: int, chunk: int, head: bool = False) -> int:
    """The widened row (4 words a step) and STATE_WORDS after each chunk's words (a head: its state
    words alone)."""
    if head:
        return 4 * HEAD_STATE_WORDS
    steps = -(-k // STEP_K)
    return 4 * (4 * steps + -(-steps // chunk) * STATE_WORDS)


def packed_constants(b2: np.ndarray, m: np.ndarray, e: np.ndarray) -> np.ndarray:
    """The layer's `bias` array: (2 bias', m) per channel (one LDRD), then the int8 exponents four
    a word: 9 bytes a channel as before (mult and shift arrays dropped)."""
    pairs = np.stack([np.asarray(b2, np.int64), np.asarray(m, np.int64)], axis=1).reshape(-1)
    eb = np.zeros(_ceil(len(e), 4), np.int8)
    eb[:len(e)] = e
    return np.concatenate([pairs, eb.view("<i4").astype(np.int64)])


def prepare_fc_row(params: dict, consts: dict, bits: int, b2, m, e) -> dict:
    """params["block"] = the chunk length in steps (mcf_sub_fc_row) | LSH_FLAG where a channel is
    stored with e <= 0 (a left shift) | HEAD_FLAG (head_ok), the scratch, the layout, the packed constants
    (dsp_sub_quant_lsh's b2, m, e)."""
    chunk = chunk_steps(consts["weights"], bits)
    c, k = np.shape(consts["weights"])[0], params["in_features"]
    head = head_ok(k, c)
    params["block"] = chunk | (LSH_FLAG if (np.asarray(e) <= 0).any() else 0) | (HEAD_FLAG if head else 0)
    params["scratch_bytes"] = scratch_bytes(k, chunk, head)
    params["packed_quant"] = True            # _sub.j2: no mult / shift arrays
    return {"weights": ("uint8_t", fc_radix_layout(consts["weights"], bits, head)),
            "bias": ("int32_t", packed_constants(b2, m, e)), "mult": None, "shift": None}
