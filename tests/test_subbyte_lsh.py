"""Sub-byte depthwise 3x3 layers whose requantization multiplier is >= 1/2 (shift >= 0, a left
shift up to +4 here): the DSP kernel folds 2^(s+1) into the unpacked taps and requantizes those
channels with one SMMLAR (mcf_depthwise_conv2d_s8_w{4,2}_dsp_lsh, DW3_RQ0 in
mcf_depthwise_conv2d_s8_dsp3x3.c) instead of falling back to the _fast kernel.

Oracle: tflite-micro on a .tflite built with chosen per-channel scales (multipliers 2^k u, k in
-3..4). int4: TFLite INT4 weights (imported as int4 layers with the file's scales), so
tflite-micro == golden == QEMU byte for byte. Ternary: int8 weights +-1 narrowed by
narrow_int8_graph, whose scales are nudged by < 2^-15 (16-bit multiplier mantissas) and whose
biases follow them, so the golden model is anchored to tflite-micro within 1 LSB (almost all
bytes equal) and QEMU == golden byte for byte."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mcuforge.api import compile_model, simulate
from mcuforge.errors import McuforgeError
from mcuforge.sim.tflm import TflmModel

from tflite_builder import OP, ModelBuilder, conv_opts, fc_opts

HW, C = (7, 9), 12
WTYPE = {4: "int4", 2: "int8"}      # int4: TFLite INT4 tensors; ternary: int8 +-1, narrowed


def dw_chain(bits: int, seed: int = 0, exps=(-3, -1, 0, 1, 2, 3, 4)) -> bytes:
    """depthwise 3x3 stride 1 (relu6) -> depthwise 3x3 stride 2, C channels, per-channel
    multipliers 2^k u (u in [0.55, 0.95]: shift = k)."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    s_in, zp_in = 0.05, -7
    x = b.tensor((1,) + HW + (C,), scale=s_in, zp=zp_in)
    cur, h, w = x, HW[0], HW[1]
    for stride, act, s_out, zp_out in ((1, "relu6", 0.03, -100), (2, None, 0.02, 5)):
        if bits == 2:
            q = rng.choice([-1, 1], (1, 3, 3, C))
        else:
            q = rng.integers(-7, 8, (1, 3, 3, C))
            q[0, 0, 0, :] = 7
        ks = np.resize(np.asarray(exps), C)
        s_w = 2.0 ** ks * rng.uniform(0.55, 0.95, C) * s_out / s_in
        wt = b.tensor((1, 3, 3, C), dtype=WTYPE[bits], scale=s_w, zp=np.zeros(C, int), axis=3, data=q)
        bias = b.tensor((C,), dtype="int32", scale=s_in * s_w, zp=np.zeros(C, int), axis=0,
                        data=rng.integers(-40, 40, C))
        h, w = -(-h // stride), -(-w // stride)
        y = b.tensor((1, h, w, C), scale=s_out, zp=zp_out)
        b.op(OP.DEPTHWISE_CONV_2D, [cur, wt, bias], [y],
             **conv_opts(stride=(stride, stride), depth_multiplier=1, act=act))
        cur, s_in, zp_in = y, s_out, zp_out
    return b.build([x], [cur])


def conv_chain(bits: int, seed: int = 1, exps=(-2, 0, 1, 2, -1, 3, 0)) -> bytes:
    """conv 3x3 5 -> 10 (relu, SAME) -> conv 1x1 10 -> 7, multipliers 2^k u as in dw_chain."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    s_in, zp_in, cin = 0.05, -7, C
    x = b.tensor((1,) + HW + (C,), scale=s_in, zp=zp_in)
    cur = x
    for k, cout, act, s_out, zp_out in ((3, 10, "relu", 0.04, -128), (1, 7, None, 0.03, 4)):
        if bits == 2:
            q = rng.choice([-1, 1], (cout, k, k, cin))
        else:
            q = rng.integers(-7, 8, (cout, k, k, cin))
            q[:, 0, 0, 0] = 7
        ks = np.resize(np.asarray(exps), cout)
        # the sum over k*k*cin taps: scale the multipliers down by its spread so outputs use the range
        s_w = 2.0 ** ks * rng.uniform(0.55, 0.95, cout) * s_out / s_in
        wt = b.tensor((cout, k, k, cin), dtype=WTYPE[bits], scale=s_w, zp=np.zeros(cout, int), axis=0, data=q)
        bias = b.tensor((cout,), dtype="int32", scale=s_in * s_w, zp=np.zeros(cout, int), axis=0,
                        data=rng.integers(-40, 40, cout))
        y = b.tensor((1,) + HW + (cout,), scale=s_out, zp=zp_out)
        b.op(OP.CONV_2D, [cur, wt, bias], [y], **conv_opts(act=act))
        cur, s_in, zp_in, cin = y, s_out, zp_out, cout
    return b.build([x], [cur])


def fc_model(bits: int, seed: int = 2, k: int = 64, n: int = 16, exps=(-2, 0, 1, 2, -1, 3, 0, 4)) -> bytes:
    """fully connected K -> N (one row) with per-channel multipliers 2^k u."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    s_in, s_out = 0.05, 0.04
    x = b.tensor((1, k), scale=s_in, zp=-7)
    q = rng.choice([-1, 1], (n, k)) if bits == 2 else rng.integers(-7, 8, (n, k))
    if bits == 4:
        q[:, 0] = 7
    s_w = 2.0 ** np.resize(np.asarray(exps), n) * rng.uniform(0.55, 0.95, n) * s_out / s_in / 8
    if bits == 4:       # tflite-micro takes INT4 fully connected weights per tensor only: one
        s_w = np.full(1, 0.75 / k * s_out / s_in)   # right shift (the ternary case has the left shifts)
    wt = b.tensor((n, k), dtype=WTYPE[bits], scale=s_w, zp=np.zeros(len(s_w), int),
                  axis=0 if bits == 2 else None, data=q)
    bias = b.tensor((n,), dtype="int32", scale=np.broadcast_to(s_in * s_w, (n,)), zp=np.zeros(n, int), axis=0,
                    data=rng.integers(-40, 40, n))
    y = b.tensor((1, n), scale=s_out, zp=3)
    b.op(OP.FULLY_CONNECTED, [x, wt, bias], [y], **fc_opts())
    return b.build([x], [y])


def _need_qemu():
    from mcuforge.sim import toolchain
    try:
        toolchain.qemu_arm(), toolchain.arm_gcc()
    except McuforgeError as e:
        pytest.skip(f"no Cortex-M toolchain/QEMU here: {e}")


def check_lsh(tmp_path: Path, bits: int, target: str, board: str, n: int = 4, model=dw_chain, shape=HW + (C,)):
    _need_qemu()
    buf = model(bits)
    path = tmp_path / "dw.tflite"
    path.write_bytes(buf)
    # INT4 layers import as int4 with the file's scales (weight_bits 8 leaves them); ternary narrows
    res = compile_model(path, tmp_path / target, target=target, quiet=True, weight_bits=2 if bits == 2 else 8)
    x = np.random.default_rng(3).integers(-128, 128, (n,) + shape).astype(np.int8)
    m = TflmModel(buf)
    theirs = np.stack([m.run(xi[None])[0].reshape(-1) for xi in x])
    ref, _ = simulate(tmp_path / target, board="reference", x=x, quiet=True)
    ours, info = simulate(tmp_path / target, board=board, x=x, quiet=True)
    ref, ours = ref.reshape(n, -1), ours.reshape(n, -1)
    assert np.array_equal(ours, ref), f"{board} differs from the golden model"
    diff = np.abs(ref.astype(int) - theirs)
    if bits == 4:
        assert diff.max() == 0, "golden model differs from tflite-micro"
    else:       # nudged ternary scales: within 1 LSB, almost everywhere equal
        assert diff.max() <= 1 and (diff == 0).mean() > 0.97, (diff.max(), (diff == 0).mean())
    assert len(np.unique(theirs)) > min(20, theirs.size // 4)
    return [l["kernel"] for l in res.info["layers"] if l["op"] in ("conv2d", "dense")]


@pytest.mark.parametrize("bits,target,board", [
    (2, "cortex-m4", "mps2-an386"),
    pytest.param(4, "cortex-m4", "mps2-an386", marks=pytest.mark.slow),
    pytest.param(2, "cortex-m7", "mps2-an500", marks=pytest.mark.slow),
    pytest.param(4, "cortex-m33", "mps2-an505", marks=pytest.mark.slow),
])
def test_depthwise_left_shift_dsp(tmp_path, bits, target, board):
    kernels = check_lsh(tmp_path, bits, target, board)
    assert kernels == [f"mcf_depthwise_conv2d_s8_w{bits}_dsp_lsh"] * 2, kernels


@pytest.mark.parametrize("bits,target,board", [
    (4, "cortex-m4", "mps2-an386"),
    pytest.param(2, "cortex-m4", "mps2-an386", marks=pytest.mark.slow),
    pytest.param(2, "cortex-m33", "mps2-an505", marks=pytest.mark.slow),
    pytest.param(4, "cortex-m7", "mps2-an500", marks=pytest.mark.slow),
])
def test_conv_left_shift_dsp(tmp_path, bits, target, board):
    """Convolutions (3x3 and 1x1) with left-shift channels: mcf_conv2d_s8_dsp_block_lsh."""
    kernels = check_lsh(tmp_path, bits, target, board, model=conv_chain)
    assert kernels == [f"mcf_conv2d_s8_w{bits}_dsp_lsh"] * 2, kernels


@pytest.mark.parametrize("bits,target,board", [
    (2, "cortex-m4", "mps2-an386"),
    pytest.param(4, "cortex-m4", "mps2-an386", marks=pytest.mark.slow),
    pytest.param(4, "cortex-m33", "mps2-an505", marks=pytest.mark.slow),
])
def test_fc_row_left_shift_dsp(tmp_path, bits, target, board):
    """A single-row fully connected layer with left-shift channels: mcf_sub_fc_row's mcf_sub_fc_out."""
    kernels = check_lsh(tmp_path, bits, target, board, model=fc_model, shape=(64,))
    assert kernels == [f"mcf_fully_connected_s8_w{bits}_dsp"], kernels


@pytest.mark.parametrize("bits", [2, pytest.param(4, marks=pytest.mark.slow)])
def test_depthwise_helium(tmp_path, bits):
    """Cortex-M55: taps unpacked into the int8 Helium depthwise kernel's layout (mcf_subbyte_mve_dw.h),
    left and right shifts (its own requantization takes both), 12 channels (a partial vector of
    packed weights), stride 1 and 2."""
    kernels = check_lsh(tmp_path, bits, "cortex-m55", "mps3-an547")
    assert kernels == [f"mcf_depthwise_conv2d_s8_w{bits}_mve"] * 2, kernels


@pytest.mark.parametrize("bits", [2, pytest.param(4, marks=pytest.mark.slow)])
def test_fc_helium(tmp_path, bits):
    """Cortex-M55: the Helium sub-byte FC (fields read in place, mcf_subbyte_mve_fc.h), K = 37 (a
    predicated tail), 11 outputs (a partial group of 4), left and right shifts."""
    kernels = check_lsh(tmp_path, bits, "cortex-m55", "mps3-an547", shape=(37,),
                        model=lambda b: fc_model(b, k=37, n=11))
    assert kernels == [f"mcf_fully_connected_s8_w{bits}_mve"], kernels


@pytest.mark.slow
def test_depthwise_left_shift_m3(tmp_path):
    """No DSP extension: the int8 tuned C kernel over unpacked taps (_fastu), the same oracle."""
    kernels = check_lsh(tmp_path, 2, "cortex-m3", "mps2-an385")
    assert kernels == ["mcf_depthwise_conv2d_s8_w2_fastu"] * 2, kernels


def test_lsh_bounds():
    """_lsh_ok: taps |w| 2^(s+1) must fit int16 and 2^s x (accumulator bound) < 2^30."""
    from mcuforge.codegen.c.variants.dsp_subbyte import _lsh_ok
    w = np.full((2, 3, 3, 1), 7, np.int8)
    rq = {"in_zp": 0, "out_zp": 0}
    ok = {"weights": w, "bias": np.zeros(2, np.int64), "mult": np.full(2, 1 << 30), "shift": np.array([11, -3])}
    assert _lsh_ok(ok, rq)
    assert not _lsh_ok(dict(ok, shift=np.array([12, -3])), rq)         # 7 * 2^13 > 32767
    assert not _lsh_ok(dict(ok, bias=np.array([1 << 20, 0]), shift=np.array([10, -3])), rq)
    assert not _lsh_ok(dict(ok, shift=np.array([0, -23])), rq)
