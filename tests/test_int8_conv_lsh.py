"""int8 convolutions and depthwise layers whose channels shift left (requantization multiplier >= 1/2,
stored shift >= 0) on the DSP extension (codegen/c/variants/dsp_conv_lsh.py), instead of the
portable _fast fallback: the convolution's block kernel with the shift folded into the channel's
int16 weights and bias at compile time (double rounding: mcf_conv2d_s8_dsp_lsh, the _lsh block
kernel; single rounding: the plain mcf_conv2d_s8_dsp with e = 1, rcz = 1 + 2 zp), the depthwise
_lsh entries of the int8 DSP kernels (either rounding).

(1) TFLite CONV_2D 3x3 (SAME, stride 1 and 2, ReLU), 1x1, and DEPTHWISE_CONV_2D 3x3 / 5x5 / depth
multiplier 2: per-channel left and right shifts, full-range int8 weights on the right-shift channels,
a dead channel; tflite-micro == golden == host C == QEMU M4 byte for byte. (2) ONNX Conv 3x3, 1x1
and a depthwise Conv quantized here (single rounding): golden == host C == QEMU M4. M7 / M33 slow.
(3) Bounds: a layer whose scaled weights would leave int16 keeps _fast. (4) Cortex-M55 runs its
Helium kernels (which take left shifts themselves), tried before these DSP forms."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from mcuforge.api import compile_model, simulate
from mcuforge.sim.tflm import TflmModel

from kernels.layer_models import _save
from test_int8_fc_lsh import EXPS, M4, M7_M33
from test_int8_fc_lsh import _onnx_case as fc_onnx_case
from test_subbyte import _toolchain
from test_subbyte_fc_lsh import _exact
from tflite_builder import OP, ModelBuilder, conv_opts


def int8_conv_model(hw=(8, 8), cin=8, cout=12, k=3, *, stride=1, padding="SAME", relu=False, dw=False,
                    dead=(), seed=0, lsh_mag=2, exps=EXPS) -> bytes:
    """One CONV_2D (or DEPTHWISE_CONV_2D with dw, depth multiplier cout / cin) k x k on [1, *hw, cin]
    with per-channel multipliers 2^e u (u in [0.55, 0.95], e from exps): right-shift channels with
    full-range weights and biases, left-shift ones with |w| <= lsh_mag and |bias| < 4 (outputs near
    the input zero point stay in range)."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    s_in, s_out = 0.05, 0.04
    x = b.tensor((1,) + tuple(hw) + (cin,), scale=s_in, zp=-7)
    e = np.resize(np.asarray(exps), cout)
    taps = k * k * (1 if dw else cin)
    q = rng.integers(-127, 128, (cout, taps))
    q = np.round(q * np.where(e >= 0, lsh_mag, 127)[:, None] / 127).astype(int)
    q[list(dead)] = 0
    s_w = 2.0 ** e * rng.uniform(0.55, 0.95, cout) * s_out / s_in
    if dw:
        wt = b.tensor((1, k, k, cout), scale=s_w, zp=np.zeros(cout, int), axis=3,
                      data=q.T.reshape(1, k, k, cout))
    else:
        wt = b.tensor((cout, k, k, cin), scale=s_w, zp=np.zeros(cout, int), axis=0, data=q.reshape(cout, k, k, cin))
    bias = b.tensor((cout,), dtype="int32", scale=s_in * s_w, zp=np.zeros(cout, int), axis=0,
                    data=np.where(e >= 0, rng.integers(-3, 4, cout), rng.integers(-300, 300, cout)))
    out_hw = tuple(-(-n // stride) if padding == "SAME" else (n - k) // stride + 1 for n in hw)
    y = b.tensor((1,) + out_hw + (cout,), scale=s_out, zp=3)
    b.op(OP.DEPTHWISE_CONV_2D if dw else OP.CONV_2D, [x, wt, bias], [y],
         **conv_opts(stride=(stride, stride), padding=padding, act="relu" if relu else None,
                     depth_multiplier=cout // cin if dw else None))
    return b.build([x], [y])


def _conv_inputs(shape, n=4, seed=11) -> np.ndarray:
    """n samples: the left half of each image anywhere in int8, the right half near the input zero
    point (-7), where the left-shift channels do not saturate."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-8, -5, (n,) + tuple(shape))
    half = shape[1] // 2
    x[:, :, :half] = rng.integers(-128, 128, x[:, :, :half].shape)
    return x.astype(np.int8)


def _layer_kernels(res) -> dict:
    return {l["name"]: l["kernel"] for l in res.info["layers"] if l["op"] == "conv2d"}


# name: (int8_conv_model keywords, kernel on M4 / M7 / M33); compiled by default, but SPEED_FIRST
# (the four / two planes would set the arena's peak, where the default takes one plane)
TFL_CASES = {
    "conv3x3": (dict(hw=(8, 8), cin=8, cout=12, k=3), "mcf_conv2d_s8_dsp_lsh"),
    # in_c % 4 != 0 (padding segments through segbuf), an odd last channel, a dead channel, stride 2,
    # ReLU (the clamping pair loop), an odd pixel count (a last single pixel)
    "conv3x3_s2_odd": (dict(hw=(9, 7), cin=5, cout=11, k=3, stride=2, relu=True, dead=(4,)), "mcf_conv2d_s8_dsp_lsh"),
    "conv1x1": (dict(hw=(6, 5), cin=16, cout=10, k=1), "mcf_conv2d_s8_dsp_lsh"),
    "dw3x3": (dict(hw=(8, 8), cin=16, cout=16, k=3, dw=True), "mcf_depthwise_conv2d_s8_dsp3x3_lsh"),
    "dw3x3_s2_relu": (dict(hw=(9, 9), cin=12, cout=12, k=3, dw=True, stride=2, relu=True, dead=(3,)),
                      "mcf_depthwise_conv2d_s8_dsp3x3_lsh1"),
    "dw5x5": (dict(hw=(8, 8), cin=8, cout=8, k=5, dw=True), "mcf_depthwise_conv2d_s8_dsp2_lsh"),
    "dw_mult2": (dict(hw=(7, 7), cin=6, cout=12, k=3, dw=True), "mcf_depthwise_conv2d_s8_dsp_lsh"),
}
SPEED_FIRST = {"dw3x3", "dw5x5"}


def _tfl_case(tmp_path, name, cores, host=True):
    spec, kernel = TFL_CASES[name]
    buf = int8_conv_model(**spec)
    path = tmp_path / "conv.tflite"
    path.write_bytes(buf)
    x = _conv_inputs(spec["hw"] + (spec["cin"],))
    theirs = np.stack([TflmModel(buf).run(xi[None])[0][0] for xi in x])
    cout = spec["cout"]
    live = np.setdiff1d(np.arange(cout), spec.get("dead", ()))
    left = live[np.resize(np.asarray(EXPS), cout)[live] >= 0]
    near = theirs[:, :, -2:, left]      # right edge: inputs near the zero point, left-shift channels
    assert len(np.unique(near)) > 10 and (np.abs(near.astype(int)) < 127).mean() > 0.7, np.unique(near)
    for target, board in cores:
        _toolchain(board)
        out = tmp_path / target
        res = compile_model(path, out, target=target, quiet=True, speed_first=name in SPEED_FIRST)
        assert '"requant": "double"' in (out / "model.json").read_text()
        assert list(_layer_kernels(res).values()) == [kernel]
        ref, _ = simulate(out, board="reference", x=x, quiet=True)
        np.testing.assert_array_equal(ref.reshape(theirs.shape), theirs, err_msg="golden != tflite-micro")
        if host:
            _exact(out, "host", x, ref)
        _exact(out, board, x, ref)


@pytest.mark.parametrize("name,cores", [(n, M4) for n in TFL_CASES]
                         + [pytest.param(n, M7_M33, marks=pytest.mark.slow) for n in TFL_CASES])
def test_tflite_conv_left_shift(tmp_path, name, cores):
    """tflite-micro == golden == QEMU (host C too for the first case on M4; the ONNX case runs host
    C on depthwise)."""
    _tfl_case(tmp_path, name, cores, host=name == "conv3x3" and cores == M4)


# -- (2) ONNX, quantized here: single rounding ---------------------------------------------------
def conv_lsh_net(path, seed=3, hw=6, n_calib=16):
    """Three branches, node names conv0 (3x3, pads 1, 12 -> 10), conv1 (1x1, 12 -> 9), dw (depthwise
    3x3, 8 channels, no padding). The convolutions' input channels are [u, u, v] (4 each), u in (-1, 1),
    v in (-0.05, 0.05), weighted [a p, -a p, g] (p = +-1, g ~ N(0, 0.4)): the u parts cancel exactly
    after quantization (the padding too) and the output is g v, so the channel's weight scale a / 127
    sets its multiplier: a from 1 (a right shift) to 40 (a left shift). The depthwise input is
    constant along the width, its kernel columns [a p, -a p, g]: the same cancellation. Returns
    (model, calib, test inputs)."""
    rng = np.random.default_rng(seed)
    nodes, inits, ins, outs, shapes = [], [], [], [], []
    for i, (k, cout) in enumerate(((3, 10), (1, 9))):
        a = np.geomspace(1.0, 40.0, cout)[:, None, None, None]
        p = rng.choice([-1.0, 1.0], (cout, 4, k, k))
        w = np.concatenate([a * p, -a * p, rng.normal(0, 0.4, (cout, 4, k, k))], axis=1)
        inits += [numpy_helper.from_array(w.astype(np.float32), f"w{i}"),
                  numpy_helper.from_array(rng.normal(0, 0.002, cout).astype(np.float32), f"b{i}")]
        nodes.append(helper.make_node("Conv", [f"x{i}", f"w{i}", f"b{i}"], [f"y{i}"], name=f"conv{i}",
                                      pads=[k // 2] * 4))
        shapes.append((12, hw, hw))
    c = 8
    a = np.geomspace(1.0, 40.0, c)[:, None]
    p = rng.choice([-1.0, 1.0], (c, 3))
    w = np.stack([a * p, -a * p, rng.normal(0, 0.02, (c, 3))], axis=2)[:, None]        # [c, 1, 3 rows, 3 cols]
    inits += [numpy_helper.from_array(w.astype(np.float32), "w2"),
              numpy_helper.from_array(rng.normal(0, 0.002, c).astype(np.float32), "b2")]
    nodes.append(helper.make_node("Conv", ["x2", "w2", "b2"], ["y2"], name="dw", group=c))
    shapes.append((c, hw, hw + 1))
    for i, s in enumerate(shapes):
        ins.append(helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, (1,) + s))
        outs.append(helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None))
    g = helper.make_graph(nodes, "conv_lsh", ins, outs, inits)

    def data(n):
        u = rng.uniform(-1, 1, (n, 4, hw, hw))
        conv = [np.concatenate([u, u, rng.uniform(-0.05, 0.05, u.shape)], axis=1).astype(np.float32)
                for u in (u, rng.uniform(-1, 1, u.shape))]
        dw = np.repeat(rng.uniform(-1, 1, (n, c, hw, 1)), hw + 1, axis=3).astype(np.float32)
        return conv + [dw]
    model, calib = _save(g, path, {f"x{i}": d for i, d in enumerate(data(n_calib))})
    return model, calib, data(4)


ONNX_KERNELS = {"conv0": "mcf_conv2d_s8_dsp", "conv1": "mcf_conv2d_s8_dsp", "dw": "mcf_depthwise_conv2d_s8_dsp3x3_lsh1"}


def _onnx_case(tmp_path, monkeypatch, target, host):
    """test_int8_fc_lsh's ONNX check on conv_lsh_net: every layer with left and right shifts."""
    fc_onnx_case(tmp_path, monkeypatch, target, host, net=conv_lsh_net, kernels=ONNX_KERNELS,
                 layer_kernels=_layer_kernels, channels=(8, 9, 10))


def test_onnx_conv_left_shift_single_rounding_m4(tmp_path, monkeypatch):
    """Conv 3x3 and 1x1 (the plain DSP kernel, e = 1, rcz = 1 + 2 zp) and depthwise 3x3 (_lsh1) with
    left- and right-shift channels: golden == host C == QEMU M4."""
    _onnx_case(tmp_path, monkeypatch, "cortex-m4", host=True)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["cortex-m7", "cortex-m33"])
def test_onnx_conv_left_shift_single_rounding_m7_m33(tmp_path, monkeypatch, target):
    _onnx_case(tmp_path, monkeypatch, target, host=False)


# -- (3) bounds, checked at compile time ------------------------------------------------------
@pytest.mark.parametrize("dw", [False, True])
@pytest.mark.parametrize("shift,ok", [(7, True), (8, False)])
def test_tap_bound(tmp_path, dw, shift, ok):
    """A left shift s with |w| = 127: the scaled tap 127 x 2^(s+1) fits int16 up to s = 7; a layer
    with a channel beyond it keeps the _fast kernel (dsp_subbyte._lsh_ok)."""
    path = tmp_path / "conv.tflite"
    path.write_bytes(int8_conv_model((5, 5), 4, 4, 3, dw=dw, lsh_mag=127, exps=(-2, shift, 0, -5)))
    res = compile_model(path, tmp_path / "out", target="cortex-m4", quiet=True, speed_first=True)
    kind = "depthwise_conv2d_s8" if dw else "conv2d_s8"
    want = ("dsp3x3_lsh1" if dw else "dsp_lsh") if ok else "fast"
    assert list(_layer_kernels(res).values()) == [f"mcf_{kind}_{want}"]


def test_accumulator_bound(tmp_path):
    """|2^(s+1) acc| < 2^31 for every partial sum: s = 7 passes the tap bound, but over 3x3x160 inputs
    of |w| ~ 64 the bound 128 sum |w| 2^7 is above 2^30 (the kernel's doubled accumulator would
    wrap): _fast; 3x3x24 fits."""
    path = tmp_path / "conv.tflite"
    path.write_bytes(int8_conv_model((4, 4), 24, 4, 3, lsh_mag=127, exps=(-2, 7)))
    res = compile_model(path, tmp_path / "ok", target="cortex-m4", quiet=True)
    assert list(_layer_kernels(res).values()) == ["mcf_conv2d_s8_dsp_lsh"]
    path.write_bytes(int8_conv_model((4, 4), 160, 4, 3, lsh_mag=127, exps=(-2, 7)))
    res = compile_model(path, tmp_path / "out", target="cortex-m4", quiet=True)
    assert list(_layer_kernels(res).values()) == ["mcf_conv2d_s8_fast"]


# -- (4) Cortex-M55: the Helium kernels take left shifts themselves and are tried first ------------
def test_helium_tried_first(tmp_path):
    """Cortex-M55 has the DSP extension too: the DSP left-shift forms (dsp_fc_lsh, dsp_conv_lsh) are
    registered before the Helium variants, so Helium wins even with speed_first (a left-shift fully
    connected layer ran mcf_fully_connected_s8_dsp_lsh there when dsp_fc_lsh registered after them)."""
    from test_int8_fc_lsh import TFL_CASES as FC_CASES, int8_fc_model
    want = {"fc": "mcf_fully_connected_s8_mve", "conv": "mcf_conv2d_s8_mve", "dw": "mcf_depthwise_conv2d_s8_mve_ch"}
    bufs = {"fc": int8_fc_model(**FC_CASES["rows16"]), "conv": int8_conv_model(**TFL_CASES["conv3x3"][0]),
            "dw": int8_conv_model(**TFL_CASES["dw3x3"][0])}
    for name, buf in bufs.items():
        path = tmp_path / f"{name}.tflite"
        path.write_bytes(buf)
        res = compile_model(path, tmp_path / name, target="cortex-m55", quiet=True, speed_first=True)
        assert [l["kernel"] for l in res.info["layers"] if l["op"] in ("conv2d", "dense")] == [want[name]]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["conv3x3_s2_odd", "dw3x3_s2_relu"])
def test_helium_conv_left_shift(tmp_path, name):
    """QEMU Cortex-M55 == tflite-micro on the left-shift layers (Helium kernels)."""
    _toolchain("mps3-an547")
    spec, _ = TFL_CASES[name]
    buf = int8_conv_model(**spec)
    path = tmp_path / "conv.tflite"
    path.write_bytes(buf)
    compile_model(path, tmp_path / "out", target="cortex-m55", quiet=True)
    x = _conv_inputs(spec["hw"] + (spec["cin"],), n=2)
    theirs = np.stack([TflmModel(buf).run(xi[None])[0][0] for xi in x])
    _exact(tmp_path / "out", "mps3-an547", x, theirs)
