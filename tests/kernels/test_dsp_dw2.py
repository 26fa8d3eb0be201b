"""The two-plane DSP depthwise kernel (mcf_depthwise_conv2d_s8_dsp2: depth multiplier 1, two
channels widened per 16-bit load) bit-exact with the golden model: even and odd channel counts,
odd widths, padding 0-2, strides 1 and 2, ReLU, kernels other than the plain 3x3, dilation.
One fast batch on the Cortex-M4; random configurations on M4, M7 and M33 are marked slow."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.api import compile_model, simulate
from mcuforge.errors import McuforgeError
from mcuforge.sim import toolchain

from .layer_models import build_model, dw_spec

BOARDS = {"cortex-m4": "mps2-an386", "cortex-m7": "mps2-an500", "cortex-m33": "mps2-an505"}

# 3x3 kernels with dilation 1 and depth multiplier 1 go to the 3x3 kernels (test_dsp_depthwise.py)
FAST_SPECS = [
    dw_spec(16, 9, k=5, pad=2),                       # general kernel, stride 1
    dw_spec(7, (11, 13), k=5, stride=2, pad=2, relu=True),   # odd channels, odd sizes, stride 2
    dw_spec(6, (5, 10), k=(3, 1), pad=0),             # no padding, one column
    dw_spec(9, (8, 7), dil=2, stride=2, pad=2),       # odd channels, 3x3 dilated, padding 2
    dw_spec(8, (6, 9), k=(1, 3), pad=(0, 1)),         # one row
    dw_spec(4, (9, 5), k=(3, 2), dil=2, pad=1, relu=True),   # dilation, 3x2 kernel
]


def _run(tmp_path, target, specs, seed):
    try:
        toolchain.qemu_arm()
        toolchain.arm_gcc()
    except McuforgeError as e:
        pytest.skip(f"no Cortex-M toolchain/QEMU here: {e}")
    model, calib, x = build_model(specs, tmp_path / "model.onnx", seed=seed)
    res = compile_model(model, tmp_path / target, target=target, calib=calib, quiet=True, speed_first=True)
    kernels = [l.get("kernel") for l in res.info["layers"] if l.get("kernel")]
    y, _ = simulate(tmp_path / target, board=BOARDS[target], x=x, quiet=True)
    ref, _ = simulate(tmp_path / target, board="reference", x=x, quiet=True)
    y, ref = (y, ref) if isinstance(y, list) else ([y], [ref])
    for i, (a, b) in enumerate(zip(y, ref)):
        assert np.array_equal(a, b), f"branch {i} ({specs[i]}) differs from the golden model"
    return kernels


def test_dsp_dw2_bit_exact_on_m4(tmp_path):
    kernels = _run(tmp_path, "cortex-m4", FAST_SPECS, seed=0)
    assert kernels.count("mcf_depthwise_conv2d_s8_dsp2") == len(FAST_SPECS), kernels


def test_dsp_dw2_not_for_depth_multiplier_or_one_channel(tmp_path):
    from mcuforge.codegen.c import kernel_select, variants  # noqa: F401
    v = next(v for v in kernel_select.VARIANTS["mcf_depthwise_conv2d_s8"]
             if v.function == "mcf_depthwise_conv2d_s8_dsp2")
    assert not v.accepts({"win": {"in_c": 4, "out_c": 8}})
    assert not v.accepts({"win": {"in_c": 1, "out_c": 1}})


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("target", list(BOARDS))
def test_dsp_dw2_random_layers(tmp_path, target, seed):
    rng = np.random.default_rng(seed)
    specs = []
    for _ in range(8):
        k = int(rng.choice([3, 3, 3, 5]))
        specs.append(dw_spec(int(rng.integers(4, 24)), (int(rng.integers(3, 17)), int(rng.integers(3, 17))),
                             k=k, stride=int(rng.choice([1, 2])), pad=int(rng.integers(0, 3)) if k == 3 else 2,
                             relu=bool(rng.integers(2))))
    _run(tmp_path, target, specs, seed)
