"""The DSP 3x3 depthwise kernels (mcf_depthwise_conv2d_s8_dsp3x3 with four planes and _dsp3x3_1
with one: depth multiplier 1, stride-1 rows in assembly blocks of six outputs, tails and stride 2
in C) bit-exact with the golden model: widths with and without a tail, odd channel counts (a group
of four plus single channels), padding 0-2 and asymmetric, strides 1 and 2, ReLU (the clamping
block loop), one output row, one channel. One fast batch on the Cortex-M4; random configurations
on M4, M7 and M33 are marked slow."""
from __future__ import annotations

import numpy as np
import pytest

from .layer_models import dw_spec
from .test_dsp_dw2 import BOARDS, _run

DW3 = "mcf_depthwise_conv2d_s8_dsp3x3"


@pytest.fixture(autouse=True)
def _four_planes_on_small_layers(monkeypatch):
    """These small layers test the kernel: let the four-plane variant take them even where its
    planes outweigh the input (by default such a layer keeps one plane to spare the arena)."""
    from mcuforge.codegen.c.variants import dsp_depthwise
    monkeypatch.setattr(dsp_depthwise, "DSP_DW3_MAX_INPUT_SHARE", 100.0)
FAST_SPECS = [
    (dw_spec(16, 9), DW3),                                  # one block of six and a tail of three
    (dw_spec(12, (7, 14), relu=True), DW3),                 # clamped blocks, tail of two
    (dw_spec(7, (11, 13), stride=2, relu=True), DW3),       # odd channels, stride 2
    (dw_spec(9, (8, 7), stride=2, pad=2), DW3),             # padding 2, stride 2
    (dw_spec(6, (5, 10), pad=0), DW3),                      # no padding
    (dw_spec(5, (6, 12), pad=(1, 0)), DW3),                 # padding only above and below
    (dw_spec(4, (3, 12), pad=(0, 1)), DW3),                 # padding only left and right; one row
    (dw_spec(3, 12), DW3),                                  # three single channels, no tail
    (dw_spec(1, 6), "mcf_conv2d_s8_dsp"),                   # one channel: a convolution (layers/conv.py)
    (dw_spec(8, (6, 4)), DW3),                              # narrower than a block: partial blocks
    (dw_spec(5, (7, 3)), DW3),                              # the narrowest partial block
    (dw_spec(6, (8, 6), stride=2), DW3),                    # stride 2, three outputs wide
    (dw_spec(4, (9, 2)), DW3),                              # two wide: C only
    (dw_spec(6, 40), DW3 + "_1"),                           # four planes too big: one plane
]


def test_dsp_dw3x3_bit_exact_on_m4(tmp_path):
    specs = [s for s, _ in FAST_SPECS]
    kernels = _run(tmp_path, "cortex-m4", specs, seed=3)
    assert sorted(kernels) == sorted(k for _, k in FAST_SPECS), kernels   # layer order may differ


def test_dsp_dw3x3_accepts_only_its_layers():
    from mcuforge.codegen.c import kernel_select, variants  # noqa: F401
    from mcuforge.codegen.c.variants.dsp_depthwise import _dsp_dw3_fits
    win = {"k_h": 3, "k_w": 3, "dil_h": 1, "dil_w": 1, "stride_h": 1, "stride_w": 1, "in_c": 4, "out_c": 4}
    ok = {"consts": {"weights": np.ones((4, 3, 3, 1), np.int8), "bias": np.zeros(4, np.int32),
                     "mult": np.full(4, 1 << 30), "shift": np.full(4, -8)}, "rq": {"in_zp": 0}}
    assert _dsp_dw3_fits({"win": win, **ok})
    for change in ({"out_c": 8}, {"k_w": 5}, {"dil_w": 2}, {"stride_w": 3}):
        assert not _dsp_dw3_fits({"win": {**win, **change}, **ok}), change


def _tflite_dw(act, out_scale, out_zp, shape=(1, 7, 14, 6), stride=1):
    from tflite_builder import OP, ModelBuilder, conv_opts
    rng = np.random.default_rng(7)
    c = shape[3]
    b = ModelBuilder()
    x = b.tensor(shape, scale=0.05, zp=-17)
    w = b.tensor((1, 3, 3, c), scale=rng.uniform(0.002, 0.01, c), data=rng.integers(-127, 128, (1, 3, 3, c)),
                 axis=3)
    bias = b.tensor((c,), dtype="int32", data=rng.integers(-2000, 2000, c))
    oh, ow = -(-shape[1] // stride), -(-shape[2] // stride)
    y = b.tensor((1, oh, ow, c), scale=out_scale, zp=out_zp)
    b.op(OP.DEPTHWISE_CONV_2D, [x, w, bias], [y], **conv_opts((stride, stride), "SAME", act, depth_multiplier=1))
    return b.build([x], [y]), shape


@pytest.mark.parametrize("act,out_scale,out_zp", [("relu6", 0.08, -128),    # upper clamp below 127
                                                  ("relu", 0.03, 5),        # lower clamp above -128
                                                  ("relu_n1_to_1", 0.02, 0)])    # both
def test_dsp_dw3x3_clamps_match_tflite_micro_on_m4(tmp_path, act, out_scale, out_zp):
    """The clamping block loops against tflite-micro itself (an outside oracle): fused activations
    whose bounds lie inside the int8 range."""
    from mcuforge.api import compile_model, simulate
    from mcuforge.sim.tflm import TflmModel
    from test_tflite_frontend import int8_inputs
    try:
        from mcuforge.sim import toolchain
        toolchain.qemu_arm()
        toolchain.arm_gcc()
    except Exception as e:   # noqa: BLE001
        pytest.skip(f"no Cortex-M toolchain/QEMU here: {e}")
    buf, shape = _tflite_dw(act, out_scale, out_zp)
    path = tmp_path / "dw.tflite"
    path.write_bytes(buf)
    res = compile_model(path, tmp_path / "lib", target="cortex-m4", quiet=True, speed_first=True)
    assert [l.get("kernel") for l in res.info["layers"] if l.get("kernel")] == [DW3]
    xs = int8_inputs(shape, 3, seed=1)
    ours, _ = simulate(tmp_path / "lib", board="mps2-an386", x=np.stack(xs), quiet=True)
    ref = TflmModel(buf)
    hit = False
    for k, x in enumerate(xs):
        theirs = ref.run(x)[0]
        assert np.array_equal(ours[k].reshape(theirs.shape), theirs), f"{act}: input {k} differs"
        hit |= bool((theirs == theirs.max()).sum() > 1 and theirs.max() < 127) or theirs.min() > -128
    assert hit, "the clamp never bit: the test would prove nothing"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("target", list(BOARDS))
def test_dsp_dw3x3_random_layers(tmp_path, target, seed):
    rng = np.random.default_rng(100 + seed)
    specs = []
    for _ in range(8):
        specs.append(dw_spec(int(rng.integers(1, 24)), (int(rng.integers(3, 20)), int(rng.integers(3, 30))),
                             stride=int(rng.choice([1, 1, 2])), pad=int(rng.integers(0, 3)),
                             relu=bool(rng.integers(2))))
    kernels = _run(tmp_path, target, specs, seed)
    assert all(k.startswith(DW3) for k in kernels), kernels
