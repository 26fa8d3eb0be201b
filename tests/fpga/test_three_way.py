"""Golden model = HLS C-simulation = Verilog under Verilator, bit for bit, on the MLP, the CNN
and random layer configurations; the Verilator runs stream with random input gaps and random
output back-pressure. One Verilator build per design (module-scoped)."""
import numpy as np
import pytest

import fpga_random_models as random_models
from mcuforge.codegen.fpga.golden import read_raw
from mcuforge.codegen.hls.project import write_hls_project
from mcuforge.codegen.rtl.project import write_rtl_project
from mcuforge.sim import hls_csim, verilator_rtl
from mcuforge.sim.fpga import run_reference
from mcuforge.codegen.fpga.graph_io import load_graph


def three_way(hls_dir, rtl_dir, n_in, frames_x=None):
    g = load_graph(rtl_dir)
    x_raw = read_raw(rtl_dir / "tb_data" / "tb_input_raw.dat", n_in) if frames_x is None else frames_x
    golden = run_reference(g, x_raw)
    csim = hls_csim.run_csim(hls_dir, x_raw)
    rtl, info = verilator_rtl.run(rtl_dir, x_raw, expected=golden, seed=7, gap_pct=35, stall_pct=35)
    assert info["mismatches"] == 0, info["stderr"]
    assert np.array_equal(golden, csim), "HLS C-simulation differs from the golden model"
    assert np.array_equal(golden, rtl), "Verilator differs from the golden model"
    assert np.abs(golden).max() > 0
    return golden, info


@pytest.fixture(scope="module")
def mlp_designs(mlp, tmp_path_factory):
    root = tmp_path_factory.mktemp("mlp3")
    return (write_hls_project(mlp.onnx, root / "hls", calib=mlp.calib, reuse=2),
            write_rtl_project(mlp.onnx, root / "rtl", calib=mlp.calib, reuse=2))


@pytest.fixture(scope="module")
def cnn_designs(cnn, tmp_path_factory):
    root = tmp_path_factory.mktemp("cnn3")
    return (write_hls_project(cnn.onnx, root / "hls", calib=cnn.calib, reuse=2),
            write_rtl_project(cnn.onnx, root / "rtl", calib=cnn.calib, reuse=2))


def test_mlp_three_way(mlp_designs):
    three_way(*mlp_designs, 64)


def test_cnn_three_way(cnn_designs):
    golden, info = three_way(*cnn_designs, 64)
    # the stream really stalled: random gaps and back-pressure cost cycles over a clean run
    _, clean = verilator_rtl.run(cnn_designs[1], read_raw(cnn_designs[1] / "tb_data" / "tb_input_raw.dat", 64))
    assert info["cycles"] > clean["cycles"]


def test_cnn_rtl_verilog_has_streaming_structure(cnn_designs):
    rtl = cnn_designs[1] / "rtl"
    text = "\n".join(p.read_text() for p in rtl.glob("*.v"))
    for needle in ("line_buf", "in_ready", "out_valid", "requant", "mcf_stream_fifo", ">>>"):
        assert needle in text


@pytest.fixture(scope="module")
def chain_designs(tmp_path_factory):
    """An untrained 64-16-8-4 MLP at reuse 4: next to the first layer's 4 lanes x 256 cycles per
    frame, the 16 -> 8 and 8 -> 4 layers have so few MACs that they run on its lanes (one dense
    module, 4 MAC units instead of 6)."""
    import torch
    import fpga_models as models
    torch.manual_seed(1)
    m = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8), torch.nn.ReLU(),
                            torch.nn.Linear(8, 4)).eval()
    root = tmp_path_factory.mktemp("chain3")
    onnx = models.export(m, root / "chain.onnx", shape=(1, 64))
    calib = np.random.default_rng(0).uniform(-1, 1, (32, 64)).astype(np.float32)
    return (write_hls_project(onnx, root / "hls", calib=calib, reuse=4),
            write_rtl_project(onnx, root / "rtl", calib=calib, reuse=4))


def test_dense_chain_on_shared_lanes_three_way(chain_designs):
    import json
    doc = json.loads((chain_designs[1] / "model.json").read_text())
    assert [l["lanes"] for l in doc["layers"]] == [4] and len(doc["layers"][0]["node"].split("+")) == 3
    assert doc["mac_units"] == 4 and doc["macs"] == 64 * 16 + 16 * 8 + 8 * 4
    x = np.random.default_rng(5).integers(-3000, 3000, (6, 64))
    three_way(*chain_designs, 64, x)


def random_case(seed, tmp_path):
    g = random_models.random_fixed_graph(seed)
    hls = write_hls_project(g, tmp_path / "hls", reuse=1)
    rtl = write_rtl_project(g, tmp_path / "rtl", reuse=1)
    n_in = g.tensors[g.inputs[0]].size
    # inputs over the whole input range, so saturating and wrapping paths are taken
    t = g.tensors[g.inputs[0]].meta["fixed"]
    x_raw = np.random.default_rng(seed).integers(t.raw_min, t.raw_max + 1, (6, n_in))
    three_way(hls, rtl, n_in, x_raw)


def test_global_max_pool_three_way(tmp_path):
    """A global max pooling (the CNN has the average one), reduced as its input streams in."""
    from mcuforge.quant.calibrate import calibrate
    from mcuforge.quant.fixed import quantize_fixed
    rng = np.random.default_rng(11)
    b = random_models.Builder(rng, (1, 5, 5, 2))
    b.cur = b.conv("x", 6, 3, 1, (1, 1, 1, 1))
    b.cur = b.node("maxpool", [b.cur], {"kernel": (5, 5), "strides": (1, 1), "pads": (0, 0, 0, 0)})
    flat = b.node("reshape", [b.cur], {"shape": (1, 6)})
    w = b.g.const("fc_w", rng.normal(0, 0.5, (4, 6)).astype(np.float32))
    b.g.outputs = [b.node("dense", [flat, w.name], {})]
    samples = [{"x": rng.uniform(-2, 2, (1, 5, 5, 2)).astype(np.float32)} for _ in range(16)]
    g = quantize_fixed(b.g, calibrate(b.g, samples), 12, 6, "trn", "sat")
    hls, rtl = write_hls_project(g, tmp_path / "hls", reuse=2), write_rtl_project(g, tmp_path / "rtl", reuse=2)
    assert "global" in (rtl / "rtl" / "mcf_accel_l2.v").read_text()
    t = g.tensors[g.inputs[0]].meta["fixed"]
    three_way(hls, rtl, 50, np.random.default_rng(3).integers(t.raw_min, t.raw_max + 1, (5, 50)))


def test_random_configuration(tmp_path):
    random_case(3, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 4, 5, 6, 7])
def test_random_configurations_more(seed, tmp_path):
    random_case(seed, tmp_path)


def test_cnn_rtl_interval_within_bound(cnn_designs):
    """Balanced lanes: back-to-back frames leave every ceil(MACs / MAC units) + depth cycles,
    within 1.2x (the issue's goal), and the balanced design has fewer MAC units than cout/R
    lanes in every layer would give."""
    import json
    import math
    rtl = cnn_designs[1]
    doc = json.loads((rtl / "model.json").read_text())
    x = read_raw(rtl / "tb_data" / "tb_input_raw.dat", 64)
    _, info = verilator_rtl.run(rtl, np.tile(x, (2, 1)))
    bound = math.ceil(doc["macs"] / doc["mac_units"]) + len(doc["layers"])
    assert info["interval"] <= 1.2 * bound, (info["interval"], bound)
    assert doc["balanced"] and doc["mac_units"] < 50 // doc["reuse"]
