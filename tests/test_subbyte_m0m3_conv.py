"""Sub-byte convolutions (groups 1) on cores without SIMD (Cortex-M0 / M3): the _pair kernels
(runtime_c/include/mcf_subbyte_pair.h: mcf_conv2d_sub_pair, codegen/c/variants/fast_subbyte_conv.py),
the fully connected _pair loop per output pixel over its patch (or the pixel in place for a 1x1
window over whole words). Bit-exact with the golden model on the host (C path) and on QEMU
Cortex-M3 (ARMv7-M assembly) and Cortex-M0 (ARMv6-M assembly)."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.api import compile_model
from mcuforge.codegen.c.cost import fast_conv_per_mac, pair_conv_per_mac

from kernels.layer_models import build_model, conv_spec
from test_subbyte import BOARDS
from test_subbyte_m0m3_fc import _run as fc_run

SPECS = [  # wide enough that the default takes _pair (cost.py: pair_conv_per_mac below _fast's figure)
    conv_spec(32, 16, 5, k=1, pad=0),                      # pointwise, pixels in place
    conv_spec(32, 15, 7, k=1, pad=0, stride=2, relu=True),  # strided, odd channel count, in place
    conv_spec(8, 16, 6, k=3),                              # 3x3 with padding: zero-point taps in the patch
    conv_spec(5, 16, 7, k=3, stride=2, bias=False),        # K = 45: the patch padded to a word's fields
    conv_spec(56, 16, 4, k=1, pad=0),                      # 1x1 over 56 channels: in place (int4), a patch (ternary)
    conv_spec(16, 16, (5, 6), k=(1, 3), dil=2),            # rectangular, dilated
]


def _run(tmp_path, target, board, bits, specs=SPECS):
    return fc_run(tmp_path, target, board, bits, specs, op="conv2d")


@pytest.mark.parametrize("bits", [4, 2])
def test_pair_conv_host_bit_exact_and_chosen_by_default(tmp_path, bits):
    """Built for Cortex-M3, run natively (the C path): golden == host C for every shape; the
    default takes _pair for each of them (its modelled cost below _fast's)."""
    kernels = _run(tmp_path, "cortex-m3", "host", bits)
    assert kernels == [f"mcf_conv2d_s8_w{bits}_pair"] * len(SPECS)


def test_pair_conv_model_against_fast():
    """The choice's rule: a few output channels over a short patch cost more than _fast (the per
    output and per pixel work is shared by fewer MACs), wide layers less (as measured on QEMU M3:
    pointwise 32->64 3.68 against 4.17 a MAC, 3x3 16->16 2.81 against 3.40)."""
    assert pair_conv_per_mac(4, 32, 64, True) < fast_conv_per_mac(32)
    assert pair_conv_per_mac(4, 144, 16, False) < fast_conv_per_mac(144)
    assert pair_conv_per_mac(2, 288, 32, False) < fast_conv_per_mac(288)
    assert pair_conv_per_mac(4, 8, 1, False) > fast_conv_per_mac(8)
    assert pair_conv_per_mac(4, 16, 16, True) > fast_conv_per_mac(16)


def test_pair_conv_not_taken_for_one_channel(tmp_path):
    model, calib, _ = build_model([conv_spec(8, 1, 4, k=1, pad=0)], tmp_path / "model.onnx")
    res = compile_model(model, tmp_path / "m3", target="cortex-m3", calib=calib, quiet=True, weight_bits=4)
    assert [l["kernel"] for l in res.info["layers"] if l["op"] == "conv2d"] != ["mcf_conv2d_s8_w4_pair"]


def test_dsp_cores_keep_their_kernels(tmp_path):
    """On Cortex-M4 the DSP kernels come first (the lean choice may still pass a tiny layer's DSP
    scratch over for _pair, as for the fully connected one)."""
    model, calib, _ = build_model([conv_spec(32, 32, 12, k=1, pad=0)], tmp_path / "model.onnx")
    res = compile_model(model, tmp_path / "m4", target="cortex-m4", calib=calib, quiet=True, weight_bits=4)
    (k,) = [l["kernel"] for l in res.info["layers"] if l["op"] == "conv2d"]
    assert "_dsp" in k


@pytest.mark.parametrize("target,bits,n", [("cortex-m3", 4, 4), ("cortex-m0", 2, 4),
                                           pytest.param("cortex-m3", 2, 6, marks=pytest.mark.slow),
                                           pytest.param("cortex-m0", 4, 6, marks=pytest.mark.slow)])
def test_pair_conv_qemu_bit_exact(tmp_path, target, bits, n):
    """QEMU Cortex-M3 (ARMv7-M assembly) and Cortex-M0 (ARMv6-M assembly, word loads from the
    aligned patch / arena): the first n shapes, golden == QEMU."""
    assert _run(tmp_path, target, BOARDS[target], bits, SPECS[:n]) == [f"mcf_conv2d_s8_w{bits}_pair"] * n
