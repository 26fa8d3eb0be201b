"""A hostile user of `mcuforge compile --weight-bits 4|2|mixed` and `mcuforge hls|rtl --weight-bits`:
every bad input is one line on stderr naming what is wrong (and what would work), a non-zero exit,
no traceback and no output folder (nor staging folder) left behind; user files next to or inside
-o survive. Sub-byte builds are byte-for-byte reproducible.

The CLI runs in-process (mcuforge.cli.main, one torch import for the whole file); two cases go
through `python -m mcuforge` to pin the real entry point."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from mcuforge.cli import main

try:   # tiny tensors: threads only add synchronisation (and the machine is shared)
    import torch
    torch.set_num_threads(1)
except ImportError:
    pass

from kernels.layer_models import build_chain
from test_cli_errors import ROOT, assert_clean_error


def cli(capsys, *args) -> SimpleNamespace:
    """main(args) as a finished process: returncode and stderr (argparse exits via SystemExit)."""
    capsys.readouterr()
    try:
        rc = main([str(a) for a in args])
    except SystemExit as e:
        rc = e.code
    cap = capsys.readouterr()
    return SimpleNamespace(returncode=rc, stderr=cap.err, stdout=cap.out)


def error(capsys, *args, needles=(), rc=1) -> str:
    """Run, expect the one-line error, check nothing was written at -o; return the line."""
    out = Path(str(args[list(args).index("-o") + 1])).resolve() if "-o" in args else None
    existed = out is not None and out.exists()
    res = cli(capsys, *args)
    line = assert_clean_error(res, *needles)
    assert res.returncode == rc, (res.returncode, line)
    if out is not None:
        assert existed or not out.exists(), f"{out} left behind"
        if out.parent.is_dir():
            assert not list(out.parent.glob(f".{out.name}.*")), "staging folder left behind"
    return line


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A conv -> depthwise -> pointwise chain (float ONNX) with its samples, and the bad files."""
    d = tmp_path_factory.mktemp("subcli")
    model, calib, _ = build_chain(2, 6, [("conv", 4, 3, 1), ("dw", 3, 1), ("pw", 3)], d / "chain.onnx", n_calib=8)
    x = np.load(calib)["x"]
    np.save(d / "x.npy", x)
    np.save(d / "x_shape.npy", np.zeros((4, 3, 6, 6), np.float32))
    np.save(d / "x_str.npy", np.array(["a", "b"]))
    np.save(d / "x_empty.npy", np.zeros((0, 2, 6, 6), np.float32))
    np.save(d / "x_nan.npy", np.full((4, 2, 6, 6), np.nan, np.float32))
    np.save(d / "x_obj.npy", np.array([None, 1], dtype=object), allow_pickle=True)
    (d / "x_corrupt.npy").write_bytes((d / "x.npy").read_bytes()[:100])
    (d / "x_garbage.npy").write_bytes(b"not an array at all " * 8)
    np.save(d / "y.npy", np.arange(8) % 3)
    np.save(d / "y_rows.npy", np.arange(5) % 3)
    np.save(d / "y_range.npy", np.full(8, 1000))
    np.save(d / "y_neg.npy", np.full(8, -1))
    np.save(d / "y_2d.npy", np.zeros((8, 3), np.int64))
    np.save(d / "y_float.npy", np.zeros(8, np.float32))
    (d / "y_corrupt.npy").write_bytes((d / "y.npy").read_bytes()[:60])
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def save(nodes, inits, name):
        g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 8
        onnx.save(m, str(d / name))
        return d / name
    relu = save([helper.make_node("Relu", ["x"], ["y"], name="r")], [], "relu.onnx")
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((2, 3, 3, 3)).astype(np.float32), "w")
    ct = save([helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="ct", pads=[1, 1, 1, 1])], [w], "ct.onnx")
    from test_tflite_int4 import int4_model
    (d / "int8.tflite").write_bytes(int4_model(wtype="int8"))
    return SimpleNamespace(d=d, model=model, relu=relu, ct=ct, tflite=d / "int8.tflite",
                           **{p.stem: p for p in d.glob("*.npy")})


@pytest.fixture
def out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path / "out"


# -- widths and budgets --------------------------------------------------------------------------
@pytest.mark.parametrize("bits", ["3", "16", "abc"])
def test_weight_bits_not_a_width(files, out, capsys, bits):
    line = error(capsys, "compile", files.model, "-o", out, "--calib", files.x, "--weight-bits", bits,
                 needles=(f"invalid choice: '{bits}'", "'4', '2', 'mixed'", "mcuforge compile --help"), rc=2)
    assert line.startswith("mcuforge compile: error: argument --weight-bits")


def test_python_dash_m_mcuforge_usage_error_is_one_line(files, tmp_path):
    res = subprocess.run([sys.executable, "-m", "mcuforge", "hls", files.model, "-o", tmp_path / "o",
                          "--weight-bits", "four"], capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT / "compiler"), "PATH": "/usr/bin:/bin"})
    assert_clean_error(res, "mcuforge hls: error: argument --weight-bits: invalid int value: 'four'")
    assert res.returncode == 2 and not (tmp_path / "o").exists()


def test_mixed_needs_calibration(files, out, capsys):
    error(capsys, "compile", files.model, "-o", out, "--weight-bits", "mixed", "--flash-budget", "200",
          needles=("--weight-bits mixed needs calibration samples (--calib",))


@pytest.mark.parametrize("flag, value, needle", [
    ("--flash-budget", "0", "--flash-budget must be a positive number of bytes, not 0"),
    ("--flash-budget", "-5", "--flash-budget must be a positive number of bytes, not -5"),
    ("--instr-budget", "-1", "--instr-budget must be a positive number of instructions, not -1"),
])
def test_budget_not_positive(files, out, capsys, flag, value, needle):
    error(capsys, "compile", files.model, "-o", out, "--calib", files.x, "--weight-bits", "mixed", flag, value,
          needles=(needle,))


def test_budget_not_a_number(files, out, capsys):
    error(capsys, "compile", files.model, "-o", out, "--calib", files.x, "--weight-bits", "mixed",
          "--flash-budget", "1k", needles=("argument --flash-budget: invalid int value: '1k'",), rc=2)


def smallest_flash(files, out, capsys) -> int:
    """The bytes that the error for a flash budget below every configuration names."""
    line = error(capsys, "compile", files.model, "-o", out, "--calib", files.x, "--weight-bits", "mixed",
                 "--flash-budget", "10", needles=("no width configuration meets the flash budget 10 B",
                                                  "the smallest configuration needs"))
    smallest = int(re.search(r"needs (\d+) B", line).group(1))
    assert f"--flash-budget {smallest} or more" in line
    return smallest


def test_flash_budget_below_every_configuration_names_the_smallest(files, out, capsys):
    """The bytes the error names are what the all-ternary build stores (model.json, from the
    emitted arrays); test_sub_byte_build_is_reproducible[mixed] compiles at exactly that budget."""
    smallest = smallest_flash(files, out, capsys)
    assert cli(capsys, "compile", files.model, "-o", out, "--calib", files.x, "--weight-bits", "2",
               "--no-report").returncode == 0
    import json
    assert json.loads((out / "model.json").read_text())["weights_bytes"] == smallest


def test_instruction_budget_needs_a_qemu_board_and_instruction_models(files, out, capsys):
    error(capsys, "compile", files.model, "-o", out, "--calib", files.x, "--weight-bits", "mixed", "--target",
          "host", "--instr-budget", "100000", needles=("no QEMU board for host", "--flash-budget"))
    error(capsys, "compile", files.model, "-o", out, "--calib", files.x, "--weight-bits", "mixed", "--target",
          "cortex-m0", "--instr-budget", "100000", needles=("no instruction models for cortex-m0", "cortex-m4"))


def test_instruction_budget_below_every_configuration_names_the_fastest(files, out, capsys):
    """One QEMU run of the 8-bit model prices the layers without weights; the budget fails there,
    before the Hessian, and names the fastest configuration's predicted instructions."""
    import shutil
    if not shutil.which("qemu-system-arm") or not shutil.which("arm-none-eabi-gcc"):
        pytest.skip("needs qemu-system-arm and arm-none-eabi-gcc")
    line = error(capsys, "compile", files.model, "-o", out, "--calib", files.x, "--weight-bits", "mixed",
                 "--instr-budget", "1", needles=("instruction budget 1 (the fastest configuration needs",))
    assert int(re.search(r"give --instr-budget (\d+) or more", line).group(1)) > 1000


# -- calibration samples and labels -----------------------------------------------------------------
CALIB_CASES = [
    ("x_shape", "have shape (4, 3, 6, 6); expected (N, 2, 6, 6)"),
    ("x_str", "<U1 array of shape (2,); expected a non-empty array of real numbers"),
    ("x_empty", "shape (0, 2, 6, 6); expected a non-empty array"),
    ("x_nan", "NaN or infinite"),
    ("x_obj", "holds Python objects"),
    ("x_corrupt", "cannot read sample file"),
    ("x_garbage", "is not a NumPy file"),
    ("missing", "file not found"),
]


@pytest.mark.parametrize("bits", ["4", "mixed"])
@pytest.mark.parametrize("name, needle", CALIB_CASES)
def test_bad_calibration_file(files, out, capsys, bits, name, needle):
    calib = getattr(files, name, files.d / "missing.npy")
    extra = ["--flash-budget", "200"] if bits == "mixed" else []
    error(capsys, "compile", files.model, "-o", out, "--calib", calib, "--weight-bits", bits, *extra,
          needles=(needle,))


@pytest.mark.parametrize("name, needles", [
    ("y_rows", ("--calib-data holds 5 labels for 8 calibration samples",)),
    ("y_range", ("labels run from 1000 to 1000", "must lie in 0..107")),
    ("y_neg", ("labels run from -1 to -1",)),
    ("y_2d", ("one class label per --calib sample", "(8, 3)")),
    ("y_float", ("expected integer class labels, got float32",)),
    ("y_corrupt", ("cannot read --calib-data file",)),
    ("missing", ("--calib-data file not found",)),
])
def test_bad_labels(files, out, capsys, name, needles):
    labels = getattr(files, name, files.d / "missing.npy")
    error(capsys, "compile", files.model, "-o", out, "--calib", files.x, "--weight-bits", "mixed",
          "--flash-budget", "200", "--calib-data", labels, needles=needles)


# -- models and targets ----------------------------------------------------------------------------
def test_mixed_on_an_int8_tflite(files, out, capsys):
    error(capsys, "compile", files.tflite, "-o", out, "--weight-bits", "mixed", "--flash-budget", "100",
          needles=("--weight-bits mixed needs a float model", "int8 already"))


@pytest.mark.parametrize("bits", ["4", "2", "mixed"])
@pytest.mark.parametrize("which, needle", [("relu", ""), ("ct", "conv_transpose2d")])
def test_nothing_to_narrow(files, out, capsys, bits, which, needle):
    """No conv / FC layer at all (Relu), or only layers without sub-byte kernels (ConvTranspose)."""
    extra = ["--flash-budget", "100"] if bits == "mixed" else []
    error(capsys, "compile", getattr(files, which), "-o", out, "--calib", files.x, "--weight-bits", bits, *extra,
          needles=(f"--weight-bits {bits}: the model has no conv / fully connected layer", needle,
                   "compile it without --weight-bits"))


def test_sixteen_by_eight_layers_refuse_sub_byte_weights(files, out, capsys):
    """int16 activations have int8-weight kernels only: the width would change the values but not
    the flash (it used to, silently)."""
    from int16_models import conv
    m = files.d / "c16.tflite"
    m.write_bytes(conv())
    error(capsys, "compile", m, "-o", out, "--weight-bits", "4",
          needles=("node conv_2d_0 (conv2d): 4-bit weights need int8 activations", "int16"))


def test_options_that_would_be_ignored(files, out, capsys):
    error(capsys, "compile", files.model, "-o", out, "--calib", files.x, "--quant", "fixed", "--weight-bits", "4",
          needles=("--weight-bits 4 needs --quant int8", "mcuforge hls / rtl"))
    error(capsys, "compile", files.model, "-o", out, "--calib", files.x, "--layer-calib", "adaquant",
          needles=("--layer-calib adaquant applies to low-bit weights",))


def test_cortex_m0_has_sub_byte_kernels(files, out, capsys):
    """M0 lacks the DSP kernels, not the sub-byte ones: the portable kernels serve it."""
    res = cli(capsys, "compile", files.model, "-o", out, "--calib", files.x, "--weight-bits", "2",
              "--target", "cortex-m0", "--no-report")
    assert res.returncode == 0, res.stderr
    assert "_w2" in (out / "mcf_chain.c").read_text()


# -- output folders --------------------------------------------------------------------------------
@pytest.mark.parametrize("cmd", ["compile", "hls", "rtl"])
def test_output_folder_problems(files, out, capsys, cmd):
    tmp = out.parent
    args = ["--calib", files.x, "--weight-bits", "4"] + (["--no-report"] if cmd == "compile" else [])
    (tmp / "afile").write_text("mine")
    error(capsys, cmd, files.model, "-o", tmp / "afile", *args, needles=("is an existing file",))
    assert (tmp / "afile").read_text() == "mine"
    error(capsys, cmd, files.model, "-o", tmp / "afile" / "out", *args, needles=("afile is a file, not a folder",))
    error(capsys, cmd, files.model, "-o", "/proc/mcf_out", *args, needles=("cannot write the output folder",
                                                                          "/proc is not writable"))
    (tmp / "mine").mkdir()
    (tmp / "mine" / "notes.txt").write_text("keep")
    error(capsys, cmd, files.model, "-o", tmp / "mine", *args, needles=("not empty and was not written by mcuforge",))
    assert (tmp / "mine" / "notes.txt").read_text() == "keep"
    error(capsys, cmd, files.model, "-o", files.d, *args, needles=("holds the input",))
    error(capsys, cmd, files.model, "-o", ".", *args, needles=("current folder",))
    assert files.model.is_file() and files.x.is_file()


def test_staging_folder_removed_when_the_output_cannot_be_replaced(tmp_path):
    from mcuforge.errors import McuforgeError
    from mcuforge.outdir import staged_dir
    target = tmp_path / "out"
    with pytest.raises(McuforgeError, match="is an existing file"):
        target.write_text("x")
        with staged_dir(target) as d:
            (d / "a").write_text("1")
    assert target.read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


# -- FPGA ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cmd", ["hls", "rtl"])
@pytest.mark.parametrize("name, needle", [
    ("x_str", "<U1 array"), ("x_nan", "NaN or infinite"), ("x_obj", "holds Python objects"),
    ("x_corrupt", "cannot read calibration file"), ("x_garbage", "is not a NumPy file"),
    ("missing", "calibration file not found"),
])
def test_fpga_bad_calibration(files, out, capsys, cmd, name, needle):
    calib = getattr(files, name, files.d / "missing.npy")
    error(capsys, cmd, files.model, "-o", out, "--calib", calib, "--weight-bits", "4", needles=(needle,))


@pytest.mark.parametrize("cmd", ["hls", "rtl"])
def test_fpga_weight_bits_without_layers(files, out, capsys, cmd):
    error(capsys, cmd, files.relu, "-o", out, "--calib", files.x, "--weight-bits", "2",
          needles=("--weight-bits 2: the model has no conv / dense layer", "leave it at 8"))
    error(capsys, cmd, files.model, "-o", out, "--calib", files.x, "--weight-bits", "65",
          needles=("weight width 65 is outside 2..64 bits",))
    error(capsys, cmd, files.model, "-o", out, "--calib", files.x, "--weight-bits", "4", "--khot-max", "-3",
          needles=("--khot-max must be 0",))


# -- determinism -----------------------------------------------------------------------------------
def _tree(d: Path) -> dict:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("bits", ["4", "mixed"])
def test_sub_byte_build_is_reproducible(files, tmp_path, capsys, bits):
    """The same command twice (separate folders) writes byte-identical folders: sources, weights,
    graph.npz, model.json with the mixed record, the report and its plot."""
    budget = smallest_flash(files, tmp_path / "probe", capsys) if bits == "mixed" else None
    extra = ["--flash-budget", budget, "--calib-data", files.y] if bits == "mixed" else []
    trees = []
    for k in range(2):
        o = tmp_path / f"run{k}" / "out"
        res = cli(capsys, "compile", files.model, "-o", o, "--calib", files.x, "--weight-bits", bits, *extra,
                  "--no-report")
        assert res.returncode == 0, res.stderr
        trees.append(_tree(o))
    assert trees[0].keys() == trees[1].keys() and "mcf_chain_weights.c" in trees[0]
    assert [k for k in trees[0] if trees[0][k] != trees[1][k]] == []
    if bits == "mixed":
        import json
        info = json.loads(trees[0]["model.json"])
        assert set(info["weight_bits"].values()) - {8}, "the budget must force low widths"
        assert info["weights_bytes"] <= budget   # the smallest configuration named by the error exists
