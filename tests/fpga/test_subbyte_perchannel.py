"""Per-channel power-of-two scales of the FPGA sub-byte weights (quant/subbyte.py:
fixed_subbyte_weights, node attribute weight_shift): each channel's products are summed on the raw
int4 / ternary weights and the sum is shifted left by the channel's s_c before the requantization.
Golden == HLS C-simulation (== Verilator, @slow) bit for bit, the shifts really change the result,
and on the digits CNN they (with bias correction, quant/fixed_subbyte.py) bring int4 to int8's
accuracy and ternary far above chance."""
import re

import numpy as np
import pytest

import fpga_models as models
from mcuforge.codegen.fpga.golden import read_raw
from mcuforge.codegen.fpga.graph_io import load_graph
from mcuforge.codegen.fpga.layout import to_graph_layout
from mcuforge.codegen.fpga.prepare import prepare_fixed
from mcuforge.codegen.hls.project import write_hls_project
from mcuforge.codegen.rtl.project import write_rtl_project
from mcuforge.ir.graph import Graph, Node
from mcuforge.ir.ops import infer_shapes
from mcuforge.ir.tensor import Tensor
from mcuforge.quant.fixed import input_to_raw
from mcuforge.quant.subbyte import fixed_subbyte_weights
from mcuforge.reference.executor import Executor
from mcuforge.sim import hls_csim
from mcuforge.sim.fpga import run_reference
from test_three_way import three_way

CHANNEL_SCALES = (0.02, 0.3, 2.5, 0.07)  # conv channels of very different magnitudes


def spread_graph():
    """conv 3x3 1 -> 4 (channels scaled by CHANNEL_SCALES, biases) -> relu -> dense 64 -> 6 (rows of
    different magnitudes, no bias): the per-channel scales differ by up to 7 binary places."""
    rng = np.random.default_rng(3)
    g = Graph("spread")
    g.add_tensor(Tensor("x", (1, 4, 4, 1)))
    w1 = rng.normal(0, 1, (4, 3, 3, 1)) * np.array(CHANNEL_SCALES).reshape(-1, 1, 1, 1)
    w2 = rng.normal(0, 1, (6, 64)) * np.array([0.05, 0.5, 1.0, 0.1, 0.02, 0.3]).reshape(-1, 1)
    g.const("w1", w1.astype(np.float32))
    g.const("b1", rng.normal(0, 0.1, 4).astype(np.float32))
    g.const("w2", w2.astype(np.float32))
    g.add_node(Node("conv", "conv2d", ["x", "w1", "b1"], ["h"], {"pads": (1, 1, 1, 1)}))
    g.add_node(Node("relu", "relu", ["h"], ["r"], {}))
    g.add_node(Node("flat", "reshape", ["r"], ["f"], {"shape": (1, 64)}))
    g.add_node(Node("fc", "dense", ["f", "w2"], ["y"], {}))
    g.inputs, g.outputs = ["x"], ["y"]
    return infer_shapes(g)


def _calib():
    return np.random.default_rng(4).uniform(0, 1, (48, 4, 4, 1)).astype(np.float32)


def test_per_channel_grid():
    w = np.array([[0.9, -0.31, 0.05, -0.6], [0.02, 0.0, -0.09, 0.04]])
    raw, t, shifts = fixed_subbyte_weights(w, 4)
    # row 0: max 0.9 -> F0 = 3 (7.2 -> 7); row 1: max 0.09 -> F0 = 6 (5.76 -> 6): the finest F is
    # the layer's, row 0 keeps its own grid through a left shift of 3
    assert (t.width, t.frac) == (4, 6) and shifts.tolist() == [3, 0]
    assert raw.tolist() == [[7, -2, 0, -5], [1, 0, -6, 3]]
    real = np.ldexp(raw.astype(float), (shifts - t.frac).reshape(-1, 1))
    assert np.abs(real - w).max() <= 0.0625  # half an LSB of row 0's grid
    raw1, t1, s1 = fixed_subbyte_weights(w, 4, per_channel=False)  # one scale: row 1 nearly vanishes
    assert t1.frac == 3 and not s1.any() and raw1[1].tolist() == [0, 0, -1, 0]
    raw, t, shifts = fixed_subbyte_weights(w, 2)
    assert set(np.unique(raw)) <= {-1, 0, 1} and shifts[0] > shifts[1] == 0
    zero = fixed_subbyte_weights(np.zeros((2, 3)), 4)
    assert not zero[0].any() and not zero[2].any()


def test_golden_shift_and_bias_grid():
    """The quantized graph carries weight_shift; each biased channel's raw bias is a multiple of
    2^s_c; dropping the shifts changes the golden output (so no backend may ignore them)."""
    g = prepare_fixed(spread_graph(), _calib(), 16, 4)
    conv, fc = g.node("conv"), g.node("fc")
    s = np.array(conv.attrs["weight_shift"])
    assert s.max() >= 5 and s.min() == 0 and fc.attrs["weight_shift"]
    b = g.tensors[conv.inputs[2]].data
    assert np.array_equal(b % (1 << s), np.zeros(4)), (b, s)
    x = input_to_raw(g, "x", _calib()[:8])
    ex = Executor(g)
    y = np.stack([ex.run({"x": x[i:i + 1]})["y"] for i in range(8)])
    g2 = g.copy()
    del g2.node("conv").attrs["weight_shift"]
    ex2 = Executor(g2)
    assert not np.array_equal(y, np.stack([ex2.run({"x": x[i:i + 1]})["y"] for i in range(8)]))


@pytest.mark.parametrize("bits", [4, pytest.param(2, marks=pytest.mark.slow)])
def test_hls_csim_per_channel(tmp_path, bits):
    prj = write_hls_project(spread_graph(), tmp_path / "hls", calib=_calib(), weight_bits=bits)
    params = (prj / "firmware" / "parameters.h").read_text()
    assert params.count("static int shift_of(unsigned c)") == 2 and "w_shift = 1;" in params
    assert ("mul_fabric = 1;" in params) == (bits == 4)
    x_raw = read_raw(prj / "tb_data" / "tb_input_raw.dat", 16)
    golden = run_reference(load_graph(prj), x_raw)
    assert np.array_equal(golden, hls_csim.run_csim(prj, x_raw)) and np.abs(golden).max() > 0


def _accuracy(g, x, y) -> float:
    name = g.inputs[0]
    xr = input_to_raw(g, name, to_graph_layout(g, name, x)).reshape(len(x), -1)
    return float(np.mean(run_reference(g, xr).argmax(1) == y))


@pytest.mark.slow
def test_cnn_accuracy_per_channel(cnn):
    """Digits CNN (450 test images), golden model: per-channel scales + bias correction keep int4
    within 2 points of int8 and ternary far above chance (0.1); one scale per layer (the earlier
    rule) does not.

    The bars are this CNN's: the fixture's (fpga_models: seed 0, trained on 2 threads, the
    benchmark's model of docs/subbyte.md), which is now the same network in every run, measured
    float 0.9556, int8 0.96, int4 0.81 -> 0.96, ternary 0.18 -> 0.52. They are not a property of
    every training run: over seeds 0-9 of the same recipe on 2 threads (on 1 thread) int4 PTQ is
    -1 to 7 (0 to 13) points below int8, mean 2.3 (4.8), and ternary 0.13-0.52 (0.18-0.53): this
    network is the third best ternary of the twenty (docs/subbyte.md, "Over trainings"). int4's loss is
    nearly all in the first convolution (1 input channel, 9 weights a filter), the layer int4 QAT
    recovers (test_subbyte_qat.py). Before the fixture was seeded (it drew its initial weights
    from torch's per-process random seed) it was a different CNN in each run and this test failed
    at random (int8 0.93 / int4 0.87, 0.94 / 0.90, ternary 0.16). If it fails on another machine
    with a different float accuracy than 0.9556, the network differs (CPU kernels' summation
    order), not the quantizer: re-measure before moving a bar."""
    def acc(bits, **kw):
        return _accuracy(prepare_fixed(cnn.onnx, cnn.calib, 16, bits, **kw), cnn.x_test, cnn.y_test)
    fa = models.float_accuracy(cnn.module, cnn.x_test, cnn.y_test)
    a8 = acc(8)
    a4, a4_layer = acc(4), acc(4, per_channel=False, bias_correction=False)
    a2, a2_layer = acc(2), acc(2, per_channel=False, bias_correction=False)
    assert a4 >= a8 - 0.02 and a4 > a4_layer + 0.05, (fa, a8, a4, a4_layer)
    assert a2 >= 0.4 and a2 > a2_layer + 0.15, (fa, a2, a2_layer)


@pytest.mark.slow
@pytest.mark.parametrize("bits", [4, 2])
def test_three_way_per_channel(tmp_path, bits):
    hls = write_hls_project(spread_graph(), tmp_path / "hls", calib=_calib(), weight_bits=bits)
    rtl = write_rtl_project(spread_graph(), tmp_path / "rtl", calib=_calib(), weight_bits=bits, reuse=2)
    text = "\n".join(p.read_text() for p in (rtl / "rtl").glob("*_l*.v"))
    assert text.count("<<< s_rom_") >= 2 and not re.search(r"x_q\w* \* w_", text)
    three_way(hls, rtl, 16)
