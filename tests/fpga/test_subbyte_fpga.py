"""Sub-byte weights (issue 13) on the FPGA backends: int4 weights in [-7, 7] as 4-bit multiplier
operands and ternary {-1, 0, 1} weights as add / subtract, each with one power-of-two scale per
layer (quant/subbyte.py: fixed_subbyte_weights). Golden == HLS C-simulation == Verilator bit for
bit; the ternary RTL has no multiplier and yosys maps no DSP to it."""
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from mcuforge.cli import main
from mcuforge.codegen.fpga.golden import read_raw
from mcuforge.codegen.fpga.graph_io import load_graph
from mcuforge.codegen.fpga.khot import TERNARY
from mcuforge.codegen.hls.project import write_hls_project
from mcuforge.codegen.rtl.project import write_rtl_project
from mcuforge.quant.subbyte import fixed_subbyte_weights
from mcuforge.sim import hls_csim
from mcuforge.sim.fpga import run_reference
from test_hls_csim import vendor_ap_types
from test_three_way import three_way

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))


def test_fixed_subbyte_grids():
    w = np.array([[0.9, -0.31, 0.05, -0.6], [0.2, 0.0, -0.93, 0.4]])
    raw, t, _ = fixed_subbyte_weights(w, 4, per_channel=False)
    # one scale for the layer (per_channel=False; test_subbyte_perchannel.py has the default): max |w| = 0.93: F = floor(log2(7.5 / 0.93)) = 3, so 0.93 * 8 = 7.44 -> 7 (no clipping)
    assert (t.width, t.frac) == (4, 3)
    assert raw.tolist() == [[7, -2, 0, -5], [2, 0, -7, 3]]
    raw, t, _ = fixed_subbyte_weights(w, 2, per_channel=False)  # absmean 0.42375 -> 2^-1 (log2 = -1.24)
    assert (t.width, t.frac) == (2, 1)
    assert raw.tolist() == [[1, -1, 0, -1], [0, 0, -1, 1]]
    raw, t, _ = fixed_subbyte_weights(w, 2, "median", per_channel=False)  # median |w| 0.355 -> 2^-1 (log2 = -1.49)
    assert t.frac == 1
    big = np.random.default_rng(0).normal(0, 3, (8, 27))
    assert np.abs(fixed_subbyte_weights(big, 4)[0]).max() == 7  # the grid's edge is used
    assert set(np.unique(fixed_subbyte_weights(big, 2)[0])) == {-1, 0, 1}
    assert TERNARY.decode(TERNARY.rtl_word(-1)) == -1 and TERNARY.field_bits == 2


def _weights_header(prj: Path, var: str) -> str:
    return (prj / "firmware" / "weights" / f"{var}.h").read_text()


def test_hls_ternary_csim_bit_exact(cnn, tmp_path):
    """Default-run representative: the CNN with ternary weights through HLS C-simulation."""
    prj = write_hls_project(cnn.onnx, tmp_path / "hls", calib=cnn.calib, reuse=2, weight_bits=2)
    doc = json.loads((prj / "model.json").read_text())
    assert set(doc["weight_bits"].values()) == {2} and len(doc["weight_bits"]) == 5
    assert all(v == TERNARY.describe() for v in doc["khot"].values()) and len(doc["khot"]) == 5
    params = (prj / "firmware" / "parameters.h").read_text()
    assert "typedef ap_int<2> weight_t;" in params, params
    assert "static int shift_of(unsigned c)" in params  # per-channel scales (test_subbyte_perchannel.py)
    w1 = _weights_header(prj, "w1")
    vals = [float(v) for v in w1.split("= {", 1)[1].split("}")[0].replace("\n", "").split(",") if v.strip()]
    assert set(vals) == {-1.0, 0.0, 1.0} and len(vals) == 72
    x_raw = read_raw(prj / "tb_data" / "tb_input_raw.dat", 64)
    golden = run_reference(load_graph(prj), x_raw)
    csim = hls_csim.run_csim(prj, x_raw)
    assert np.array_equal(golden, csim) and np.abs(golden).max() > 0


def test_hls_int4_weights_are_4_bit(cnn, tmp_path):
    prj = write_hls_project(cnn.onnx, tmp_path / "hls", calib=cnn.calib, reuse=2, weight_bits=4)
    doc = json.loads((prj / "model.json").read_text())
    assert set(doc["weight_bits"].values()) == {4} and doc["khot"] == {}  # multipliers, not shift-add
    params = (prj / "firmware" / "parameters.h").read_text()
    assert re.search(r"typedef ap_fixed<4, -?\d+, AP_RND, AP_SAT> weight_t;", params), params
    g = load_graph(prj)
    for n in g.topo_order():
        if n.op in ("conv2d", "dense"):
            w = g.tensors[n.inputs[1]]
            assert w.meta["fixed"].width == 4 and np.abs(w.data).max() <= 7


def coarse_mlp_graph():
    """dense 16 -> 8 with weights ~ N(0, 3) (ternary scale 2^1: the weights' binary point is -1,
    coarser than the input's LSB) -> relu -> dense 8 -> 4 with small weights (binary point > 0)."""
    from mcuforge.ir.graph import Graph, Node
    from mcuforge.ir.ops import infer_shapes
    from mcuforge.ir.tensor import Tensor
    rng = np.random.default_rng(0)
    g = Graph("coarse")
    g.add_tensor(Tensor("x", (1, 16)))
    w1 = g.const("w1", rng.normal(0, 3, (8, 16)).astype(np.float32))
    w2 = g.const("w2", rng.normal(0, 0.2, (4, 8)).astype(np.float32))
    b1 = g.const("b1", rng.normal(0, 1, 8).astype(np.float32))
    g.add_node(Node("fc1", "dense", ["x", w1.name, b1.name], ["h"], {}))
    g.add_node(Node("relu", "relu", ["h"], ["r"], {}))
    g.add_node(Node("fc2", "dense", ["r", w2.name], ["y"], {}))
    g.inputs, g.outputs = ["x"], ["y"]
    return infer_shapes(g)


def test_hls_ternary_coarse_weight_lsb(tmp_path):
    """A weight LSB above 1 (w_frac < 0): C-sim stays exact (nnet_product.h: times_weight_lsb)."""
    x = np.random.default_rng(1).uniform(-1, 1, (64, 16)).astype(np.float32)
    prj = write_hls_project(coarse_mlp_graph(), tmp_path / "hls", calib=x, weight_bits=2)
    params = (prj / "firmware" / "parameters.h").read_text()
    assert "w_frac = -1;" in params and re.search(r"w_frac = [1-9]", params), params
    x_raw = read_raw(prj / "tb_data" / "tb_input_raw.dat", 16)
    golden = run_reference(load_graph(prj), x_raw)
    assert np.array_equal(golden, hls_csim.run_csim(prj, x_raw)) and np.abs(golden).max() > 0
    vendor = vendor_ap_types()  # and with Xilinx's ap_types headers, where hls4ml ships them
    if vendor is not None:
        assert np.array_equal(golden, hls_csim.run_csim(prj, x_raw, ap_types_dir=vendor))


def _designs(trained, root: Path, bits: int, reuse: int = 2):
    return (write_hls_project(trained.onnx, root / f"hls{bits}", calib=trained.calib, reuse=reuse, weight_bits=bits),
            write_rtl_project(trained.onnx, root / f"rtl{bits}", calib=trained.calib, reuse=reuse, weight_bits=bits))


@pytest.mark.slow
@pytest.mark.parametrize("model", ["cnn", "mlp"])
@pytest.mark.parametrize("bits", [4, 2])
def test_subbyte_golden_csim_verilator(request, tmp_path, model, bits):
    trained = request.getfixturevalue(model)
    hls, rtl = _designs(trained, tmp_path, bits)
    golden, _ = three_way(hls, rtl, 64)
    text = "\n".join(p.read_text() for p in (rtl / "rtl").glob("*_l*.v"))
    multiplies = re.findall(r"x_q\w* \* w_", text)
    assert not multiplies  # no `*` at all: ternary adds / subtracts, int4 LUT partial products
    if bits == 2:
        assert "khot_mul" in text and "t = xe;" in text  # add / subtract only
    else:
        assert "mul_w4(" in text and "khot_mul" not in text
        assert re.search(r"signed \[3:0\] w_", text)  # 4-bit weight operands
    if model == "cnn":  # per-channel power-of-two scales: a shift ROM per lane, applied before requant
        assert "<<< s_rom_" in text


@pytest.mark.slow
def test_cli_weight_bits_drives_rtl(mlp, tmp_path):
    calib = tmp_path / "calib.npy"
    np.save(calib, mlp.calib)
    for bits in (4, 2):
        out = tmp_path / f"r{bits}"
        assert main(["rtl", str(mlp.onnx), "-o", str(out), "--calib", str(calib), "--reuse", "2",
                     "--weight-bits", str(bits), "--ternary-method", "median"]) == 0
        doc = json.loads((out / "model.json").read_text())
        assert set(doc["weight_bits"].values()) == {bits}
        assert doc["fixed_config"].get("ternary_method") == ("median" if bits == 2 else None)


@pytest.mark.slow  # yosys synth_xilinx: minutes per design
def test_yosys_ternary_no_dsp_int4_smaller(cnn, tmp_path):
    from fpga import yosys_resources
    res = {}
    for bits in (8, 4, 2):
        # int8 with multipliers everywhere (khot_max 0: no layer that happens to be K-hot), as int4 has
        rtl = write_rtl_project(cnn.onnx, tmp_path / f"rtl{bits}", calib=cnn.calib, reuse=2, weight_bits=bits,
                                khot_max=0 if bits == 8 else 3)
        res[bits] = yosys_resources(rtl, "mcf_accel")
    assert res[8]["DSP"] > 0 and res[2]["DSP"] == 0 and res[2]["LUT"] > 100, res
    # int4: the products are LUT partial products (mul_w4), no DSP48 either
    assert res[4]["DSP"] == 0 and res[4]["LUT"] > 100, res
