"""Sub-byte depthwise 3x3 (multiplier 1, dilation 1) on the DSP cores: `_dsp` / `_dsp_lsh` read
their taps from a flash layout of their own (codegen/c/variants/dsp_subbyte_dw.py: dsp_dw3_layout)
that the convolution's assembly unpacking loops turn into doubled int16 pairs, two kernel rows as
three words, and two PKHs a row pair spread into the int8 3x3 kernel's A = (2 w0, 2 w1),
B = (2 w1, 2 w2) rows (runtime_c/include/mcf_subbyte_dsp_dw.h: mcf_dw3_sub_spread).

- the layout decoded in numpy as the C code reads it gives exactly the int8 kernel's rows, odd
  channel counts (a last unpaired row) included, in no more bytes than the portable packing once
  word aligned (the weights arrays are: templates/c/weights.c.j2);
- golden == QEMU M4 (M7 / M33 @slow) byte for byte: both widths, 1..13 channels (odd and even,
  partial last flash words, one and four planes), stride 1 and 2, ReLU, the kernel asserted;
  the host build runs the portable kernels (test_subbyte.py);
- left-shift channels (`_dsp_lsh`): test_subbyte_lsh.test_depthwise_left_shift_dsp (tflite-micro
  oracle), and here with an odd channel count;
- the unpacking costs few instructions: int4 / ternary at most 1.08x int8 on a 3x3 @ 512 channel
  layer with 3x3 outputs (the layer whose taps weigh the most against its MACs)."""
from __future__ import annotations

import numpy as np
import pytest

from kernels.layer_models import build_model, dw_spec
from mcuforge.api import compile_model, simulate
from mcuforge.codegen.c.variants.dsp_subbyte_dw import PERM, dsp_dw3_layout, dw3_scratch_bytes
from mcuforge.quant.subbyte import pack_weights
from test_subbyte import BOARDS, _toolchain, run_subbyte


def decode_rows(flash: np.ndarray, c: int, bits: int) -> np.ndarray:
    """What mcf_depthwise_sub_dsp leaves in the scratch, as numpy: the unpacked halfword stream
    (mcf_sub_unpack4_words / _unpack2_words: field j of byte i -> halfword 4 j + PERM[i], minus the
    offset, doubled), then the spread of each row pair (a, x, b) -> a, PKHTB(x, a), PKHBT(x, b), b
    and of a last unpaired row (a, x) -> a, PKHTB(x, a). Returns [C][3][4] halfwords."""
    words = flash.view(np.uint8).reshape(-1, 4).astype(np.int64)
    per = 8 // bits
    h = np.zeros((words.shape[0], per, 4), np.int64)
    for j in range(per):
        f = (words >> (bits * j)) & ((1 << bits) - 1)
        h[:, j, PERM] = 2 * (f - (8 if bits == 4 else 1))
    h = h.reshape(-1, 2)                                 # unpacked words as (lo, hi)
    rows, out, k = 3 * c, [], 0
    for _ in range(rows // 2):
        a, x, b = h[k], h[k + 1], h[k + 2]
        out += [a, (a[1], x[1]), (x[0], b[0]), b]
        k += 3
    if rows % 2:
        a, x = h[k], h[k + 1]
        out += [a, (a[1], x[1])]
    return np.asarray(out).reshape(c, 3, 4)


@pytest.mark.parametrize("bits", [4, 2])
def test_layout_decodes_to_int8_rows(bits):
    rng = np.random.default_rng(bits)
    lo, hi = (-7, 8) if bits == 4 else (-1, 2)
    for c in list(range(1, 20)) + [64, 127, 256, 512]:
        w = rng.integers(lo, hi, (c, 3, 3, 1))
        flash = dsp_dw3_layout(w, bits)
        want = 2 * np.stack([w[..., 0, 0], w[..., 1, 0], w[..., 1, 0], w[..., 2, 0]], axis=-1)
        np.testing.assert_array_equal(decode_rows(flash, c, bits), want, err_msg=f"C = {c}")
        portable = pack_weights(w, bits).size
        assert flash.size == -(-portable // 4) * 4, (c, flash.size, portable)
        # the scratch: taps (24 C) + planes, or the unpacking's whole groups past the taps
        assert dw3_scratch_bytes(c, bits, 1024) == 16 * c + 24 * c + 1024


def _dw3_kernels(info) -> list[str]:
    return [l["kernel"] for l in info["layers"] if "depthwise" in l["kernel"]]


SPECS = [dw_spec(c, hw, stride=s, relu=r) for c, hw, s, r in (
    (2, 5, 1, False), (3, 6, 2, True), (5, 4, 1, False), (7, 7, 1, True), (8, 9, 2, False),
    (9, 3, 1, False), (11, 6, 1, False), (13, 5, 2, True), (16, 8, 1, False), (2, 1, 1, False))]


@pytest.mark.parametrize("target", [
    "cortex-m4",
    pytest.param("cortex-m7", marks=pytest.mark.slow),
    pytest.param("cortex-m33", marks=pytest.mark.slow),
])
def test_dw3_bit_exact(tmp_path, target):
    """Every layer int4 then ternary (the widths alternate per layer, each spec twice)."""
    specs = [s for s in SPECS for _ in (0, 1)]
    info = run_subbyte(tmp_path, target, specs)
    layers = [l for l in info["layers"] if l["op"] == "conv2d"]
    for l in layers:       # narrowed ternary layers' multipliers may reach 1/2: the _lsh form
        assert l["kernel"] in [f"mcf_depthwise_conv2d_s8_w{l['weight_bits']}_dsp{s}" for s in ("", "_lsh")], l
    assert {l["weight_bits"] for l in layers} == {4, 2}
    assert len({l["kernel"] for l in layers}) >= 3, [l["kernel"] for l in layers]


@pytest.mark.parametrize("bits", [2, pytest.param(4, marks=pytest.mark.slow)])
def test_dw3_left_shift_odd_channels(tmp_path, bits):
    """Left-shift channels (multipliers up to 2^4) with 13 channels: the last unpaired row and the
    2^s scaling after the spread; golden == QEMU M4, golden against tflite-micro."""
    import test_subbyte_lsh as lsh
    from test_subbyte_lsh import check_lsh, dw_chain
    old = lsh.C
    try:
        lsh.C = 13
        kernels = check_lsh(tmp_path, bits, "cortex-m4", "mps2-an386", model=dw_chain, shape=lsh.HW + (13,))
    finally:
        lsh.C = old
    assert kernels == [f"mcf_depthwise_conv2d_s8_w{bits}_dsp_lsh"] * 2, kernels


@pytest.mark.parametrize("bits", [4, 2])
def test_dw3_unpack_cost(tmp_path, bits):
    """3x3 depthwise, 512 channels @3x3 (vww_mbv1_96's last ones): 4.6 K taps against 41 K MACs,
    so the taps' unpacking shows; int4 / ternary within 1.08x int8 on QEMU M4, bit-exact."""
    _toolchain("mps2-an386")
    model, calib, x = build_model([dw_spec(512, 3)], tmp_path / "m.onnx")
    x = [a[:1] for a in x]
    n = {}
    for b in (8, bits):
        out = tmp_path / str(b)
        res = compile_model(model, out, target="cortex-m4", calib=calib, quiet=True, weight_bits=b)
        y, info = simulate(out, board="mps2-an386", x=x, quiet=True)
        ref, _ = simulate(out, board="reference", x=x, quiet=True)
        np.testing.assert_array_equal(y, ref)
        n[b] = info["instructions"]
        if b != 8:
            assert _dw3_kernels(res.info) == [f"mcf_depthwise_conv2d_s8_w{bits}_dsp"]
    assert n[bits] <= 1.08 * n[8], n


@pytest.mark.slow
def test_dw3_on_m55_without_helium(tmp_path, monkeypatch):
    """Cortex-M55 runs the Helium depthwise (`_mve`) wherever its accumulator bound holds; where it
    does not, the DSP one is next in line (the M55 has the DSP extension): the same assembly, checked
    here with the Helium depthwise variants taken out of the table; golden == QEMU M55."""
    from mcuforge.codegen.c.kernel_select import VARIANTS
    for bits in (4, 2):
        k = f"mcf_depthwise_conv2d_s8_w{bits}"
        monkeypatch.setitem(VARIANTS, k, [v for v in VARIANTS[k] if "_mve" not in v.function])
    specs = [s for s in SPECS[:6] for _ in (0, 1)]
    info = run_subbyte(tmp_path, "cortex-m55", specs)
    kernels = [l["kernel"] for l in info["layers"] if l["op"] == "conv2d"]
    assert all(k.endswith(("_dsp", "_dsp_lsh")) for k in kernels), kernels
