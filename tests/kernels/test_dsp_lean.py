"""The low-scratch DSP convolution (mcf_conv2d_s8_dsp_lean, chosen by min_arena where the DSP
kernel's scratch sets the arena's peak) bit-exact with the golden model on the Cortex-M4, on the
layer shapes the other variants are tested with (odd channels, strides, dilation, padding, ReLU).
On the MLPerf models it is checked against tflite-micro in tests/test_io_in_arena.py."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.api import compile_model, simulate
from mcuforge.codegen.c import kernel_select, variants  # noqa: F401  (registers the variants)
from mcuforge.errors import McuforgeError
from mcuforge.sim import toolchain

from .layer_models import build_model, conv_spec, fc_spec

SPECS = [
    conv_spec(16, 16, 8),                                   # 3x3, pad 1, stride 1 (ic's peak layers)
    conv_spec(3, 7, 9, stride=2),                           # odd channels, stride 2
    conv_spec(12, 10, 6, k=1, pad=0),                       # pointwise
    conv_spec(5, 5, (7, 6), k=(3, 2), dil=2, stride=2, relu=True),  # dilation, odd everything, ReLU
    fc_spec(37, 11),
]


def test_dsp_lean_conv_bit_exact_on_m4(tmp_path, monkeypatch):
    try:
        toolchain.qemu_arm()
        toolchain.arm_gcc()
    except McuforgeError as e:
        pytest.skip(f"no Cortex-M toolchain/QEMU here: {e}")
    # every convolution takes the lean kernel: the faster DSP one is withheld
    lean = [v for v in kernel_select.VARIANTS["mcf_conv2d_s8"] if v.function != "mcf_conv2d_s8_dsp"]
    monkeypatch.setitem(kernel_select.VARIANTS, "mcf_conv2d_s8", lean)
    model, calib, x = build_model(SPECS, tmp_path / "model.onnx", seed=1)
    res = compile_model(model, tmp_path / "m4", target="cortex-m4", calib=calib, quiet=True, speed_first=True)
    kernels = [l.get("kernel") for l in res.info["layers"]]
    assert kernels.count("mcf_conv2d_s8_dsp_lean") == 4
    y, _ = simulate(tmp_path / "m4", board="mps2-an386", x=x, quiet=True)
    ref, _ = simulate(tmp_path / "m4", board="reference", x=x, quiet=True)
    for i, (a, b) in enumerate(zip(y, ref)):
        assert np.array_equal(a, b), f"branch {i} ({SPECS[i]}) differs from the golden model"
