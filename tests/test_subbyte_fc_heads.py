"""Small fully connected heads with int4 / ternary weights on the DSP row kernel: the narrower last
channel group (codegen/c/variants/dsp_fc_radix.py: last_width; runtime_c/include/mcf_subbyte_dsp_fc.h:
mcf_sub_fc_radix16 / 8, and the 4-channel loop for a ternary layer). A layer of C outputs whose
last group holds 1, 2 (or, ternary, 3-4) channels stores that group with 16 / 8 / 4-bit fields, all
offset binary, in the same halfword per input, and runs the narrow loop instead of a full group's.

Checked: the flash layout of the generated library (the narrow group's halfwords), bit-exactness
against tflite-micro (INT4 tensors byte for byte, narrowed int8 tensors within 1 LSB), golden ==
host C == QEMU Cortex-M4, per narrow width and with left-shift channels; and the speed it buys
(256 -> 10 on QEMU M4: ternary was 1.65x int8's instructions with a padded group of 8, int4 1.26x).

The head path (dsp_fc_radix.py: head_ok, K a multiple of 8 up to 504 and at most 12 outputs;
mcf_sub_fc_head): loops that widen the row themselves, int4's first two groups in one 8-channel loop
(words interleaved per 4 inputs), an 8-channel loop ended by a sentinel word, the sum S of the row in
two 16-bit lanes by the first loop, the loop's tail jumping into the output routine. Checked here in
numpy from the flash bytes (every width 1-12, the sentinel never a real word, S's lanes at their
bound), end to end per loop combination (golden == host == QEMU M4, M7 and M33 in the slow run),
and its speed (modelled M4 cycles at or below the int8 row kernel's).
A one-channel last group (16-bit field w + o < 16) happens to decode right under the full loop too
(its field 0), so there the narrow loop is a matter of speed only; a 2- or 4-channel one run by the
full loop differs from the golden model (checked by breaking the choice in the C driver)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mcuforge.codegen.c.variants import dsp_fc_radix as R

from test_subbyte_fc_radix import (M7, M33, _array, _block, by_path, check_fc_row, fc_row_model, group_dots,
                                    x_words)

# name: (model arguments, bits, the last group's width)
HEADS = {
    "int4_10": (dict(k=128, n=10, int4_tensor=True), 4, 2),            # 4 + 4 + 2 (8-bit fields)
    # 4 + 4 + 1, left shifts and ReLU (the output routine with both), K odd
    "int4_9_lsh": (dict(k=61, n=9, int4_tensor=False, dead=(8,), act="relu"), 4, 1),
    "ternary_10": (dict(k=128, n=10, int4_tensor=False, ternary=True), 2, 2),
    "ternary_12_lsh": (dict(k=75, n=12, int4_tensor=False, ternary=True), 2, 4),   # 8 + 4 (4-bit fields)
    "ternary_17": (dict(k=40, n=17, int4_tensor=False, ternary=True, dead=(16,)), 2, 1),
    # fused activations: the output routine's clamp to [lo, hi] (SSUB8 / SEL) on both sides, and ReLU
    "int4_10_relu_n1_to_1": (dict(k=96, n=10, int4_tensor=True, act="relu_n1_to_1"), 4, 2),
    "ternary_10_relu": (dict(k=48, n=10, int4_tensor=False, ternary=True, act="relu"), 2, 2),
    # K = 701 with |w| = 7 needs chunks (mcf_sub_fc_row_chunks): the narrow group's sums added per chunk
    "int4_10_chunked": (dict(k=701, n=10, int4_tensor=True, mag=7), 4, 2),
}


@pytest.mark.parametrize("name", list(HEADS))
def test_narrow_last_group_m4(tmp_path, name):
    spec, bits, width = HEADS[name]
    buf, w = fc_row_model(**spec)
    assert R.last_width(spec["n"], bits) == width
    layer, out, ref = check_fc_row(tmp_path, buf, w, bits, exact=spec["int4_tensor"])
    # the library's flash: the layout with the narrow group, every field of it offset binary
    flash = _array(out, "_weights").astype(np.uint8)
    head = R.head_ok(spec["k"], spec["n"])
    assert np.array_equal(flash, R.fc_radix_layout(w, bits, head)), "weights not in the radix layout"
    steps = -(-spec["k"] // R.STEP_K)
    p = R.CHANNELS[bits]
    sentinel = 4 if head and R.head_wide(spec["n"], bits) else 0
    assert len(flash) == 2 * steps * R.STEP_K * -(-spec["n"] // p) + sentinel    # the padded group's bytes
    assert bool(_block(out) & R.HEAD_FLAG) == head == (spec["k"] % 8 == 0 and spec["n"] <= 12)
    h = flash[-2 * steps * R.STEP_K:].view("<u2").astype(np.int64)          # the last group's halfwords
    b = 16 // width
    fields = (h[:, None] >> (b * np.arange(width))) & ((1 << b) - 1)      # n = w + o, in layout order
    kk = np.arange(steps * R.STEP_K).reshape(-1, 4)[:, [0, 2, 1, 3]].reshape(-1)
    wl = np.zeros((width, steps * R.STEP_K), np.int64)
    wl[:spec["n"] - spec["n"] // p * p, :spec["k"]] = w[spec["n"] // p * p:]
    assert np.array_equal(fields.T, wl[:, kk] + R.OFFSET[bits])
    for d in spec.get("dead", ()):
        assert len(np.unique(ref[:, d])) == 1
    if spec.get("act"):            # outputs on the clamp bounds and inside them
        lo, hi = {"relu": (3, 127), "relu_n1_to_1": (3 - 25, 3 + 25)}[spec["act"]]
        assert ref.min() == lo and (ref > lo).mean() > 0.2 and ref.max() <= hi, (ref.min(), ref.max())
        assert spec["act"] == "relu" or (ref == hi).any()
    chunk = _block(out) & 0xFFFF
    assert (chunk == R.CHUNK_STEPS_MAX[bits] < steps) if "chunked" in name else chunk == steps
    if "lsh" in name:
        n = spec["n"]
        e = _array(out, "_bias")[2 * n:].astype("<i4").view(np.int8)[:n]
        assert (e <= 0).any(), e          # left shifts (the out routine with the test) on a narrow group too


def head_dots(w: np.ndarray, x: np.ndarray, bits: int) -> np.ndarray:
    """What mcf_sub_fc_head computes from the head layout's flash words, loop by loop as the C reads
    them: the 8-channel loop (int4 A_e, B_e, A_o, B_o per 4 inputs; ternary e, o) step by step until
    the next word tests as the sentinel (int4: low field 0; ternary: -1), then the other groups, S
    from the first loop's two int16 lanes, each group's sums decoded and o S taken off."""
    c, k = w.shape
    assert R.head_ok(k, c)
    words = R.fc_radix_layout(w, bits, head=True).view("<u4").astype(np.int64)
    xw = x_words(x, k)
    lanes = np.array([xw[0::2].sum(), xw[1::2].sum()])         # (x0 + x1, x2 + x3) per 4 inputs
    assert (np.abs(lanes) < 1 << 15).all(), lanes                # SADD16 does not wrap
    corr = R.OFFSET[bits] * int(lanes.sum())
    groups = list(R._groups(w, bits))
    n4 = k // 4                                                  # x words of the row
    out, pos = [], 0
    if R.head_wide(c, bits):
        per = 4 if bits == 4 else 2                              # weight words per x word
        steps = 0
        while True:                                              # one step: 2 x words
            blk = words[pos:pos + 2 * per]
            pos += 2 * per
            steps += 1
            nxt = words[pos]
            if (nxt & 15) == 0 if bits == 4 else nxt == 0xFFFFFFFF:
                break
        assert steps == k // R.STEP_K, "the loop stops early or late"
        pos += 1
        blk = words[:pos - 1].reshape(n4, per)
        parts = [blk[:, [0, 2]], blk[:, [1, 3]]] if bits == 4 else [blk]
        for u, (_, p, b, top_offset) in zip(parts, groups):
            d = group_dots(u.reshape(-1), xw, p, b)
            d[:p if top_offset else p - 1] -= corr
            out.extend(d)
        groups = groups[len(parts):]
    for _, p, b, top_offset in groups:
        d = group_dots(words[pos:pos + 2 * n4], xw, p, b)
        pos += 2 * n4
        d[:p if top_offset else p - 1] -= corr
        out.extend(d)
    assert pos == len(words)
    return np.array(out[:c])


@pytest.mark.parametrize("bits", [4, 2])
def test_head_arithmetic(bits):
    rng = np.random.default_rng(11 + bits)
    wmax = 7 if bits == 4 else 1
    for c in range(1, R.HEAD_MAX_OUT + 1):
        for k in (8, 16, 64, 120):
            w = rng.integers(-wmax, wmax + 1, (c, k))
            x = rng.integers(-128, 128, k)
            assert np.array_equal(head_dots(w, x, bits), w @ x), (c, k)
    # the bounds: K = 504, every |w| at its maximum (int4 -7: the low field n = 1, never the sentinel's
    # 0), x all -128 (S's lanes at -32256) or 127
    for c in (8, 12, 3):
        for sign in (-1, 1):
            w = np.full((c, R.HEAD_MAX_K), sign * wmax)
            w[1::2] *= -1
            for xv in (-128, 127):
                x = np.full(R.HEAD_MAX_K, xv)
                assert np.array_equal(head_dots(w, x, bits), w @ x), (c, sign, xv)
    assert R.head_ok(504, 12) and not R.head_ok(512, 8) and not R.head_ok(60, 8) and not R.head_ok(64, 13)
    # the sentinel is no real first word: every 8-channel loop's first word per 4 inputs, all weights
    grid = np.arange(-wmax, wmax + 1)
    for c in (8, 7) if bits == 4 else (8, 5):
        w = np.resize(grid, (c, 8 * len(grid)))
        first = R.fc_radix_layout(w, bits, head=True).view("<u4")[:-1:4 if bits == 4 else 2]
        assert not ((first & 15) == 0 if bits == 4 else first == 0xFFFFFFFF).any()


# name: (model arguments, bits, cores); the loops each runs (mcf_sub_fc_head)
HEAD_CASES = {
    # h4x2 + hq (a full int4 group after the 8-channel loop), the clamp on both sides
    "int4_12_relu_n1": (dict(k=64, n=12, int4_tensor=True, act="relu_n1_to_1"), 4),
    # hq_s (S) + h8, left shifts
    "int4_6_lsh": (dict(k=32, n=6, int4_tensor=False), 4),
    # K = 504 with |w| = 7: the longest head row, S's lanes and the sums at their bounds (x = -128 row)
    "int4_8_k504": (dict(k=504, n=8, int4_tensor=True, mag=7), 4),
    # h2 + hq (4-bit fields, every one offset binary), left shifts and ReLU
    "ternary_11_lsh_relu": (dict(k=56, n=11, int4_tensor=False, ternary=True, act="relu", dead=(9,)), 2),
    # hq_s alone (a narrow group of 3 in 4-bit fields)
    "ternary_3": (dict(k=24, n=3, int4_tensor=False, ternary=True), 2),
}
SLOW_HEAD_CASES = {
    "int4_7_lsh_relu": (dict(k=48, n=7, int4_tensor=False, act="relu", dead=(6,)), 4),      # h4x2, padded B
    "int4_5": (dict(k=40, n=5, int4_tensor=True), 4),                                       # hq_s + h16
    "int4_2": (dict(k=16, n=2, int4_tensor=True), 4),                                       # h8_s, one pass
    "int4_1": (dict(k=16, n=1, int4_tensor=True), 4),                                       # h16_s
    "int4_10": (dict(k=128, n=10, int4_tensor=True), 4),                                    # h4x2 + h8
    "ternary_9": (dict(k=64, n=9, int4_tensor=False, ternary=True), 2),                     # h2 + h16
    "ternary_6": (dict(k=16, n=6, int4_tensor=False, ternary=True), 2),                     # h2_s padded, one pass
    "ternary_2_relu": (dict(k=16, n=2, int4_tensor=False, ternary=True, act="relu"), 2),    # h8_s
}


def _run_head(tmp_path, name, cores=None):
    spec, bits = {**HEAD_CASES, **SLOW_HEAD_CASES}[name]
    buf, w = fc_row_model(**spec)
    layer, out, ref = check_fc_row(tmp_path, buf, w, bits, exact=spec["int4_tensor"], **({"cores": cores, "host": False}
                                                                                        if cores else {}))
    assert R.head_ok(spec["k"], spec["n"])
    block = _block(out)
    assert block & R.HEAD_FLAG and block & 0xFFFF == spec["k"] // R.STEP_K
    # the arena: input, output and the state words (no widened row: 4 words a step before)
    arena = json.loads((out / "model.json").read_text())["arena_bytes"]
    assert arena <= 4 * R.HEAD_STATE_WORDS + spec["k"] + spec["n"] + 24, arena
    assert np.array_equal(_array(out, "_weights").astype(np.uint8), R.fc_radix_layout(w, bits, head=True))
    n = spec["n"]
    e = _array(out, "_bias")[2 * n:].astype("<i4").view(np.int8)[:n]
    assert bool(block & R.LSH_FLAG) == bool((e <= 0).any()), e
    assert "lsh" not in name or (e <= 0).any(), e
    for d in spec.get("dead", ()):
        assert len(np.unique(ref[:, d])) == 1


@pytest.mark.parametrize("name", list(HEAD_CASES))
def test_head_m4(tmp_path, name):
    _run_head(tmp_path, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW_HEAD_CASES))
def test_head_more_m4(tmp_path, name):
    _run_head(tmp_path, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["int4_12_relu_n1", "ternary_11_lsh_relu", "int4_8_k504"])
def test_head_m7_m33(tmp_path, name):
    _run_head(tmp_path, name, cores=(M7, M33))


def test_head_speed_m4(tmp_path):
    """kws_dscnn's 64 -> 12 head, the tightest of the heads (benchmarks/cycle_model.py), one-layer model
    on QEMU Cortex-M4, default kernels, bit-exact with the golden model: modelled M4 cycles (TRM
    table, P = 2) at most the int8 DSP row kernel's (measured 0.949x int4 / 0.945x ternary; 1.078x /
    1.006x before the head path), instructions at most 1.25x (1.182x / 1.206x; 1.192x / 1.193x before)."""
    cm = by_path("cycle_model", "benchmarks/cycle_model.py")
    lm = by_path("layer_models", "tests/kernels/layer_models.py")
    lm.need_qemu()
    so = cm.plugin()
    model, calib, x = lm.build_model([lm.fc_spec(64, 12)], tmp_path / "m.onnx")
    r = {b: cm.build_and_profile(model, calib, [a[:1] for a in x], tmp_path / str(b), b, "m4", so) for b in (8, 4, 2)}
    assert all(p.exact for p in r.values())
    for b in (4, 2):
        assert r[b].cycles[2] <= r[8].cycles[2] and r[b].instructions <= 1.25 * r[8].instructions, \
            (b, r[b].cycles[2], r[8].cycles[2], r[b].instructions, r[8].instructions)
        loops = {f for f in r[b].per_fn_instr if f.startswith("mcf_sub_fc_")}
        wide = "mcf_sub_fc_h4x2" if b == 4 else "mcf_sub_fc_h2"
        assert {wide, "mcf_sub_fc_hq_s"} <= loops and not any("radix" in f or "widen" in f for f in loops), loops
