"""The Helium convolution (mcf_conv2d_s8_mve) bit-exact with the golden model on the Cortex-M55
board, in each of its three requantization builds and on both of its patch paths.

The builds depend on the layer's shifts (every channel shifts right / some do not / some shift
left), which calibration alone rarely varies: the tests rewrite the (multiplier, shift) pairs of
chosen channels into equal-valued pairs with a smaller shift (Q31 multiplier shifted right),
for the compiler and the golden model alike, so the output scale stays realistic. Pointwise
layers with whole vectors of input channels read their input rows in place unless the output
would overwrite them (in-place arena); the chain test makes the planner overlap them."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.api import compile_model, simulate
from mcuforge.ir.ops.conv2d import Conv2D

from .layer_models import assert_branches_exact, build_chain, build_model, conv_spec, need_qemu

BOARD = "mps3-an547"


def _with_shift(mult, shift, new_shift):
    """The same real multiplier with exponent new_shift >= shift (mantissa shifted right)."""
    return np.where(new_shift > shift, mult >> np.minimum(new_shift - shift, 62), mult), np.maximum(new_shift, shift)


def patch_shifts(monkeypatch, policies, depthwise: bool = False):
    """Conv layers (depthwise ones with depthwise=True), in the order first seen, get policies[i % len]:
    0 = as calibrated,
    'norshift' = channels 1, 3, 5 ... without a right shift, 'left' = also channels 2, 5, 8 ...
    shifting left by 1 or 2."""
    orig = Conv2D.int8_params
    seen: dict[str, str] = {}

    def int8_params(self, node, g):
        p = dict(orig(self, node, g))
        if (node.attrs.get("groups", 1) != 1) != depthwise:     # only the kind of layer under test
            return p
        policy = seen.setdefault(node.name, policies[len(seen) % len(policies)])
        mult, shift = np.asarray(p["mult"], np.int64), np.asarray(p["shift"], np.int64)
        c = np.arange(len(mult))
        if policy in ("norshift", "left"):
            mult, shift = _with_shift(mult, shift, np.where(c % 2 == 1, 0, shift))
        if policy == "left":
            mult, shift = _with_shift(mult, shift, np.where(c % 3 == 2, 1 + c % 2, shift))
        p["mult"], p["shift"] = mult, shift
        return p

    monkeypatch.setattr(Conv2D, "int8_params", int8_params)
    return seen


def run(tmp_path, specs, seed=0):
    model, calib, x = build_model(specs, tmp_path / "model.onnx", seed=seed)
    res = compile_model(model, tmp_path / "m55", target="cortex-m55", calib=calib, quiet=True, speed_first=True)
    assert [l.get("kernel") for l in res.info["layers"]].count("mcf_conv2d_s8_mve") == len(specs)
    assert_branches_exact(tmp_path / "m55", BOARD, x, specs)


SPECS = [
    conv_spec(16, 16, 8),                                       # 3x3, pad 1: whole-row patches
    conv_spec(3, 7, 9, stride=2),                               # K = 27, 7 = 4 + 3 channels, stride 2
    conv_spec(5, 17, (7, 6), k=(3, 2), dil=2, stride=2, relu=True),  # dilation, odd everything, ReLU
    conv_spec(32, 33, 5, k=1, pad=0),                           # pointwise in place, 33 channels
    conv_spec(17, 5, 6, k=1, pad=0, relu=True),                 # pointwise through the patch copy
    conv_spec(16, 8, 7, k=1, pad=0, stride=2),                  # pointwise stride 2, odd pixel count
]


def test_mve_conv_requant_builds(tmp_path, monkeypatch):
    need_qemu()
    seen = patch_shifts(monkeypatch, [0, "norshift", "left"])
    run(tmp_path, SPECS)
    assert sorted(set(seen.values()), key=str) == sorted({0, "norshift", "left"}, key=str)


@pytest.mark.slow
def test_mve_conv_in_place_pointwise_chain(tmp_path):
    """Pointwise layers whose output overlaps their dying input in the arena (the planner allows it
    for pixel-by-pixel kernels): the in-place reads must stop before the output reaches them.
    (test_variants' chain test covers one such layer in the default run.)"""
    need_qemu()
    model, calib, x = build_chain(3, 12, [("conv", 16, 3, 1), ("pw", 32), ("pw", 48), ("pw", 16), ("pw", 32)],
                                  tmp_path / "chain.onnx")
    compile_model(model, tmp_path / "m55", target="cortex-m55", calib=calib, quiet=True, speed_first=True)
    y, _ = simulate(tmp_path / "m55", board=BOARD, x=x, quiet=True)
    ref, _ = simulate(tmp_path / "m55", board="reference", x=x, quiet=True)
    np.testing.assert_array_equal(y, ref)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_mve_conv_random_layers(tmp_path, monkeypatch, seed):
    need_qemu()
    rng = np.random.default_rng(seed)
    specs = []
    for _ in range(8):
        k = (int(rng.choice([1, 2, 3])), int(rng.choice([1, 3, 5])))
        dil = int(rng.choice([1, 2])) if min(k) > 1 else 1
        hw = (int(rng.integers(k[0] * dil + 1, 12)), int(rng.integers(k[1] * dil + 1, 12)))
        pad = (int(rng.integers(0, k[0])), int(rng.integers(0, k[1])))
        specs.append(conv_spec(int(rng.choice([2, 3, 16, 32, 33, 48])), int(rng.integers(1, 40)), hw, k=k,
                               stride=int(rng.choice([1, 2])), dil=dil, pad=pad, relu=bool(rng.integers(2))))
    patch_shifts(monkeypatch, [0, "norshift", "left"])
    run(tmp_path, specs, seed=seed)
