"""Invalid FPGA configurations fail with one clear line (McuforgeError) and leave no output folder."""
import numpy as np
import pytest

from mcuforge.cli import main
from mcuforge.codegen.hls.project import write_hls_project
from mcuforge.codegen.rtl.project import write_rtl_project
from mcuforge.errors import McuforgeError
from mcuforge.ir.graph import Graph, Node
from mcuforge.ir.ops import infer_shapes
from mcuforge.ir.tensor import Tensor


def grouped_conv_graph() -> Graph:
    g = Graph("grouped")
    g.add_tensor(Tensor("x", (1, 4, 4, 4)))
    w = g.const("w", np.random.default_rng(0).normal(size=(4, 3, 3, 2)).astype(np.float32))
    g.add_node(Node("conv", "conv2d", ["x", w.name], ["y"], {"groups": 2, "pads": (1, 1, 1, 1)}))
    g.inputs, g.outputs = ["x"], ["y"]
    return infer_shapes(g)


def expect_error(fn, out_dir, *needles):
    with pytest.raises(McuforgeError) as e:
        fn()
    msg = str(e.value)
    assert "\n" not in msg
    for n in needles:
        assert n in msg, msg
    assert not out_dir.exists()
    return msg


def test_width_over_64_bits(mlp, tmp_path):
    out = tmp_path / "p"
    expect_error(lambda: write_hls_project(mlp.onnx, out, calib=mlp.calib, act_bits=65), out, "65", "64")


def test_accumulator_over_64_bits(mlp, tmp_path):
    out = tmp_path / "p"
    expect_error(lambda: write_rtl_project(mlp.onnx, out, calib=mlp.calib, act_bits=40, weight_bits=24),
                 out, "accumulator needs", "64-bit")


def test_layer_missing_from_rtl_library(tmp_path):
    out = tmp_path / "p"
    g = grouped_conv_graph()
    expect_error(lambda: write_rtl_project(g, out), out, "conv2d", "conv", "groups=2")
    # the HLS library has grouped convolution, so the same model is fine there
    assert (write_hls_project(g, tmp_path / "h") / "model.json").is_file()


def test_reuse_factor_must_divide_layers(mlp, tmp_path):
    out = tmp_path / "p"
    expect_error(lambda: write_rtl_project(mlp.onnx, out, calib=mlp.calib, reuse=3), out,
                 "reuse factor 3", "does not divide")
    expect_error(lambda: write_hls_project(mlp.onnx, out, calib=mlp.calib, reuse=3), out,
                 "reuse factor 3", "does not divide")


def test_cli_prints_one_line(mlp, tmp_path, capsys):
    rc = main(["rtl", str(mlp.onnx), "-o", str(tmp_path / "r"), "--reuse", "7"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and err.count("\n") == 0 and err.startswith("mcuforge: error: reuse factor 7")
    rc = main(["hls", str(mlp.onnx), "-o", str(tmp_path / "h"), "--part", "xc7z020", "--act-bits", "70"])
    assert rc == 1 and "70" in capsys.readouterr().err


def test_cli_hls_then_simulate(mlp, tmp_path, capsys):
    calib = tmp_path / "calib.npy"
    np.save(calib, mlp.calib)
    x = tmp_path / "x.npy"
    np.save(x, mlp.x_test[:4])
    assert main(["hls", str(mlp.onnx), "-o", str(tmp_path / "h"), "--calib", str(calib), "--reuse", "4"]) == 0
    outs = {}
    for board in ("csim", "reference"):
        y = tmp_path / f"y_{board}.npy"
        assert main(["simulate", str(tmp_path / "h"), "--board", board, "--input", str(x), "--output", str(y)]) == 0
        outs[board] = np.load(y)
    assert outs["csim"].shape == (4, 10) and np.array_equal(outs["csim"], outs["reference"])
    # predictions agree with the float model on these samples
    assert (outs["csim"].argmax(1) == mlp.y_test[:4]).mean() >= 0.5
    assert main(["simulate", str(tmp_path / "h"), "--board", "verilator"]) == 1


def test_cli_rtl_balance(mlp, tmp_path):
    """Balanced lanes by default (the 64-input layer at cout/2 lanes sets 128 cycles per frame;
    the later layers need fewer lanes to keep up); --no-balance gives cout/reuse everywhere."""
    import json
    lanes = {}
    for flag in ([], ["--no-balance"]):
        out = tmp_path / f"r{len(flag)}"
        assert main(["rtl", str(mlp.onnx), "-o", str(out), "--reuse", "2", *flag]) == 0
        doc = json.loads((out / "model.json").read_text())
        lanes[bool(flag)] = [l["lanes"] for l in doc["layers"]]
        assert doc["frame_cycles"] == 128 and doc["balanced"] == (not flag)
    assert lanes == {False: [16, 4, 2], True: [16, 8, 5]}
