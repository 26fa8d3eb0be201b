"""Sub-byte convolutions (groups 1) with left-shift channels (multiplier >= 1/2) under single
rounding, the default for models quantized here from ONNX: the PLAIN DSP block kernel runs them
(mcf_conv2d_s8_w{4,2}_dsp_lss; variants/dsp_subbyte.py: _conv_lsh_single_accepts) with 2^(s+1) more
folded into such a channel's unpacked weights and bias and e = 1, rcz = 1 + 2 zp, instead of the
_fast fallback. Golden == host C == QEMU Cortex-M4 byte for byte, on a float ONNX net quantized here
whose calibration data make the outputs small against the weights (left and right shifts in
each layer)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from mcuforge.api import compile_model, simulate
from mcuforge.codegen.c.variants import dsp_subbyte
from mcuforge.reference.arith import multiply_by_quantized_multiplier, rounding

from kernels.layer_models import _save
from test_subbyte import BOARDS, _toolchain


def test_single_rounding_identity():
    """SMMLA(2^(s+2) acc, m, 1 + 2 zp) >> 1 == floor(acc m 2^(s-31) + 1/2) + zp (the golden model's
    single rounding), including ties and negative accumulators."""
    rng = np.random.default_rng(0)
    n = 200_000
    s = rng.integers(0, 6, n)
    acc = rng.integers(-(1 << 22), 1 << 22, n) >> s         # |2^(s+2) acc| < 2^31
    acc[:1000] = rng.integers(-64, 64, 1000)
    m = rng.integers(1 << 30, 1 << 31, n)
    m[:500], s[:500] = 1 << 30, 0                           # odd acc: exact halves (ties)
    zp = rng.integers(-128, 128, n)
    a = acc << (s + 2)
    assert (np.abs(a) < 1 << 31).all()
    got = ((a * m + ((1 + 2 * zp) << 32)) >> 32) >> 1
    with rounding("single"):
        want = multiply_by_quantized_multiplier(acc, m, s) + zp
    np.testing.assert_array_equal(got, want)
    # a left shift rounds once in TFLite's rule too (RoundingDivideByPOT by 0): the same numbers; the
    # rules part in the right-shift channels, which the plain kernel requantizes by the single rule
    np.testing.assert_array_equal(got, multiply_by_quantized_multiplier(acc, m, s) + zp)


def test_lsh_single_bounds():
    """_lsh_ok(extra=1): one more doubling than the _lsh kernel's in both bounds."""
    w = np.full((2, 3, 3, 1), 7, np.int8)
    rq = {"in_zp": 0, "out_zp": 0}
    ok = {"weights": w, "bias": np.zeros(2, np.int64), "mult": np.full(2, 1 << 30), "shift": np.array([10, -3])}
    assert dsp_subbyte._lsh_ok(ok, rq, extra=1)
    assert dsp_subbyte._lsh_ok(dict(ok, shift=np.array([11, -3])), rq)               # 7 * 2^12 fits
    assert not dsp_subbyte._lsh_ok(dict(ok, shift=np.array([11, -3])), rq, extra=1)  # 7 * 2^13 does not
    big = dict(ok, bias=np.array([1 << 20, 0]), shift=np.array([9, -3]))
    assert dsp_subbyte._lsh_ok(big, rq) and not dsp_subbyte._lsh_ok(big, rq, extra=1)


def lsh_net(path, seed=2):
    """conv 3x3 4 -> 8 (relu) -> conv 1x1 8 -> 6. Input channels 0 and 1 nearly equal in the data and
    weighted +a / -a in conv1 (per-channel a from 0.03 to 1): small outputs against the weights, so
    the large-a channels' multipliers are >= 1/2, the small-a ones' < 1/2 (both kinds in a layer)."""
    rng = np.random.default_rng(seed)
    cin, c1, c2, hw, k = 4, 8, 6, 6, 0.3
    p = rng.choice([-1.0, 1.0], (c1, 1, 3, 3))
    a = np.geomspace(0.03, 1.0, c1)[:, None, None, None]
    w1 = np.concatenate([a * p, -a * p, k * a * rng.normal(0, 0.3, (c1, 1, 3, 3)), k * 0.2 * a * p], axis=1)
    w1 = w1 * (1 + 0.05 * k * rng.normal(size=w1.shape))
    w2 = rng.normal(0, 1, (c2, c1, 1, 1)) * np.geomspace(1.0, 0.05, c2)[:, None, None, None]
    inits = [numpy_helper.from_array(v.astype(np.float32), n)
             for n, v in (("w1", w1), ("b1", rng.normal(0, 0.05, c1)), ("w2", w2), ("b2", rng.normal(0, 0.1, c2)))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["h"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["h"], ["r"], name="relu1"),
             helper.make_node("Conv", ["r", "w2", "b2"], ["y"], name="conv2")]
    g = helper.make_graph(nodes, "lsh_single", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, cin, hw, hw))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)

    def data(n):
        x0 = rng.uniform(-1, 2, (n, 1, 1, hw, hw))
        return np.concatenate([x0, x0 + rng.normal(0, 0.05 * k, x0.shape), rng.uniform(-0.2, 0.2, x0.shape),
                               rng.uniform(-1, 1, x0.shape)], axis=2).astype(np.float32)
    model, calib = _save(g, path, {"x": data(16)})
    return model, calib, data(4)


MIXED = {"conv1": 4, "conv2": 2}


@pytest.mark.parametrize("wb,target", [
    (MIXED, "cortex-m4"), (2, "cortex-m4"), (MIXED, "host"),      # host: the portable kernels
    pytest.param(MIXED, "cortex-m33", marks=pytest.mark.slow), pytest.param(2, "cortex-m7", marks=pytest.mark.slow),
])
def test_conv_left_shift_single_rounding(tmp_path, monkeypatch, wb, target):
    _toolchain(BOARDS[target])
    shifts = []
    real = dsp_subbyte._prepare

    def spy(params, consts, lsh=0):
        shifts.append(np.asarray(consts["shift"]))
        return real(params, consts, lsh)
    monkeypatch.setattr(dsp_subbyte, "_prepare", spy)
    model, calib, x = lsh_net(tmp_path / "m.onnx")
    out = tmp_path / "out"
    res = compile_model(model, out, target="cortex-m4" if target == "host" else target, calib=calib, quiet=True, weight_bits=wb)
    widths = [wb["conv1"], wb["conv2"]] if isinstance(wb, dict) else [wb, wb]
    kernels = [l["kernel"] for l in res.info["layers"] if l["op"] == "conv2d"]
    assert kernels == [f"mcf_conv2d_s8_w{b}_dsp_lss" for b in widths], kernels
    # both layers (prepared once or more) have left-shift and right-shift channels
    assert len({tuple(s) for s in shifts}) == 2 and all((s >= 0).any() and (s < 0).any() for s in shifts), shifts
    assert "#define MCF_SINGLE_ROUNDING 1" in (out / "mcuforge_runtime/include/mcf_config.h").read_text()
    ref, _ = simulate(out, board="reference", x=x, quiet=True)
    ours, _ = simulate(out, board=BOARDS[target], x=x, quiet=True)
    np.testing.assert_array_equal(ours, ref)
    assert len(np.unique(ref)) > 20


@pytest.mark.parametrize("cols_first", [True, False])
def test_conv_left_shift_single_rounding_blocks(tmp_path, monkeypatch, cols_first):
    """Several blocks of channels (mcf_sub_scale_left per block at its c0), the columns kept or
    block-outer; golden == QEMU M4."""
    from test_subbyte_blocks import _no_slack, _schedules
    _toolchain(BOARDS["cortex-m4"])
    monkeypatch.setattr(dsp_subbyte, "DSP_BLOCK_BYTES", 40)
    monkeypatch.setattr(dsp_subbyte, "IM2COL_PER_K4" if cols_first else "UNPACK_PER_WEIGHT", 1000.0)
    _no_slack(monkeypatch)
    model, calib, x = lsh_net(tmp_path / "m.onnx")
    out = tmp_path / "out"
    res = compile_model(model, out, target="cortex-m4", calib=calib, quiet=True, weight_bits=MIXED)
    kernels = [l["kernel"] for l in res.info["layers"] if l["op"] == "conv2d"]
    assert kernels == ["mcf_conv2d_s8_w4_dsp_lss", "mcf_conv2d_s8_w2_dsp_lss"], kernels
    sched = _schedules(out)
    assert len(sched) == 2 and all(b < oc for (_, oc, _), (b, _) in sched.items()), sched
    assert all(bool(c) == cols_first for _, c in sched.values()), sched
    ref, _ = simulate(out, board="reference", x=x, quiet=True)
    ours, _ = simulate(out, board="mps2-an386", x=x, quiet=True)
    np.testing.assert_array_equal(ours, ref)
