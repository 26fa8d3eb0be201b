"""The tuned portable C variants (`_fast`) on Cortex-M0 (BBC micro:bit under QEMU: ARMv6-M, 16 KB RAM),
bit-exact with the golden model, and actually selected for the layers.

ARMv6-M has no 32 x 32 -> 64 multiply, no saturation instructions and byte loads only with register
offsets, so its code paths (the 16-bit-halves requantization) differ from the Cortex-M3 ones that
tests/kernels/test_variants.py covers. The shapes are small enough for the micro:bit's RAM."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.api import compile_model, simulate

from .layer_models import assert_branches_exact, build_model, conv_spec, dw_spec, fc_spec
from .test_variants import _valid, kernels_of, random_specs

TARGET, BOARD = "cortex-m0", "microbit"

FAST_SPECS = [
    conv_spec(8, 8, 6),                                     # 3x3, pad 1, stride 1
    conv_spec(3, 7, 7, stride=2),                           # odd channels, stride 2 (first layer)
    conv_spec(12, 10, 5, k=1, pad=0),                       # pointwise, 4-byte pixels
    conv_spec(7, 6, 4, k=1, pad=0, relu=True),              # pointwise, odd pixels (gathered)
    conv_spec(5, 5, (7, 6), k=(3, 2), dil=2, stride=2, relu=True),  # dilation, odd everything, ReLU
    dw_spec(16, 7),                                         # depthwise 3x3 stride 1
    dw_spec(8, 9, stride=2, relu=True),                     # depthwise 3x3 stride 2
    dw_spec(5, (7, 6), k=(3, 2), mult=2, dil=2),            # depth multiplier, dilation
    dw_spec(6, 8, k=5, stride=2, pad=1),                    # general kernel
    fc_spec(64, 10), fc_spec(37, 11, relu=True), fc_spec(256, 13),
]


def run_case(tmp_path, specs, seed=0, **compile_kw):
    compile_kw.setdefault("requant", "double")  # TFLite's rounding, which .tflite models run through
    # these kernels; the ONNX default (single) is test_variants_single.py's
    model, calib, x = build_model(specs, tmp_path / "model.onnx", seed=seed)
    res = compile_model(model, tmp_path / TARGET, target=TARGET, calib=calib, quiet=True, speed_first=True,
                        **compile_kw)
    assert_branches_exact(tmp_path / TARGET, BOARD, x, specs)
    return res.info


def _bytes(s) -> int:
    """Input + output bytes of one branch (int8), to keep a random model within 16 KB of RAM."""
    if s["op"] == "fc":
        return s["in_f"] + s["out_f"]
    return s["h"] * s["w"] * (s["in_c"] + s["out_c"])


def _check_selected(info, specs):
    """Every layer runs its `_fast` variant (the layer table lists them in execution order, which
    need not be the branch order, so the kernels are counted per family)."""
    used = sorted(kernels_of(info))
    want = sorted("mcf_fully_connected_s8_fast" if s["op"] == "fc" else
                  "mcf_conv2d_s8_fast" if s["groups"] == 1 else "mcf_depthwise_conv2d_s8_fast" for s in specs)
    assert used == want


def test_fast_m0_bit_exact(tmp_path):
    info = run_case(tmp_path, FAST_SPECS)
    _check_selected(info, FAST_SPECS)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_fast_m0_random_layers(tmp_path, seed):
    rng = np.random.default_rng(seed)
    specs, total = [], 0
    for s in random_specs(rng, n=12):
        if _valid(s) and total + _bytes(s) <= 6000:
            specs.append(s)
            total += _bytes(s)
    info = run_case(tmp_path, specs, seed=seed)
    _check_selected(info, specs)


FALLBACK_BOARDS = {"cortex-m4": "mps2-an386", "cortex-m7": "mps2-an500", "cortex-m33": "mps2-an505",
                   "cortex-m55": "mps3-an547"}


@pytest.mark.slow
@pytest.mark.parametrize("target", list(FALLBACK_BOARDS))
def test_fast_on_cores_with_simd(tmp_path, target):
    """Where a DSP or Helium variant refuses a layer (e.g. an accumulator bound), the `_fast` one runs
    on that core, with its ARMv7-M / v8-M inline assembly: forced here by hiding the core's features
    from kernel selection."""
    from unittest import mock

    from mcuforge.codegen.c import kernel_select

    choose = kernel_select.KernelSelector.choose

    def choose_without_features(self, kernel, params=None):
        return choose(kernel_select.KernelSelector(frozenset(), self.portable_only, self.skip, self.node),
                      kernel, params)

    model, calib, x = build_model(FAST_SPECS, tmp_path / "model.onnx", seed=5)
    with mock.patch.object(kernel_select.KernelSelector, "choose", choose_without_features):
        res = compile_model(model, tmp_path / target, target=target, calib=calib, quiet=True, speed_first=True)
    _check_selected(res.info, FAST_SPECS)
    y, _ = simulate(tmp_path / target, board=FALLBACK_BOARDS[target], x=x, quiet=True)
    ref, _ = simulate(tmp_path / target, board="reference", x=x, quiet=True)
    for i, (a, b) in enumerate(zip(y, ref)):
        assert np.array_equal(a, b), f"branch {i} ({FAST_SPECS[i]}) differs from the golden model on {target}"
