"""QONNX import (Quant, BipolarQuant, Trunc): Brevitas 0.13.4 models and hand-written graphs against
qonnx's own executor and Brevitas's forward. Power-of-two scales run in the fixed scheme (the FPGA
backends' golden model) bit-exact; arbitrary scales compile to int8 C within 1 LSB."""
from pathlib import Path

import numpy as np
import pytest

from mcuforge.codegen.fpga.golden import golden_raw
from mcuforge.codegen.fpga.layout import to_graph_layout, to_user_layout
from mcuforge.codegen.fpga.prepare import prepare_fixed
from mcuforge.errors import McuforgeError, UnsupportedOpError
from mcuforge.quant.fixed import raw_to_real
from qonnx_graphs import conv_model, qonnx_run

FIXTURES = Path(__file__).parent / "qonnx_fixtures"


def fixed_outputs(model, x: np.ndarray) -> np.ndarray:
    """Golden model of the fixed scheme on a QONNX model (no calibration), in the model's layout."""
    g = model if not isinstance(model, (str, Path)) else prepare_fixed(model)
    xin = to_graph_layout(g, g.inputs[0], x)
    _, yr = golden_raw(g, xin)
    out = g.outputs[0]
    y = raw_to_real(g, out, yr).reshape((len(x),) + g.tensors[out].shape[1:])
    return to_user_layout(g, out, y)


def int8_real(out_dir: Path, y) -> np.ndarray:
    """Raw int8 outputs of simulate() -> real values with the output's scale and zero point."""
    from mcuforge.api import read_info
    q = read_info(out_dir)["outputs"][0]["quant"]
    return (np.asarray(y, np.float64) - q["zero_point"]) * q["scale"]


def test_brevitas_pot_cnn_bit_exact():
    """Brevitas CNN with power-of-two scales (4/5/6-bit weights, per-channel depthwise, unsigned 6-bit
    ReLU, 16-bit biases): fixed golden == Brevitas forward == qonnx executor, bit for bit."""
    d = np.load(FIXTURES / "pot_cnn.npz")
    g = prepare_fixed(FIXTURES / "pot_cnn.onnx")
    types = {n.op: str(g.tensors[n.outputs[0]].meta["fixed"]) for n in g.topo_order()}
    assert types["dense"] == "fixed<8,6,rne,sat>"  # output Quant: 8 bits at 2^-2 (W, I), ROUND = ties to even
    y = fixed_outputs(g, d["x"])
    assert np.array_equal(y, d["y_brevitas"])
    assert np.array_equal(y, qonnx_run(FIXTURES / "pot_cnn.onnx", d["x"]))
    assert len(np.unique(y)) > 20


@pytest.mark.parametrize("rounding", ["ROUND", "FLOOR"])
@pytest.mark.parametrize("bits,signed,narrow", [(2, True, False), (3, False, False), (5, True, True),
                                                 (8, False, True), (12, True, False), (16, False, False)])
def test_quant_modes_pot_bit_exact(tmp_path, bits, signed, narrow, rounding):
    """Every width 2..16, signedness, narrow range and the two rounding modes fixed point has,
    at power-of-two scales: the fixed golden model equals qonnx's executor."""
    wbits = min(bits, 8)
    path = conv_model(tmp_path / "m.onnx", x_q=dict(scale=2.0 ** -4, bits=8, rounding=rounding),
                      w_q=dict(scale=2.0 ** -(wbits - 2), bits=wbits, narrow=True, rounding=rounding),
                      out_q=dict(scale=2.0 ** -(bits - 3), bits=bits, signed=signed, narrow=narrow,
                                 rounding=rounding), relu=not signed)
    x = np.random.default_rng(bits).uniform(-3, 3, (8, 2, 5, 5))
    ref = qonnx_run(path, x)
    assert np.array_equal(fixed_outputs(path, x), ref)
    assert len(np.unique(ref)) >= min(2 ** bits - 2, 8)  # not collapsed to a constant


def test_trunc_and_per_channel_weights_bit_exact(tmp_path):
    """Trunc (v2) dropping accumulator bits with FLOOR, and per-channel power-of-two weight scales."""
    scales = np.array([2.0 ** -3, 2.0 ** -5, 2.0 ** -4]).reshape(3, 1, 1, 1)
    path = conv_model(tmp_path / "m.onnx", x_q=dict(scale=2.0 ** -4, bits=8), w_q=dict(scale=scales, bits=6),
                      out_q=None, trunc=dict(scale=2.0 ** -9, in_bits=20, out_scale=2.0 ** -3, out_bits=7))
    x = np.random.default_rng(3).uniform(-2, 2, (6, 2, 5, 5))
    ref = qonnx_run(path, x)
    assert np.array_equal(fixed_outputs(path, x), ref)
    assert np.unique(ref).size > 20


def test_bipolar_weights_bit_exact(tmp_path):
    path = conv_model(tmp_path / "m.onnx", x_q=dict(scale=2.0 ** -4, bits=8), w_q=dict(scale=2.0 ** -3),
                      out_q=dict(scale=2.0 ** -3, bits=8), bipolar_weights=True, bias=[0.5, -0.25, 0.125])
    x = np.random.default_rng(4).uniform(-2, 2, (6, 2, 5, 5))
    assert np.array_equal(fixed_outputs(path, x), qonnx_run(path, x))


@pytest.mark.parametrize("rounding", ["ROUND", "HALF_UP"])
def test_arbitrary_scales_int8_within_one_lsb(tmp_path, rounding):
    """Arbitrary scales at 8 bits (and 4-bit weights) run in the int8 scheme: within 1 LSB of qonnx
    (round-to-nearest modes; FLOOR and friends are refused on int8, see test_refusals_...)."""
    from mcuforge.api import compile_model, simulate
    path = conv_model(tmp_path / "m.onnx", x_q=dict(scale=0.0213, bits=8, rounding=rounding),
                      w_q=dict(scale=0.0917, bits=4, narrow=True, rounding=rounding),
                      out_q=dict(scale=0.0371, bits=8, signed=False, rounding=rounding), relu=True)
    x = np.random.default_rng(5).uniform(-2, 2, (6, 2, 5, 5)).astype(np.float32)
    compile_model(path, tmp_path / "out", quant="int8", calib=x, quiet=True)
    y, _ = simulate(tmp_path / "out", board="reference", x=x, quiet=True)
    ref = qonnx_run(path, x)
    diff = np.abs(int8_real(tmp_path / "out", y) - ref) / 0.0371
    assert diff.max() <= 1.0 + 1e-4 and ref.max() > 1.0


def test_brevitas_float_mlp_host_c(tmp_path):
    """Brevitas MLP with float scales (4-bit weights, unsigned 4-bit ReLU as a fused clamp, per-channel
    8-bit weights) compiled to C: host C == golden, both near Brevitas's output."""
    from mcuforge.api import compile_model, simulate
    d = np.load(FIXTURES / "float_mlp.npz")
    x = d["x"].astype(np.float32)  # [N, 1, 8, 8]: the model flattens it
    compile_model(FIXTURES / "float_mlp.onnx", tmp_path / "out", quant="int8", calib=x, quiet=True)
    y_ref, _ = simulate(tmp_path / "out", board="reference", x=x, quiet=True)
    y_c, _ = simulate(tmp_path / "out", board="host", x=x, quiet=True)
    assert np.array_equal(y_ref, y_c)
    lsb = float(np.min(np.diff(np.unique(d["y_brevitas"]))))
    y_ref = int8_real(tmp_path / "out", y_ref)
    err = np.abs(y_ref - d["y_brevitas"]) / lsb
    # 1 LSB per quantization stage (input, 4-bit hidden, output): most outputs equal Brevitas's
    assert err.max() <= 3.0 + 1e-4 and (err < 0.5).mean() >= 0.9, (err.max(), (err < 0.5).mean())
    assert (np.argmax(y_ref, 1) == np.argmax(d["y_brevitas"], 1)).mean() >= 0.95


def test_refusals_name_node_and_width(tmp_path):
    # a non-power-of-two scale cannot become fixed point
    path = conv_model(tmp_path / "a.onnx", x_q=dict(scale=0.03, bits=8), w_q=dict(scale=2.0 ** -4, bits=6),
                      out_q=dict(scale=2.0 ** -3, bits=8))
    with pytest.raises(McuforgeError, match="QONNX Quant qx: scale 0.03 is not a power of two"):
        prepare_fixed(path)
    # 12-bit activations do not fit the C backend's int8
    from mcuforge.api import compile_model
    path = conv_model(tmp_path / "b.onnx", x_q=dict(scale=0.03, bits=8), w_q=dict(scale=0.01, bits=8),
                      out_q=dict(scale=0.1, bits=12))
    with pytest.raises(McuforgeError, match="QONNX Quant qy: 12-bit activations"):
        compile_model(path, tmp_path / "o", quant="int8", calib=np.zeros((1, 2, 5, 5), np.float32), quiet=True)
    assert not (tmp_path / "o").exists()
    # 12-bit weights likewise (a 16-bit bias is fine: biases are int32)
    path = conv_model(tmp_path / "b2.onnx", x_q=dict(scale=0.03, bits=8), w_q=dict(scale=0.001, bits=12),
                      out_q=dict(scale=0.1, bits=8))
    with pytest.raises(McuforgeError, match="conv2d conv: 12-bit weights"):
        compile_model(path, tmp_path / "o", quant="int8", calib=np.zeros((1, 2, 5, 5), np.float32), quiet=True)
    # FLOOR activations: exact in fixed point, refused by int8 (which rounds to nearest)
    path = conv_model(tmp_path / "e.onnx", x_q=dict(scale=0.03, bits=8, rounding="FLOOR"),
                      w_q=dict(scale=0.01, bits=8), out_q=dict(scale=0.1, bits=8))
    with pytest.raises(McuforgeError, match="QONNX Quant qx: rounding mode FLOOR on an activation"):
        compile_model(path, tmp_path / "o", quant="int8", calib=np.zeros((1, 2, 5, 5), np.float32), quiet=True)
    # a rounding mode ap_fixed does not have
    path = conv_model(tmp_path / "c.onnx", x_q=dict(scale=2.0 ** -4, bits=8, rounding="CEIL"),
                      w_q=dict(scale=2.0 ** -4, bits=6), out_q=dict(scale=2.0 ** -3, bits=8))
    with pytest.raises(McuforgeError, match="QONNX Quant qx: rounding mode CEIL"):
        prepare_fixed(path)
    # widths outside 2..16 and binary activations
    path = conv_model(tmp_path / "d.onnx", x_q=dict(scale=2.0 ** -4, bits=20), w_q=dict(scale=2.0 ** -4, bits=6),
                      out_q=None)
    with pytest.raises(UnsupportedOpError, match="Quant.*qx.*bit width 20"):
        prepare_fixed(path)
