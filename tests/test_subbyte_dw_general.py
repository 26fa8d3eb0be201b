"""Sub-byte (int4 / ternary) depthwise layers that are not 3x3 / multiplier 1 / dilation 1: 5x5,
7x7, 3x5, stride 2 and 3, depth multiplier 2 (in_c 3), odd channel counts, padding. On the DSP
cores the taps are unpacked into the int8 general DSP kernel's layout (`_dsp_gen`, one or two
planes; `_dsp_gen_lsh` where a channel's multiplier is >= 1/2), on Cortex-M55 into the int8
Helium kernels' (`_mve` for multiplier 1, `_mve_gen` for > 1); horizontal dilation keeps `_fast`
on the DSP cores (the int8 kernel is no faster there). Runtime: mcf_subbyte_dsp_dw.h,
mcf_subbyte_mve_dw.h; choice: codegen/c/variants/dsp_subbyte_dw.py.

Bit-exact golden == QEMU (M4 in the default run, M55 / host / M7 / M33 @slow); the left-shift
kernels against tflite-micro (int4 TFLite INT4 byte-exact, ternary within 1 LSB of it, QEMU ==
golden byte for byte: test_subbyte_lsh.check_lsh)."""
from __future__ import annotations

import numpy as np
import pytest

from kernels.layer_models import build_model, dw_spec
from mcuforge.api import compile_model, simulate
from test_subbyte import BOARDS, mixed_widths, run_subbyte
from test_subbyte_lsh import C, HW, WTYPE, check_lsh
from tflite_builder import OP, ModelBuilder, conv_opts

# each shape twice: the widths alternate per layer (int4, ternary), so both run every shape
SHAPES = [
    dw_spec(5, 7, k=5),                          # 5x5, odd channels, padding 2
    dw_spec(6, 9, k=5, stride=2),                # 5x5 stride 2
    dw_spec(3, 6, mult=2),                       # 3x3, multiplier 2, in_c 3
    dw_spec(3, 7, k=5, mult=2, stride=2),        # 5x5, multiplier 2, stride 2
    dw_spec(4, (7, 6), k=7),                     # 7x7
    dw_spec(5, 7, k=(3, 5), pad=(1, 0)),         # 3x5, padding on one axis only
    dw_spec(4, 7, stride=3),                     # 3x3 stride 3 (not the 3x3 kernel's)
    dw_spec(4, 8, dil=2),                        # dilation 2: _fast on the DSP cores
]
SPECS = [s for s in SHAPES for _ in (0, 1)]


def expected_kernel(spec, bits, target) -> str:
    fam = f"mcf_depthwise_conv2d_s8_w{bits}"
    if target == "cortex-m55":
        return f"{fam}_mve" if spec["out_c"] == spec["in_c"] else f"{fam}_mve_gen"
    if target in ("cortex-m4", "cortex-m7", "cortex-m33"):
        return f"{fam}_fast" if spec["dil"] > 1 else f"{fam}_dsp_gen"
    return f"{fam}_fast"


@pytest.mark.parametrize("target", [
    "cortex-m4",
    pytest.param("cortex-m55", marks=pytest.mark.slow),
    pytest.param("host", marks=pytest.mark.slow),
    pytest.param("cortex-m7", marks=pytest.mark.slow),
    pytest.param("cortex-m33", marks=pytest.mark.slow),
])
def test_general_depthwise_bit_exact(tmp_path, target):
    info = run_subbyte(tmp_path, target, SPECS)
    layers = [l for l in info["layers"] if l["op"] == "conv2d"]
    assert len(layers) == len(SPECS)
    by_name = {l["name"]: l for l in layers}
    wb = mixed_widths(tmp_path / "model.onnx")
    for i, spec in enumerate(SPECS):
        l = by_name[f"Conv_{i}"]
        assert l["weight_bits"] == wb[f"Conv_{i}"]
        assert l["kernel"] == expected_kernel(spec, l["weight_bits"], "cortex-m4" if target == "host" else target), \
            (i, spec, l["kernel"])


def dw_chain_general(bits: int, seed: int = 4, exps=(-3, -1, 0, 1, 2, 3, 4)) -> bytes:
    """depthwise 5x5 stride 1 (relu6) -> depthwise 3x3 multiplier 2 stride 2, C -> 2C channels,
    per-channel multipliers 2^k u (u in [0.55, 0.95]: shift = k; left shifts up to 4)."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    s_in, zp_in = 0.05, -7
    x = b.tensor((1,) + HW + (C,), scale=s_in, zp=zp_in)
    cur, h, w, cin = x, HW[0], HW[1], C
    for k, stride, mult, act, s_out, zp_out in ((5, 1, 1, "relu6", 0.03, -100), (3, 2, 2, None, 0.02, 5)):
        cout = cin * mult
        q = rng.choice([-1, 1], (1, k, k, cout)) if bits == 2 else rng.integers(-7, 8, (1, k, k, cout))
        if bits == 4:
            q[0, 0, 0, :] = 7
        s_w = 2.0 ** np.resize(np.asarray(exps), cout) * rng.uniform(0.55, 0.95, cout) * s_out / s_in / (k / 3) ** 2
        wt = b.tensor((1, k, k, cout), dtype=WTYPE[bits], scale=s_w, zp=np.zeros(cout, int), axis=3, data=q)
        bias = b.tensor((cout,), dtype="int32", scale=s_in * s_w, zp=np.zeros(cout, int), axis=0,
                        data=rng.integers(-40, 40, cout))
        h, w = -(-h // stride), -(-w // stride)
        y = b.tensor((1, h, w, cout), scale=s_out, zp=zp_out)
        b.op(OP.DEPTHWISE_CONV_2D, [cur, wt, bias], [y],
             **conv_opts(stride=(stride, stride), depth_multiplier=mult, act=act))
        cur, s_in, zp_in, cin = y, s_out, zp_out, cout
    return b.build([x], [cur])


@pytest.mark.parametrize("bits,target,board", [
    (2, "cortex-m4", "mps2-an386"),
    pytest.param(4, "cortex-m4", "mps2-an386", marks=pytest.mark.slow),
    pytest.param(4, "cortex-m7", "mps2-an500", marks=pytest.mark.slow),
    pytest.param(2, "cortex-m33", "mps2-an505", marks=pytest.mark.slow),
])
def test_general_depthwise_left_shift_dsp(tmp_path, bits, target, board):
    """5x5 and 3x3 multiplier 2 stride 2 with left-shift channels: the int8 general DSP kernel's
    _lsh form (SMMLAR for e = 0), against tflite-micro."""
    kernels = check_lsh(tmp_path, bits, target, board, model=dw_chain_general)
    assert kernels == [f"mcf_depthwise_conv2d_s8_w{bits}_dsp_gen_lsh"] * 2, kernels


@pytest.mark.parametrize("bits", [pytest.param(2, marks=pytest.mark.slow), pytest.param(4, marks=pytest.mark.slow)])
def test_general_depthwise_left_shift_helium(tmp_path, bits):
    """The same chain on Cortex-M55: _mve (multiplier 1) and _mve_gen (multiplier 2), whose int8
    kernels' requantization takes left shifts."""
    kernels = check_lsh(tmp_path, bits, "cortex-m55", "mps3-an547", model=dw_chain_general)
    assert kernels == [f"mcf_depthwise_conv2d_s8_w{bits}_mve", f"mcf_depthwise_conv2d_s8_w{bits}_mve_gen"], kernels


@pytest.mark.slow
@pytest.mark.parametrize("bits", [4, 2])
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
def test_general_depthwise_at_int8_speed(tmp_path, bits, target):
    """A 5x5 depthwise layer (32 channels @16x16) and a 3x3 multiplier-2 one (16 -> 32 @16x16) with
    int4 / ternary weights execute at most 1.05x the int8 kernel's instructions on QEMU."""
    board = BOARDS[target]
    for name, spec in (("k5", dw_spec(32, 16, k=5)), ("m2", dw_spec(16, 16, mult=2))):
        model, calib, x = build_model([spec], tmp_path / name / "m.onnx")
        x = [a[:1] for a in x]
        n = {}
        for b in (8, bits):
            out = tmp_path / name / str(b)
            compile_model(model, out, target=target, calib=calib, quiet=True, weight_bits=b)
            y, info = simulate(out, board=board, x=x, quiet=True)
            ref, _ = simulate(out, board="reference", x=x, quiet=True)
            np.testing.assert_array_equal(y, ref)
            n[b] = info["instructions"]
        assert n[bits] <= 1.05 * n[8], (name, n)


@pytest.mark.slow
@pytest.mark.parametrize("bits", [4, 2])
def test_general_depthwise_chain_inplace(tmp_path, bits):
    """5x5 depthwise layers in a sequential model on M4: the arena planner may let a multiplier-1
    `_dsp_gen` output start at its dying input (inplace_exact, as the int8 kernel)."""
    from kernels.layer_models import build_chain
    from test_subbyte import _toolchain
    _toolchain("mps2-an386")
    chain = [("conv", 8, 3, 2), ("dw", 5, 1), ("pw", 16), ("dw", 5, 2), ("pw", 12), ("dw", 5, 1)]
    model, calib, x = build_chain(3, 14, chain, tmp_path / "chain.onnx")
    res = compile_model(model, tmp_path / "m4", target="cortex-m4", calib=calib, quiet=True, weight_bits=bits)
    assert [l["kernel"] for l in res.info["layers"] if "depthwise" in l["kernel"]] == \
        [f"mcf_depthwise_conv2d_s8_w{bits}_dsp_gen"] * 3
    y, _ = simulate(tmp_path / "m4", board="mps2-an386", x=x, quiet=True)
    ref, _ = simulate(tmp_path / "m4", board="reference", x=x, quiet=True)
    np.testing.assert_array_equal(y, ref)
