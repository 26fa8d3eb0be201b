"""Fully connected layers of several rows (a Dense / MatMul on [N, K], N > 1: the 1x1 convolution over N
pixels) with int4 / ternary weights and left-shift channels (multiplier >= 1/2, common for ternary)
on the DSP extension: the convolutions' block kernels (variants/dsp_subbyte.py) under single
rounding (mcf_fully_connected_s8_w{4,2}_dsp_lss: 2^(s+1) folded into the channel's unpacked
weights and bias, e = 1, rcz = 1 + 2 zp) and double rounding (_dsp_lsh: the _lsh block kernel),
instead of the portable _fast fallback. A single row keeps the radix row kernel
(test_subbyte_fc_radix.py).

(1) ONNX models quantized here (single rounding): MatMul on [1, N, K] and Gemm on [N, K] side by
side, one int4 and one ternary, whose calibration data make the outputs small against the weights
(left- and right-shift channels in each layer); golden == host C == QEMU Cortex-M4 byte for byte.
(2) TFLite FULLY_CONNECTED on [N, K] (double rounding): INT4 weights byte-exact with tflite-micro,
int8 weights on the ternary / int4 grid narrowed here within 1 LSB of it; golden == host == QEMU."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from mcuforge.api import compile_model, simulate
from mcuforge.codegen.c.variants import dsp_subbyte

from kernels.layer_models import _save
from test_subbyte import BOARDS, _toolchain


def _lsh_fc(rng, k: int, c: int) -> np.ndarray:
    """Weights [c, k]: input quarters 0 and 1 (nearly equal in the data) weighted +a / -a, per-channel
    a from 0.03 to 1 (test_subbyte_lsh_single.lsh_net's idea): small outputs against the weights, so
    the large-a channels' multipliers are >= 1/2, the small-a ones' < 1/2."""
    q, kk = k // 4, 0.3
    a = np.geomspace(0.03, 1.0, c)[:, None]
    p = rng.choice([-1.0, 1.0], (c, q))
    w = np.concatenate([a * p, -a * p, kk * a * rng.normal(0, 0.3, (c, q)), kk * 0.2 * a * p], axis=1)
    return w * (1 + 0.05 * kk * rng.normal(size=w.shape))


def _lsh_rows(rng, shape) -> np.ndarray:
    """Rows [..., k] whose quarters 0 and 1 are nearly equal."""
    q = shape[-1] // 4
    x0 = rng.uniform(-1, 2, shape[:-1] + (q,))
    return np.concatenate([x0, x0 + rng.normal(0, 0.015, x0.shape), rng.uniform(-0.2, 0.2, x0.shape),
                           rng.uniform(-1, 1, x0.shape)], axis=-1).astype(np.float32)


def fc_lsh_net(path, rows=6, k=16, c=(10, 9), seed=2, branches=("matmul", "gemm"), weights=_lsh_fc,
               data=_lsh_rows, bias_sd=0.05):
    """Independent branches: "matmul" x_i [1, rows, k] @ W + b (MatMul, then Add), "gemm" x_i [rows, k]
    (Gemm, bias fused), node names fc0, fc1, ...; weights(rng, k, n) -> W [n, k], biases N(0, bias_sd),
    data(rng, shape) -> inputs; returns (model, calib, test inputs)."""
    rng = np.random.default_rng(seed)
    nodes, inits, ins, outs, shapes = [], [], [], [], []
    for i, kind in enumerate(branches):
        n = c[i]
        w = weights(rng, k, n)
        b = rng.normal(0, bias_sd, n)
        shape = (1, rows, k) if kind == "matmul" else (rows, k)
        if kind == "matmul":
            inits += [numpy_helper.from_array(w.T.astype(np.float32), f"w{i}"),
                      numpy_helper.from_array(b.astype(np.float32), f"b{i}")]
            nodes += [helper.make_node("MatMul", [f"x{i}", f"w{i}"], [f"m{i}"], name=f"fc{i}"),
                      helper.make_node("Add", [f"m{i}", f"b{i}"], [f"y{i}"], name=f"add{i}")]
        else:
            inits += [numpy_helper.from_array(w.astype(np.float32), f"w{i}"),
                      numpy_helper.from_array(b.astype(np.float32), f"b{i}")]
            nodes.append(helper.make_node("Gemm", [f"x{i}", f"w{i}", f"b{i}"], [f"y{i}"], name=f"fc{i}", transB=1))
        ins.append(helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, shape))
        outs.append(helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None))
        shapes.append(shape)
    g = helper.make_graph(nodes, "fc_lsh", ins, outs, inits)
    model, calib = _save(g, path, {f"x{i}": data(rng, (16,) + s) for i, s in enumerate(shapes)})
    return model, calib, [data(rng, (4,) + s) for s in shapes]


def _dense_kernels(res) -> dict:
    return {l["name"]: l["kernel"] for l in res.info["layers"] if l["op"] == "dense"}


def _exact(out, board, x, ref):
    ours, _ = simulate(out, board=board, x=x, quiet=True)
    for a, b in zip(ours if isinstance(ours, list) else [ours], ref if isinstance(ref, list) else [ref]):
        np.testing.assert_array_equal(a, b, err_msg=f"{board} differs from the golden model")


# -- (1) ONNX, quantized here: single rounding -------------------------------------------------------
@pytest.mark.parametrize("widths,target", [
    ((4, 2), "cortex-m4"),
    pytest.param((2, 4), "cortex-m7", marks=pytest.mark.slow), pytest.param((4, 2), "cortex-m33", marks=pytest.mark.slow),
])
def test_fc_rows_left_shift_single_rounding(tmp_path, monkeypatch, widths, target):
    """MatMul [1, 6, 16] (int4 or ternary) and Gemm [6, 16] (the other width): both layers have left- and
    right-shift channels and run the _dsp_lss kernel; golden == host C == QEMU."""
    board = BOARDS[target]
    _toolchain(board)
    shifts = {}
    real = dsp_subbyte._prepare

    def spy(params, consts, lsh=0):
        shifts[params["weight_bits"]] = np.asarray(consts["shift"])
        return real(params, consts, lsh)
    monkeypatch.setattr(dsp_subbyte, "_prepare", spy)
    model, calib, x = fc_lsh_net(tmp_path / "m.onnx")
    out = tmp_path / "out"
    wb = {"fc0": widths[0], "fc1": widths[1]}
    res = compile_model(model, out, target=target, calib=calib, quiet=True, weight_bits=wb)
    assert _dense_kernels(res) == {n: f"mcf_fully_connected_s8_w{b}_dsp_lss" for n, b in wb.items()}
    assert sorted(shifts) == [2, 4] and all((s >= 0).any() and (s < 0).any() for s in shifts.values()), shifts
    assert "#define MCF_SINGLE_ROUNDING 1" in (out / "mcuforge_runtime/include/mcf_config.h").read_text()
    ref, _ = simulate(out, board="reference", x=x, quiet=True)
    assert all(len(np.unique(r)) > 30 for r in ref), "outputs saturate: the test would prove little"
    if target == "cortex-m4":
        _exact(out, "host", x, ref)
    _exact(out, board, x, ref)


def test_fc_rows_left_shift_single_rounding_blocks(tmp_path, monkeypatch):
    """Several blocks of channels (block-outer; mcf_sub_scale_left and the e = 1 constants per block
    at its c0, an odd last block), golden == QEMU M4."""
    from test_subbyte_blocks import _no_slack
    _toolchain(BOARDS["cortex-m4"])
    monkeypatch.setattr(dsp_subbyte, "DSP_BLOCK_BYTES", 100)
    _no_slack(monkeypatch)
    model, calib, x = fc_lsh_net(tmp_path / "m.onnx")
    out = tmp_path / "out"
    res = compile_model(model, out, target="cortex-m4", calib=calib, quiet=True, weight_bits={"fc0": 2, "fc1": 4})
    assert _dense_kernels(res) == {"fc0": "mcf_fully_connected_s8_w2_dsp_lss", "fc1": "mcf_fully_connected_s8_w4_dsp_lss"}
    src = next(p for p in out.glob("mcf_*.c") if not p.name.endswith("_weights.c")).read_text()
    blocks = [int(b) for b in __import__("re").findall(r"\.block = (\d+)", src)]
    assert len(blocks) == 2 and all(b < 9 for b in blocks), blocks
    ref, _ = simulate(out, board="reference", x=x, quiet=True)
    _exact(out, "mps2-an386", x, ref)


def test_single_row_keeps_the_radix_kernel(tmp_path):
    """One row: the radix row kernels (they take left shifts themselves), not the block kernels; 16 ->
    10 / 9 are heads (dsp_fc_radix.py: head_ok), 20 -> 10 / 9 (K not a multiple of 8) are not."""
    for k, sfx in ((16, "_head"), (20, "")):
        model, calib, _ = fc_lsh_net(tmp_path / f"m{k}.onnx", rows=1, k=k)
        res = compile_model(model, tmp_path / f"out{k}", target="cortex-m4", calib=calib, quiet=True,
                            weight_bits={"fc0": 4, "fc1": 2})
        assert _dense_kernels(res) == {"fc0": "mcf_fully_connected_s8_w4_dsp" + sfx,
                                       "fc1": "mcf_fully_connected_s8_w2_dsp" + sfx}


# -- (2) TFLite: double rounding ------------------------------------------------------------------
TFL_CASES = {
    # INT4 weights (per tensor, tflite-micro's limit for FC), multiplier 1.3: every channel shifts left
    # (s = 1); byte-exact with tflite-micro
    "int4_tensor": dict(k=24, n=9, int4_tensor=True, int4_mult=1.3, bias_max=20, rows=5),
    # int8 weights on the int4 grid narrowed here: per-channel left and right shifts, a dead channel,
    # K = 45 (a padded last group), 11 outputs (an odd last channel)
    "int4_lsh": dict(k=45, n=11, int4_tensor=False, dead=(2,), bias_max=20, rows=5),
    # ternary narrowed: left and right shifts, K = 37, a dead channel
    "ternary_lsh": dict(k=37, n=11, int4_tensor=False, ternary=True, dead=(9,), bias_max=20, rows=5),
}


def _tfl_case(tmp_path, name, cores, host=True):
    from test_subbyte_fc_radix import _array, fc_row_model
    from mcuforge.sim.tflm import TflmModel
    spec = TFL_CASES[name]
    bits = 2 if spec.get("ternary") else 4
    exact = spec["int4_tensor"]
    buf, w = fc_row_model(**spec)
    path = tmp_path / "fc.tflite"
    path.write_bytes(buf)
    rows, k = spec["rows"], spec["k"]
    rng = np.random.default_rng(11)
    # rows 0-1 anywhere in int8 (the right-shift channels' range), the others near the input zero
    # point (-7), where the left-shift channels do not saturate
    x = np.concatenate([rng.integers(-128, 128, (6, 2, k)), rng.integers(-11, -2, (6, rows - 2, k))], axis=1)
    x = x.astype(np.int8)
    theirs = np.stack([TflmModel(buf).run(xi)[0] for xi in x])
    ref = None
    for target, board in cores:
        _toolchain(board)
        out = tmp_path / target
        res = compile_model(path, out, target=target, quiet=True, weight_bits=8 if exact else bits)
        assert '"requant": "double"' in (out / "model.json").read_text()
        assert list(_dense_kernels(res).values()) == [f"mcf_fully_connected_s8_w{bits}_dsp_lsh"]
        e = _array(out, "_shift")       # stored e: -s <= 0 for a left shift s, else the right shift
        assert (e <= 0).sum() >= 2 and ((e > 0).any() or name == "int4_tensor"), e
        if ref is None:
            ref, _ = simulate(out, board="reference", x=x, quiet=True)
            ref = ref.reshape(theirs.shape)
            diff = np.abs(ref.astype(int) - theirs)
            assert diff.max() <= (0 if exact else 1), diff.max()
            assert (diff == 0).mean() > 0.9
            for d in spec.get("dead", ()):
                assert len(np.unique(ref[..., d])) == 1
            small = ref[:, 2:]           # the rows near the zero point: outputs in range, not clamped
            assert len(np.unique(small)) > 20 and (np.abs(small.astype(int)) < 127).mean() > 0.8
            if host:
                _exact(out, "host", x, ref)
        _exact(out, board, x, ref)


@pytest.mark.parametrize("name", list(TFL_CASES))
def test_fc_rows_left_shift_double_rounding_m4(tmp_path, name):
    _tfl_case(tmp_path, name, (("cortex-m4", "mps2-an386"),), host=name == "int4_tensor")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TFL_CASES))
def test_fc_rows_left_shift_double_rounding_m7_m33(tmp_path, name):
    _tfl_case(tmp_path, name, (("cortex-m7", "mps2-an500"), ("cortex-m33", "mps2-an505")), host=False)
