"""Small fully connected heads with int4 / ternary weights on the DSP row kernel: the narrower last
channel group (codegen/c/variants/dsp_fc_radix.py: last_width; runtime_c/include/mcf_subbyte_dsp_fc.h:
mcf_sub_fc_radix16 / 8, and the 4-channel loop for a ternary layer). A layer of C outputs whose
last group holds 1, 2 (or, ternary, 3-4) channels stores that group with 16 / 8 / 4-bit fields, all
offset binary, in the same halfword per input, and runs the narrow loop instead of a full group's.

Checked: the flash layout of the generated library (the narrow group's halfwords), bit-exactness
against tflite-micro (INT4 tensors byte for byte, narrowed int8 tensors within 1 LSB), golden ==
host C == QEMU Cortex-M4, per narrow width and with left-shift channels; and the speed it buys
(256 -> 10 on QEMU M4: ternary was 1.65x int8's instructions with a padded group of 8, int4 1.26x).
A one-channel last group (16-bit field w + o < 16) happens to decode right under the full loop too
(its field 0), so there the narrow loop is a matter of speed only; a 2- or 4-channel one run by the
full loop differs from the golden model (checked by breaking the choice in the C driver)."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.codegen.c.variants import dsp_fc_radix as R

from test_subbyte_fc_radix import _array, _block, check_fc_row, fc_layer_instructions, fc_row_model

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
    assert np.array_equal(flash, R.fc_radix_layout(w, bits)), "weights not in the radix layout"
    steps = -(-spec["k"] // R.STEP_K)
    p = R.CHANNELS[bits]
    assert len(flash) == 2 * steps * R.STEP_K * -(-spec["n"] // p)          # the padded group's bytes
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


def test_head_speed_m4(tmp_path):
    """256 -> 10 on QEMU Cortex-M4, one-layer model, default kernels, bit-exact with the golden model:
    at most 1.16x (int4) / 1.19x (ternary) the int8 DSP row kernel's instructions (measured 1.10x /
    1.13x against the int8 kernel without its per-quad memset, 3,080 instructions; with a padded
    last group the sub-byte layer took 1.26x / 1.65x of the int8 kernel WITH it)."""
    n = fc_layer_instructions(tmp_path, 256, 10)
    assert n[4] <= 1.16 * n[8] and n[2] <= 1.19 * n[8], n
