"""A Brevitas-trained QONNX model (power-of-two scales) through `mcuforge hls` and `mcuforge rtl`
without calibration: golden = HLS C-simulation = Verilator, bit for bit, and golden = Brevitas's
forward (tests/test_qonnx_import.py anchors that). Its ROUND quantizers are round-half-to-even, the
fixed contract's `rne` (AP_RND_CONV), so this also runs that mode through both backends."""
import json
from pathlib import Path

import numpy as np
import pytest

from mcuforge.codegen.hls.project import write_hls_project
from mcuforge.codegen.rtl.project import write_rtl_project
from mcuforge.reference.fixed_arith import FixedType, cast, from_float
from mcuforge.sim.fpga import simulate_fpga
from test_three_way import three_way

FIXTURES = Path(__file__).parent.parent / "qonnx_fixtures"


def test_rne_rounding_on_halves():
    raw = np.array([-6, -2, 2, 6, 10, 5, -5, -10])  # 2 fractional bits: -1.5 -0.5 0.5 1.5 2.5 1.25 -1.25 -2.5
    assert cast(raw, 2, FixedType(8, 0, "rne", "sat")).tolist() == [-2, 0, 0, 2, 2, 1, -1, -2]
    assert from_float(np.array([0.5, 1.5, -0.5, -1.5, 2.5]), FixedType(8, 0, "rne", "sat")).tolist() == [0, 2, 0, -2, 2]


@pytest.fixture(scope="module")
def brevitas_designs(tmp_path_factory):
    root = tmp_path_factory.mktemp("qonnx3")
    onnx = FIXTURES / "pot_cnn.onnx"
    return write_hls_project(onnx, root / "hls", reuse=2), write_rtl_project(onnx, root / "rtl", reuse=2)


@pytest.mark.slow  # 45 s of builds; tests/fpga/test_qfx_fpga.py runs the same chain by default
def test_brevitas_qonnx_three_way(brevitas_designs):
    hls, rtl = brevitas_designs
    doc = json.loads((rtl / "model.json").read_text())
    assert doc["input"]["fixed"] == {"width": 8, "frac": 7, "rounding": "rne", "overflow": "sat"}
    d = np.load(FIXTURES / "pot_cnn.npz")
    x_raw = np.round(d["x"][:8].transpose(0, 2, 3, 1).reshape(8, -1) * 128).astype(np.int64)
    x_raw = np.minimum(x_raw, 127)  # the input Quant: 8 bits at 2^-7
    golden, _ = three_way(hls, rtl, 64, x_raw)
    # and through simulate(): the real-valued outputs are Brevitas's
    y, _ = simulate_fpga(hls, "reference", d["x"][:8])
    assert np.array_equal(y, d["y_brevitas"][:8])
    assert "AP_RND_CONV" in (hls / "firmware" / "defines.h").read_text()
    assert "ties to even" in "\n".join(p.read_text() for p in (rtl / "rtl").glob("*.v"))
