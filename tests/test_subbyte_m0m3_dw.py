"""Sub-byte depthwise layers on cores without SIMD (Cortex-M0 / M3): the _fastu kernels
(runtime_c/include/mcf_subbyte_fastu_dw.h, codegen/c/variants/fast_subbyte_dw.py) unpack the taps
(portable packing, or base 3) and the constants into the scratch as the int8 tuned kernel
mcf_depthwise_conv2d_s8_fast reads them, then run it. Bit-exact with the golden model on the host
(C path) and on QEMU Cortex-M3 (ARMv7-M) and Cortex-M0 (ARMv6-M: the int8 kernel's 16-bit high
multiply); channels with a left shift run the int8 kernel's reference requantization over int32
multipliers / shifts widened into the scratch (against tflite-micro as well)."""
from __future__ import annotations

import pytest

from mcuforge.api import compile_model
from mcuforge.codegen.c.cost import PER_MAC, fastu_dw_per_mac

from kernels.layer_models import build_model, dw_spec
from test_subbyte import BOARDS
from test_subbyte_lsh import check_lsh
from test_subbyte_dw_general import dw_chain_general
from test_subbyte_m0m3_fc import _run as fc_run

SPECS = [
    dw_spec(16, 8),                        # 3x3 stride 1, padding: the int8 kernel's 3x3 patch path
    dw_spec(13, 9, stride=2, relu=True),   # 3x3 stride 2, odd channels
    dw_spec(3, 6, mult=2),                 # depth multiplier 2: the generic loop
    dw_spec(5, 7, k=5),                    # 5x5 padding 2: the offset table, the bias over the padding
    dw_spec(4, 8, dil=2, stride=2),        # dilated, strided
    dw_spec(6, (7, 9), k=(3, 5), pad=(1, 0)),  # rectangular, padding on one axis
]


def _run(tmp_path, target, board, bits, specs=SPECS):
    return fc_run(tmp_path, target, board, bits, specs, op="conv2d")


@pytest.mark.parametrize("bits", [4, 2])
def test_fastu_host_bit_exact_and_chosen_by_default(tmp_path, bits):
    """Built for Cortex-M3, run natively: golden == host C for every shape, each one on _fastu."""
    assert _run(tmp_path, "cortex-m3", "host", bits) == [f"mcf_depthwise_conv2d_s8_w{bits}_fastu"] * len(SPECS)


def test_fastu_model_against_fast():
    """The choice: below _fast's figure unless a layer has very few output pixels to share the
    unpacking with."""
    fast = PER_MAC["mcf_depthwise_conv2d_s8_w4_fast"]
    assert fastu_dw_per_mac(9, 4) < fast
    assert fastu_dw_per_mac(9, 1) > fastu_dw_per_mac(9, 4)
    assert fastu_dw_per_mac(1, 1) > fast


@pytest.mark.parametrize("bits,target", [(4, "cortex-m3"), pytest.param(2, "cortex-m3", marks=pytest.mark.slow),
                                         pytest.param(4, "cortex-m0", marks=pytest.mark.slow)])
def test_fastu_left_shift_channels(tmp_path, bits, target):
    """Channels stored with a left shift (e <= 0) next to right-shift ones (5x5 and 3x3 multiplier
    2 stride 2): golden == QEMU, golden == tflite-micro (int4; ternary within 1 LSB)."""
    kernels = check_lsh(tmp_path, bits, target, BOARDS[target], model=dw_chain_general)
    assert kernels == [f"mcf_depthwise_conv2d_s8_w{bits}_fastu"] * 2, kernels


def test_dsp_cores_keep_their_kernels(tmp_path):
    """On Cortex-M4 the DSP depthwise comes first."""
    model, calib, _ = build_model([dw_spec(16, 8)], tmp_path / "model.onnx")
    res = compile_model(model, tmp_path / "m4", target="cortex-m4", calib=calib, quiet=True, weight_bits=4)
    (k,) = [l["kernel"] for l in res.info["layers"] if l["op"] == "conv2d"]
    assert "_dsp" in k


@pytest.mark.parametrize("target,bits,n", [("cortex-m3", 4, 3), ("cortex-m0", 2, 3),
                                           pytest.param("cortex-m3", 2, 6, marks=pytest.mark.slow),
                                           pytest.param("cortex-m0", 4, 6, marks=pytest.mark.slow)])
def test_fastu_qemu_bit_exact(tmp_path, target, bits, n):
    """QEMU Cortex-M3 and Cortex-M0: the first n shapes, golden == QEMU."""
    assert _run(tmp_path, target, BOARDS[target], bits, SPECS[:n]) == [f"mcf_depthwise_conv2d_s8_w{bits}_fastu"] * n
