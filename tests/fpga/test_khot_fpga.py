"""K-hot weights in the FPGA backends: a layer whose weights are all sums of at most K signed powers
of two stores (sign, shift) terms and multiplies by shift and add. The QFX K-hot model stays bit
for bit PyTorch == golden == HLS C-simulation == Verilator, and yosys maps no DSP for K = 1, 2."""
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from mcuforge.codegen.fpga.khot import KhotCodes, naf_terms
from mcuforge.codegen.hls.project import write_hls_project
from mcuforge.codegen.rtl.project import write_rtl_project
from mcuforge.reference.fixed_arith import from_float
from test_three_way import three_way

sys.path.insert(0, str(Path(__file__).parent.parent))
sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from qfx_helpers import torch_outputs, trained_qfx  # noqa: E402


def test_naf_codes_round_trip():
    for v in range(-512, 512):
        t = naf_terms(v)
        assert sum(s << e for s, e in t) == v
        es = [e for _, e in t]
        assert all(b - a >= 2 for a, b in zip(es, es[1:]))  # non-adjacent: the fewest terms
    raw = np.array([[0, 1, -6, 7], [12, -16, 3, 31]])  # 31 = 32 - 1: two terms, shift 5
    codes = KhotCodes.for_weights(raw, khot_max=3)
    assert (codes.k, codes.max_shift, codes.shift_bits) == (2, 5, 3)
    assert [codes.decode(codes.rtl_word(v)) for v in raw.reshape(-1)] == raw.reshape(-1).tolist()
    terms = codes.hls_terms(raw)
    assert terms.shape == (2, 4, 2)
    back = (np.sign(terms) * (1 << np.maximum(np.abs(terms) - 1, 0)) * (terms != 0)).sum(-1)
    assert np.array_equal(back, raw)
    assert KhotCodes.for_weights(np.array([0b1010101]), khot_max=3) is None  # 4 terms: multiplier
    assert KhotCodes.for_weights(raw, khot_max=0) is None  # shift-add off


def khot_designs(root: Path, k: int):
    import torch
    from mcuforge.quant import qfx
    m, xte, _ = trained_qfx(wb=6, ab=8, khot=k, steps=4)
    onnx = qfx.export_qonnx(m, torch.from_numpy(xte[:1]), root / "khot.onnx")
    return m, xte, write_hls_project(onnx, root / "hls", reuse=2), write_rtl_project(onnx, root / "rtl", reuse=2)


def check_khot_chain(root: Path, k: int):
    m, xte, hls, rtl = khot_designs(root, k)
    for d in (hls, rtl):  # every conv / dense layer of the model runs shift-add
        layers = json.loads((d / "model.json").read_text())["khot"]
        assert len(layers) == 5 and {v["k"] for v in layers.values()} == {k}, layers
    text = "\n".join(p.read_text() for p in (rtl / "rtl").glob("*_l*.v"))
    assert "khot_mul" in text and not re.search(r"x_q\w* \* w_", text)  # no multiplier left
    x = xte[:6]
    x_raw = from_float(x.transpose(0, 2, 3, 1).reshape(len(x), -1), m.inp.q.type)
    golden, _ = three_way(hls, rtl, 64, x_raw)  # golden == HLS C-sim == Verilator
    assert np.array_equal(golden, np.ldexp(torch_outputs(m, x), m.fc.oq.type.frac).astype(np.int64))
    return rtl


def test_khot2_pytorch_golden_csim_verilator(tmp_path):
    check_khot_chain(tmp_path, 2)


@pytest.mark.slow
@pytest.mark.parametrize("k", [1, 3])
def test_khot_pytorch_golden_csim_verilator(tmp_path, k):
    check_khot_chain(tmp_path, k)


@pytest.mark.slow  # yosys synth_xilinx: about two minutes per design
@pytest.mark.parametrize("k", [1, 2])
def test_khot_design_has_no_dsp(tmp_path, k):
    from fpga import yosys_resources
    m, xte, _, rtl = khot_designs(tmp_path, k)
    res = yosys_resources(rtl, "mcf_accel")
    assert res["DSP"] == 0 and res["LUT"] > 100, res
