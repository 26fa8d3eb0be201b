"""The channel-vectorized Helium depthwise convolutions (mcf_depthwise_conv2d_s8_mve_ch: depth
multiplier 1; mcf_depthwise_conv2d_s8_mve1: one input channel) and the gathering one they leave to
other depth multipliers (mcf_depthwise_conv2d_s8_mve), bit-exact with the golden model on the
Cortex-M55 board.

The fast case covers both of the channel kernel's paths (3-wide stride 1 with shared column loads,
the general one), tail predication (channel counts 5, 17, 33: one to three channels past the last
whole group of 4), padding on one axis only, stride 2, dilation, ReLU, rows of one and two output
pixels (blocks are 3 pixels wide), and all three requantization forms (channels without a right
shift, channels shifting left) through the shift rewriting of test_mve_conv."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.api import compile_model

from .layer_models import assert_branches_exact, build_model, dw_spec, need_qemu
from .test_mve_conv import patch_shifts

BOARD = "mps3-an547"


def run(tmp_path, specs, seed=0):
    model, calib, x = build_model(specs, tmp_path / "model.onnx", seed=seed)
    res = compile_model(model, tmp_path / "m55", target="cortex-m55", calib=calib, quiet=True, speed_first=True)
    kernels = [l.get("kernel") for l in res.info["layers"]]
    # one input channel: a plain convolution (layers/conv.py), the GEMM kernel
    want = ["mcf_conv2d_s8_mve" if s["in_c"] == 1 else "mcf_depthwise_conv2d_s8_mve_ch" if s["out_c"] == s["in_c"]
            else "mcf_depthwise_conv2d_s8_mve" for s in specs]
    assert sorted(k for k in kernels if k and ("depthwise" in k or k == "mcf_conv2d_s8_mve")) == sorted(want), kernels
    assert_branches_exact(tmp_path / "m55", BOARD, x, specs)


SPECS = [
    dw_spec(16, 8),                                  # 3x3 stride 1: shared columns, 8 = 3 + 3 + 2 pixels
    dw_spec(5, (4, 7), relu=True),                   # 5 channels: one whole group + a tail of 1
    dw_spec(17, 7, stride=2),                        # general path, stride 2, tail of 1
    dw_spec(33, (5, 4), k=(3, 2), pad=(1, 0)),       # 2-wide kernel, padding on rows only, tail of 1
    dw_spec(7, 9, dil=2, relu=True),                 # dilation, tail of 3
    dw_spec(6, (3, 1), pad=(1, 1)),                  # one-pixel rows, tail of 2
    dw_spec(8, (1, 5), k=(1, 3), pad=(0, 1)),        # one output row
    dw_spec(3, 5, mult=2),                           # depth multiplier 2: the gathering kernel
    dw_spec(1, (9, 6), k=(4, 3), stride=2, mult=37, pad=(1, 1), relu=True),  # one input channel (mve1):
                                                     # 2 passes of 16 channels, then 4 + a tail of 1
    dw_spec(1, 5, k=3, mult=8, dil=2),               # mve1 with groups of 4 only, dilation
]


def test_mve_depthwise_layers(tmp_path, monkeypatch):
    need_qemu()
    seen = patch_shifts(monkeypatch, [0, "norshift", "left"], depthwise=True)
    run(tmp_path, SPECS)
    assert sorted(set(seen.values()), key=str) == sorted({0, "norshift", "left"}, key=str)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mve_depthwise_random_layers(tmp_path, monkeypatch, seed):
    need_qemu()
    rng = np.random.default_rng(seed)
    specs = []
    for _ in range(8):
        k = (int(rng.choice([1, 2, 3, 5])), int(rng.choice([1, 2, 3, 5])))
        dil = int(rng.choice([1, 2])) if min(k) > 1 else 1
        hw = (int(rng.integers(k[0] * dil, 13)), int(rng.integers(k[1] * dil, 13)))
        pad = (int(rng.integers(0, k[0])), int(rng.integers(0, k[1])))
        specs.append(dw_spec(int(rng.integers(1, 70)), hw, k=k, stride=int(rng.choice([1, 2])), dil=dil, pad=pad,
                             mult=int(rng.choice([1, 1, 1, 2])), relu=bool(rng.integers(2))))
    c1 = int(rng.integers(2, 70))              # and a one-channel input (mve1)
    specs.append(dw_spec(1, (int(rng.integers(5, 13)), int(rng.integers(5, 13))), k=(int(rng.integers(1, 6)), 3),
                         stride=int(rng.choice([1, 2])), mult=c1, relu=bool(rng.integers(2))))
    patch_shifts(monkeypatch, [0, "norshift", "left"], depthwise=True)
    run(tmp_path, specs, seed=seed)
