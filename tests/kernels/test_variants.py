"""Every optimized kernel variant, bit-exact with the golden model on its own QEMU board.

Many one-layer branches go into one model, so one firmware build and one QEMU run check them all.
The default run has one batch of fast cases per core; @slow adds random layer configurations
(odd channel counts, padding, strides 1 and 2, dilation, depth multipliers)."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.api import compile_model, simulate
from mcuforge.sim import toolchain

from .layer_models import add_spec, assert_branches_exact, build_model, conv_spec, dw_spec, fc_spec, pool_spec

CORES = {  # target -> (board, expected variant suffix of conv / depthwise / fc)
    "cortex-m3": ("mps2-an385", {"conv2d": "_fast", "depthwise": "_fast", "dense": "_fast"}),
    "cortex-m4": ("mps2-an386", {"conv2d": "_dsp", "depthwise": "_dsp", "dense": "_dsp"}),
    "cortex-m7": ("mps2-an500", {"conv2d": "_dsp", "depthwise": "_dsp", "dense": "_dsp"}),
    "cortex-m33": ("mps2-an505", {"conv2d": "_dsp", "depthwise": "_dsp", "dense": "_dsp"}),
    "cortex-m55": ("mps3-an547", {"conv2d": "_mve", "depthwise": "_mve", "dense": "_mve"}),
}
# pooling and add: every such layer of FAST_SPECS runs this variant ("" = the portable kernel)
POOL_ADD = {"cortex-m3": "_fast", "cortex-m4": "_dsp", "cortex-m7": "_dsp", "cortex-m33": "_dsp", "cortex-m55": "_mve"}

FAST_SPECS = [
    conv_spec(16, 16, 8),                                   # 3x3, pad 1, stride 1
    conv_spec(3, 7, 9, stride=2),                           # odd channels, stride 2 (first layer)
    conv_spec(12, 10, 6, k=1, pad=0),                       # pointwise
    conv_spec(5, 5, (7, 6), k=(3, 2), dil=2, stride=2, relu=True),  # dilation, odd everything, ReLU
    dw_spec(16, 9),                                         # depthwise 3x3 stride 1
    dw_spec(8, 11, stride=2, relu=True),                    # depthwise 3x3 stride 2
    dw_spec(5, (7, 6), k=(3, 2), mult=2, dil=2),            # depth multiplier, dilation
    dw_spec(6, 10, k=5, stride=2, pad=1),                   # general kernel
    fc_spec(64, 10), fc_spec(37, 11, relu=True),
    pool_spec("maxpool", 10, 9, k=3, stride=2, pad=1),     # 4 + 2 channels, padding
    pool_spec("maxpool", 16, 8),                            # 2x2 stride 2
    pool_spec("maxpool", 37, 5, k=3, stride=1, pad=1),      # 16 + 16 + 5 channels (MVE tail)
    pool_spec("avgpool", 13, 9, k=3, stride=2, pad=1),      # 4 + 4 + 4 + 1 channels, padding: counts 4, 6, 9
    pool_spec("avgpool", 16, 8),                            # 2x2 stride 2 (even count: ties of negative sums)
    pool_spec("avgpool", 7, (7, 6), k=3, stride=1, pad=1),  # 4 + 3 / 7 channels, odd and even counts
    pool_spec("avgpool", 21, 5, k=3, stride=2, pad=1, include_pad=True),   # padding counted at the zero point
    add_spec(13, (5, 7)),                                   # 4 * 113 + 3 elements
    add_spec(16, 6, relu=True),                             # fused ReLU
    add_spec(7, 5, same=True),                              # x + x: both inputs of one scale
]


def kernels_of(info) -> list[str]:
    return [l.get("kernel", "") for l in info["layers"] if l.get("kernel")]


def run_case(tmp_path, target, specs, seed=0, **compile_kw):
    board = CORES[target][0]
    compile_kw.setdefault("requant", "double")  # TFLite's rounding, which .tflite models run through
    # these kernels; the ONNX default (single) is test_variants_single.py's
    model, calib, x = build_model(specs, tmp_path / "model.onnx", seed=seed)
    res = compile_model(model, tmp_path / target, target=target, calib=calib, quiet=True, speed_first=True,
                        **compile_kw)
    info = assert_branches_exact(tmp_path / target, board, x, specs)
    return res.info, info




@pytest.mark.parametrize("target", list(CORES))
def test_variants_bit_exact(tmp_path, target):
    info, _ = run_case(tmp_path, target, FAST_SPECS)
    used = kernels_of(info)
    want = CORES[target][1]
    if used:   # the layer table names the kernel of each layer
        assert any(k.endswith(want["conv2d"]) for k in used if k.startswith("mcf_conv2d")), used
        assert any(k.endswith(want["depthwise"]) for k in used if k.startswith("mcf_depthwise")), used
        assert any(k.endswith(want["dense"]) for k in used if k.startswith("mcf_fully")), used
        for kind in ("maxpool", "avgpool", "add"):
            ks = [k for k in used if k.startswith(f"mcf_{kind}_s8")]
            assert ks and all(k == f"mcf_{kind}_s8{POOL_ADD[target]}" for k in ks), used


def test_host_build_uses_portable_or_tuned(tmp_path):
    """The same model on the host (no DSP/MVE) stays bit-exact."""
    model, calib, x = build_model(FAST_SPECS[:3] + FAST_SPECS[4:6] + FAST_SPECS[8:9], tmp_path / "m.onnx")
    compile_model(model, tmp_path / "host", target="host", calib=calib, quiet=True, speed_first=True)
    y, _ = simulate(tmp_path / "host", board="host", x=x, quiet=True)
    ref, _ = simulate(tmp_path / "host", board="reference", x=x, quiet=True)
    for a, b in zip(y, ref):
        np.testing.assert_array_equal(a, b)


def random_specs(rng, n=10):
    specs = []
    for _ in range(n):
        kind = rng.choice(["conv", "pw", "dw", "fc"])
        stride = int(rng.choice([1, 2]))
        dil = int(rng.choice([1, 1, 2]))
        hw = (int(rng.integers(4, 13)), int(rng.integers(4, 13)))
        k = (int(rng.choice([1, 3, 5])), int(rng.choice([1, 2, 3])))
        pad = (int(rng.integers(0, 3)) if k[0] > 1 else 0)
        if kind == "conv":
            specs.append(conv_spec(int(rng.integers(1, 20)), int(rng.integers(1, 20)), hw, k=k, stride=stride,
                                   dil=dil, pad=min(pad, k[0] - 1, k[1] - 1) if min(k) > 1 else 0,
                                   relu=bool(rng.integers(2))))
        elif kind == "pw":
            specs.append(conv_spec(int(rng.integers(1, 70)), int(rng.integers(1, 40)), hw, k=1, pad=0,
                                   stride=stride, relu=bool(rng.integers(2))))
        elif kind == "dw":
            specs.append(dw_spec(int(rng.integers(1, 20)), hw, k=k, stride=stride, dil=dil,
                                 mult=int(rng.choice([1, 1, 2, 3])),
                                 pad=min(pad, k[0] - 1, k[1] - 1) if min(k) > 1 else 0, relu=bool(rng.integers(2))))
        else:
            specs.append(fc_spec(int(rng.integers(1, 300)), int(rng.integers(1, 40)), relu=bool(rng.integers(2))))
    return specs


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("target", list(CORES))
def test_variants_random_layers(tmp_path, target, seed):
    rng = np.random.default_rng(seed)
    specs = [s for s in random_specs(rng) if _valid(s)]
    run_case(tmp_path, target, specs, seed=seed)


def random_pool_add_specs(rng, n=10):
    """Pooling (any window up to 5x5, stride 1-3, padding, counted or not) and same-shape adds."""
    specs = []
    for _ in range(n):
        kind = rng.choice(["maxpool", "avgpool", "add"])
        c = int(rng.integers(1, 70))
        hw = (int(rng.integers(3, 12)), int(rng.integers(3, 12)))
        if kind == "add":
            specs.append(add_spec(c, hw, relu=bool(rng.integers(2)), same=bool(rng.integers(4) == 0)))
            continue
        k = int(rng.integers(1, min(6, min(hw) + 1)))
        pad = int(rng.integers(0, (k + 1) // 2)) if k > 1 else 0
        specs.append(pool_spec(kind, c, hw, k=k, stride=int(rng.integers(1, 4)), pad=pad,
                               include_pad=kind == "avgpool" and pad > 0 and bool(rng.integers(2))))
    return specs


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("target", list(CORES))
def test_pool_add_variants_random(tmp_path, target, seed):
    rng = np.random.default_rng(100 + seed)
    run_case(tmp_path, target, random_pool_add_specs(rng), seed=seed)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
def test_avgpool_large_windows(tmp_path, target):
    """Windows past the variants' 16-bit sum limits (DSP 128 cells, MVE 255) fall back to the
    portable kernel; below them (144 cells on Helium) the variant is exact."""
    specs = [pool_spec("avgpool", 19, 12, k=12, stride=1),       # 144 cells
             pool_spec("avgpool", 9, 16, k=16, stride=1)]        # 256 cells
    info, _ = run_case(tmp_path, target, specs)
    used = [k for k in kernels_of(info) if k.startswith("mcf_avgpool")]
    if used:
        first = "mcf_avgpool_s8" if target == "cortex-m4" else "mcf_avgpool_s8_mve"
        assert sorted(used) == sorted([first, "mcf_avgpool_s8"]), used
    # inputs far outside the calibrated range saturate to -128 / 127: window sums at their extremes
    _, _, x = build_model(specs, tmp_path / "model.onnx")
    for v in (-1e3, 1e3):
        xs = [np.full_like(a, v) for a in x]
        y, _ = simulate(tmp_path / target, board=CORES[target][0], x=xs, quiet=True)
        ref, _ = simulate(tmp_path / target, board="reference", x=xs, quiet=True)
        for a, b in zip(y, ref):
            np.testing.assert_array_equal(a, b)


def _valid(s) -> bool:
    if s["op"] != "conv":
        return True
    oh = (s["h"] + 2 * s["pad"][0] - s["dil"] * (s["kh"] - 1) - 1) // s["stride"] + 1
    ow = (s["w"] + 2 * s["pad"][1] - s["dil"] * (s["kw"] - 1) - 1) // s["stride"] + 1
    return oh >= 1 and ow >= 1


CHAIN = [("conv", 8, 3, 2), ("dw", 3, 1), ("pw", 16), ("dw", 3, 2), ("pw", 24), ("dw", 3, 1), ("pw", 24)]


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55", "cortex-m3"])
def test_variants_in_a_chain_with_inplace_arena(tmp_path, target):
    """Sequential layers: the arena planner overlaps outputs with dying inputs where the portable
    kernels allow it; variants that compute in another order must still be exact."""
    from .layer_models import build_chain
    model, calib, x = build_chain(3, 20, CHAIN, tmp_path / "chain.onnx")
    compile_model(model, tmp_path / target, target=target, calib=calib, quiet=True, speed_first=True)
    y, _ = simulate(tmp_path / target, board=CORES[target][0], x=x, quiet=True)
    ref, _ = simulate(tmp_path / target, board="reference", x=x, quiet=True)
    np.testing.assert_array_equal(y, ref)
