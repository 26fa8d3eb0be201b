"""int8 fully connected layers whose channels shift left (requantization multiplier >= 1/2, stored shift
>= 0) on the DSP extension (codegen/c/variants/dsp_fc_lsh.py): the FC DSP driver over the 1x1
convolution's block kernel with the shift folded into the channel's weights and bias at compile
time, instead of the portable _fast fallback. Double rounding (TFLite): mcf_fully_connected_s8_dsp_lsh
(the _lsh block kernel); single rounding (ONNX quantized here): mcf_fully_connected_s8_dsp (the plain
kernel, e = 1, rcz = 1 + 2 zp).

(1) TFLite FULLY_CONNECTED (several rows, keep_num_dims or not, a single row too): per-channel
left and right shifts, full-range int8 weights on the right-shift channels, a dead channel, odd
out_features, K not a multiple of 4, a ReLU (the clamp path); tflite-micro == golden == host C ==
QEMU M4 byte for byte. (2) ONNX MatMul [1, N, K] and Gemm [N, K] quantized here: golden == host C ==
QEMU M4. M7 / M33 slow. (3) Bounds: a layer whose scaled weights would leave int16 keeps _fast."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.api import compile_model, simulate
from mcuforge.codegen.c.variants import dsp_fc_lsh
from mcuforge.sim.tflm import TflmModel

from test_subbyte import BOARDS, _toolchain
from test_subbyte_fc_lsh import _dense_kernels, _exact, fc_lsh_net
from test_subbyte_fc_radix import _array
from tflite_builder import OP, ModelBuilder, fc_opts

# log2 of the multiplier's order per channel (cycled): e >= 0 shifts left
EXPS = (-4, 0, 1, -2, 2, 0, -6, 1, 3)


def int8_fc_model(rows: int, k: int, n: int, *, keep: bool = False, batch3: bool = False, relu: bool = False,
                  dead=(), seed: int = 0, lsh_mag: int = 4, exps=EXPS) -> bytes:
    """FULLY_CONNECTED K -> n on [rows, K] ([1, rows, K] with batch3) with per-channel multipliers
    2^e u (u in [0.55, 0.95], e from exps): right-shift channels with full-range weights and biases,
    left-shift ones with |w| <= lsh_mag and |bias| < 4 (so that their outputs near the input zero
    point stay in range)."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    s_in, s_out = 0.05, 0.04
    shape = (1, rows, k) if batch3 else (rows, k)
    x = b.tensor(shape, scale=s_in, zp=-7)
    e = np.resize(np.asarray(exps), n)
    q = rng.integers(-127, 128, (n, k))
    q = np.round(q * np.where(e >= 0, lsh_mag, 127)[:, None] / 127).astype(int)
    q[list(dead)] = 0
    s_w = 2.0 ** e * rng.uniform(0.55, 0.95, n) * s_out / s_in
    wt = b.tensor((n, k), scale=s_w, zp=np.zeros(n, int), axis=0, data=q)
    bias = b.tensor((n,), dtype="int32", scale=s_in * s_w, zp=np.zeros(n, int), axis=0,
                    data=np.where(e >= 0, rng.integers(-3, 4, n), rng.integers(-300, 300, n)))
    oshape = shape[:-1] + (n,) if keep else (int(np.prod(shape[:-1])), n)
    y = b.tensor(oshape, scale=s_out, zp=3)
    b.op(OP.FULLY_CONNECTED, [x, wt, bias], [y], **fc_opts(act="relu" if relu else None, keep_num_dims=keep))
    return b.build([x], [y])


TFL_CASES = {
    "rows16": dict(rows=16, k=64, n=32),
    # keep_num_dims on [1, 5, 45]: K % 4 = 1, 11 outputs (an odd last channel), a dead channel,
    # 5 rows (a last single pixel), ReLU (the clamping pair loop)
    "odd_keep_relu": dict(rows=5, k=45, n=11, keep=True, batch3=True, relu=True, dead=(4,)),
    # one row: the same kernel (the dsp_row kernel takes no left shift)
    "one_row": dict(rows=1, k=48, n=20),
}


def _tfl_inputs(shape, n=4, seed=11) -> np.ndarray:
    """n samples; every other row (over samples and rows) anywhere in int8, the others near the
    input zero point (-7), where the left-shift channels do not saturate."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-9, -4, (n,) + shape)
    rows = x.reshape(-1, shape[-1])
    rows[::2] = rng.integers(-128, 128, rows[::2].shape)
    return rows.reshape(x.shape).astype(np.int8)


def _tfl_case(tmp_path, name, cores, host=True):
    spec = TFL_CASES[name]
    buf = int8_fc_model(**spec)
    path = tmp_path / "fc.tflite"
    path.write_bytes(buf)
    shape = (1, spec["rows"], spec["k"]) if spec.get("batch3") else (spec["rows"], spec["k"])
    x = _tfl_inputs(shape)
    theirs = np.stack([TflmModel(buf).run(xi)[0] for xi in x])
    for target, board in cores:
        _toolchain(board)
        out = tmp_path / target
        res = compile_model(path, out, target=target, quiet=True)
        assert '"requant": "double"' in (out / "model.json").read_text()
        assert list(_dense_kernels(res).values()) == ["mcf_fully_connected_s8_dsp_lsh"]
        q = _array(out, "_packed_quant")
        e = np.concatenate([q[:8 * (spec["n"] // 2)].reshape(-1, 8)[:, [4, 7]].reshape(-1), q[-3:-2]
                            if spec["n"] % 2 else []])
        assert (e == 0).sum() >= 2 and (e < 0).sum() >= 2, e        # e words: 0 left, e - 256 right
        ref, _ = simulate(out, board="reference", x=x, quiet=True)
        np.testing.assert_array_equal(ref.reshape(theirs.shape), theirs, err_msg="golden != tflite-micro")
        live = np.setdiff1d(np.arange(spec["n"]), spec.get("dead", ()))
        left = live[np.resize(np.asarray(EXPS), spec["n"])[live] >= 0]
        near = theirs.reshape(-1, spec["n"])[1::2][:, left]      # near-zp rows, left-shift channels
        assert len(np.unique(near)) > 10 and (np.abs(near.astype(int)) < 127).mean() > 0.7
        if host:
            _exact(out, "host", x, ref)
        _exact(out, board, x, ref)


M4 = (("cortex-m4", "mps2-an386"),)
M7_M33 = (("cortex-m7", "mps2-an500"), ("cortex-m33", "mps2-an505"))


@pytest.mark.parametrize("name,cores", [(n, M4) for n in TFL_CASES]
                         + [pytest.param(n, M7_M33, marks=pytest.mark.slow) for n in TFL_CASES])
def test_tflite_fc_left_shift(tmp_path, name, cores):
    """tflite-micro == golden == QEMU (host C too for the first case on M4)."""
    _tfl_case(tmp_path, name, cores, host=name == "rows16" and cores == M4)


# -- (2) ONNX, quantized here: single rounding ---------------------------------------------------
def _u_u_v(rng, shape):
    """Rows [u, u, v] of k // 3, k // 3 and the rest: u in (-1, 1), v in (-0.05, 0.05) (a few LSB of
    the input scale that u sets)."""
    h = shape[-1] // 3
    u = rng.uniform(-1, 1, shape[:-1] + (h,))
    return np.concatenate([u, u, rng.uniform(-0.05, 0.05, shape[:-1] + (shape[-1] - 2 * h,))], axis=-1).astype(np.float32)


def _cancel_fc(rng, k, n):
    """Weights [a p, -a p, g] with p = +-1, g ~ N(0, 0.4): on [u, u, v] rows the u halves cancel
    exactly after quantization and the output is g v, so the channel's weight scale a / 127 sets its
    multiplier: a from 1 (a right shift) to 40 (>= 1/2: a left shift)."""
    h = k // 3
    p = rng.choice([-1.0, 1.0], (n, h))
    a = np.geomspace(1.0, 40.0, n)[:, None]
    return np.concatenate([a * p, -a * p, rng.normal(0, 0.4, (n, k - 2 * h))], axis=1)


def int8_lsh_net(path, rows=6, k=48, c=(10, 9), seed=3):
    """MatMul x0 [1, rows, k] @ W + b and Gemm x1 [rows, k] (fc0, fc1; test_subbyte_fc_lsh.fc_lsh_net)
    with _cancel_fc weights on _u_u_v rows: left- and right-shift channels in both layers at int8."""
    return fc_lsh_net(path, rows=rows, k=k, c=c, seed=seed, weights=_cancel_fc, data=_u_u_v, bias_sd=0.002)


def _onnx_case(tmp_path, monkeypatch, target, host, net=None, kernels=None, layer_kernels=_dense_kernels,
               channels=(9, 10)):
    """net(path) -> (model, calib, x), quantized here (single rounding): the kernels asserted
    (layer_kernels(res) == kernels), the layers (of `channels` output channels) prepared by
    dsp_lsh_quant with >= 2 left and >= 2 right shifts each, outputs not saturated, golden == host C
    (host) == QEMU. Defaults: int8_lsh_net's FC layers; tests/test_int8_conv_lsh.py passes its
    convolutions."""
    board = BOARDS[target]
    _toolchain(board)
    shifts = []
    real = dsp_fc_lsh.dsp_lsh_quant

    def spy(consts, rq, single, *more):
        shifts.append(np.asarray(consts["shift"]))
        return real(consts, rq, single, *more)
    monkeypatch.setattr(dsp_fc_lsh, "dsp_lsh_quant", spy)
    model, calib, x = (net or int8_lsh_net)(tmp_path / "m.onnx")
    out = tmp_path / "out"
    res = compile_model(model, out, target=target, calib=calib, quiet=True)
    assert "#define MCF_SINGLE_ROUNDING 1" in (out / "mcuforge_runtime/include/mcf_config.h").read_text()
    kernels = kernels or {"fc0": "mcf_fully_connected_s8_dsp", "fc1": "mcf_fully_connected_s8_dsp"}
    assert layer_kernels(res) == kernels
    assert {len(s) for s in shifts} == set(channels), shifts
    assert all((s >= 0).sum() >= 2 and (s < 0).sum() >= 2 for s in shifts), shifts
    ref, _ = simulate(out, board="reference", x=x, quiet=True)
    assert all(len(np.unique(r)) > 30 for r in ref), "outputs saturate: the test would prove little"
    if host:
        _exact(out, "host", x, ref)
    _exact(out, board, x, ref)


def test_onnx_fc_left_shift_single_rounding_m4(tmp_path, monkeypatch):
    _onnx_case(tmp_path, monkeypatch, "cortex-m4", host=True)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["cortex-m7", "cortex-m33"])
def test_onnx_fc_left_shift_single_rounding_m7_m33(tmp_path, monkeypatch, target):
    _onnx_case(tmp_path, monkeypatch, target, host=False)


# -- (3) bounds, checked at compile time ------------------------------------------------------
@pytest.mark.parametrize("shift,kernel", [(7, "mcf_fully_connected_s8_dsp_lsh"), (8, "mcf_fully_connected_s8_fast")])
def test_tap_bound(tmp_path, shift, kernel):
    """A left shift s with |w| = 127: the scaled tap 127 x 2^(s+1) fits int16 up to s = 7; a layer
    with a channel beyond it keeps the _fast kernel (dsp_subbyte._lsh_ok)."""
    path = tmp_path / "fc.tflite"
    path.write_bytes(int8_fc_model(4, 32, 8, lsh_mag=127, exps=(-2, shift, 0, -5)))
    res = compile_model(path, tmp_path / "out", target="cortex-m4", quiet=True)
    assert list(_dense_kernels(res).values()) == [kernel]


def test_accumulator_bound(tmp_path):
    """|2^(s+1) acc| < 2^31 for every partial sum: s = 7 passes the tap bound, but over K = 1536 inputs
    of |w| ~ 64 the bound 128 sum |w| 2^7 is between 2^30 and 2^31 (the golden model's int32 x << s
    still fits, the kernel's doubled one would not): _fast; K = 256 fits."""
    path = tmp_path / "fc.tflite"
    path.write_bytes(int8_fc_model(2, 256, 4, lsh_mag=127, exps=(-2, 7)))
    res = compile_model(path, tmp_path / "ok", target="cortex-m4", quiet=True)
    assert list(_dense_kernels(res).values()) == ["mcf_fully_connected_s8_dsp_lsh"]
    path.write_bytes(int8_fc_model(2, 1536, 4, lsh_mag=127, exps=(-2, 7)))
    res = compile_model(path, tmp_path / "out", target="cortex-m4", quiet=True)
    assert list(_dense_kernels(res).values()) == ["mcf_fully_connected_s8_fast"]


# -- (4) Cortex-M55: the Helium FC takes left shifts itself ------------------------------------------
@pytest.mark.slow
def test_helium_fc_takes_left_shifts(tmp_path):
    _toolchain("mps3-an547")
    path = tmp_path / "fc.tflite"
    buf = int8_fc_model(**TFL_CASES["rows16"])
    path.write_bytes(buf)
    res = compile_model(path, tmp_path / "out", target="cortex-m55", quiet=True)
    assert list(_dense_kernels(res).values()) == ["mcf_fully_connected_s8_mve"]
    x = _tfl_inputs((16, 64), n=2)
    theirs = np.stack([TflmModel(buf).run(xi)[0] for xi in x])
    _exact(tmp_path / "out", "mps3-an547", x, theirs)
