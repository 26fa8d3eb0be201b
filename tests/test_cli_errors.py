"""Bad input: one-line error, non-zero exit, no traceback, no half-written output folder."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, env=None):
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT / "compiler") + os.pathsep + e.get("PYTHONPATH", "")
    e.pop("MCUFORGE_DEBUG", None)
    if env:
        e.update(env)
    return subprocess.run([sys.executable, "-m", "mcuforge.cli", *map(str, args)], capture_output=True,
                          text=True, env=e, timeout=300)


def assert_clean_error(res, *needles):
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.strip().splitlines() if not ln.startswith("[mcuforge]")]
    assert len(lines) == 1, res.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def conv_model(path, in_shape=(1, 1, 8, 8), cout=4, op="Conv", dims=None):
    w = helper.make_tensor("w", TensorProto.FLOAT, (cout, in_shape[1], 3, 3),
                           np.random.default_rng(0).standard_normal(cout * in_shape[1] * 9).astype(np.float32))
    node = helper.make_node(op, ["x", "w"], ["y"], name="the_node", pads=[1, 1, 1, 1]) if op == "Conv" else \
        helper.make_node(op, ["x"], ["y"], name="the_node")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, dims or list(in_shape))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([node], "g", [x], [y], initializer=[w] if op == "Conv" else [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, str(path))
    return path


def test_truncated_onnx(tmp_path):
    good = conv_model(tmp_path / "m.onnx")
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(good.read_bytes()[:40])
    out = tmp_path / "out"
    res = run_cli("compile", bad, "-o", out, "--quant", "float32")
    assert_clean_error(res, "truncated.onnx")
    assert not out.exists()


@pytest.mark.parametrize("op, hint", [("Softplus", "closest supported form: Relu, Elu or Gelu"),
                                      ("ReduceLogSumExp", "closest supported: ReduceSum"),
                                      ("Hardmax", "closest supported: HardS")])
def test_unsupported_op_names_op_node_and_closest_form(tmp_path, op, hint):
    m = conv_model(tmp_path / "m.onnx", op=op)
    out = tmp_path / "out"
    res = run_cli("compile", m, "-o", out, "--quant", "float32")
    assert_clean_error(res, f"'{op}'", "'the_node'", hint)
    assert not out.exists()


def test_dynamic_dimension_needs_a_shape(tmp_path):
    m = conv_model(tmp_path / "m.onnx", dims=["N", 1, 8, 8])
    out = tmp_path / "out"
    line = assert_clean_error(run_cli("compile", m, "-o", out, "--quant", "float32"), "'N'", "--input-shape")
    assert "x" in line
    assert not out.exists()
    res = run_cli("compile", m, "-o", out, "--quant", "float32", "--input-shape", "x=1,1,8,8", "--no-report")
    assert res.returncode == 0, res.stderr
    assert (out / "model.json").is_file()


def test_missing_calibration_for_int8(tmp_path):
    m = conv_model(tmp_path / "m.onnx")
    assert_clean_error(run_cli("compile", m, "-o", tmp_path / "out"), "--calib")
    assert not (tmp_path / "out").exists()


def test_arena_too_big_for_the_board_names_the_bytes(tmp_path):
    m = conv_model(tmp_path / "big.onnx", in_shape=(1, 3, 64, 64), cout=16)
    out = tmp_path / "out"
    assert run_cli("compile", m, "-o", out, "--quant", "float32", "--target", "cortex-m0", "--no-report").returncode == 0
    line = assert_clean_error(run_cli("simulate", out, "--board", "microbit"), "microbit", "bytes")
    # the message states what is needed and what the board has
    assert "262144" in line or "16384" in line
    needed = [int(tok) for tok in line.replace(",", " ").replace("(", " ").split() if tok.isdigit()]
    assert max(needed) > 16384


def test_missing_arm_toolchain_says_what_to_install(tmp_path):
    m = conv_model(tmp_path / "m.onnx")
    out = tmp_path / "out"
    assert run_cli("compile", m, "-o", out, "--quant", "float32", "--no-report").returncode == 0
    # a PATH with python but without the arm toolchain
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for tool in ("gcc", "cc", "as", "ld"):
        if shutil.which(tool):
            (fake_bin / tool).symlink_to(shutil.which(tool))
    res = run_cli("simulate", out, "--board", "mps2-an386", env={"PATH": str(fake_bin)})
    assert_clean_error(res, "arm-none-eabi-gcc", "apt-get install")


def test_missing_model_file(tmp_path):
    assert_clean_error(run_cli("compile", tmp_path / "nope.onnx", "-o", tmp_path / "o"), "not found")


def test_unknown_board(tmp_path):
    m = conv_model(tmp_path / "m.onnx")
    out = tmp_path / "out"
    assert run_cli("compile", m, "-o", out, "--quant", "float32", "--no-report").returncode == 0
    assert_clean_error(run_cli("simulate", out, "--board", "nosuchboard"), "nosuchboard")


@pytest.mark.parametrize("cmd", [[], ["compile"], ["simulate"], ["report"]])
def test_help_everywhere(cmd):
    res = run_cli(*cmd, "--help")
    assert res.returncode == 0 and "usage: mcuforge" in res.stdout
