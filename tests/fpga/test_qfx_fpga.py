"""One QFX-trained model (PyTorch, binary points learned) bit-identical on PyTorch emulation, the
golden model, host C, QEMU Cortex-M4, HLS C-simulation and Verilator, through QONNX export and
`mcuforge hls / rtl / compile --quant fixed` without calibration."""
import sys
from pathlib import Path

import numpy as np
import pytest

from mcuforge.api import compile_model, simulate
from mcuforge.codegen.hls.project import write_hls_project
from mcuforge.codegen.rtl.project import write_rtl_project
from mcuforge.reference.fixed_arith import from_float
from test_three_way import three_way

sys.path.insert(0, str(Path(__file__).parent.parent))
from qfx_helpers import torch_outputs, trained_qfx  # noqa: E402

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def qfx_designs(tmp_path_factory):
    from mcuforge.quant import qfx
    m, xte, _ = trained_qfx(wb=4, ab=6)
    root = tmp_path_factory.mktemp("qfx3")
    onnx = qfx.export_qonnx(m, torch.from_numpy(xte[:1]), root / "qfx.onnx")
    compile_model(onnx, root / "c", quant="fixed", quiet=True)
    return (m, xte, write_hls_project(onnx, root / "hls", reuse=2), write_rtl_project(onnx, root / "rtl", reuse=2),
            root / "c")


def test_qfx_pytorch_golden_c_qemu_csim_verilator(qfx_designs):
    m, xte, hls, rtl, c = qfx_designs
    x = xte[:8]
    in_t, out_t = m.inp.q.type, m.fc.oq.type
    x_raw = from_float(x.transpose(0, 2, 3, 1).reshape(len(x), -1), in_t)
    golden, _ = three_way(hls, rtl, 64, x_raw)  # golden == HLS C-sim == Verilator
    torch_raw = np.ldexp(torch_outputs(m, x), out_t.frac).astype(np.int64)
    assert np.array_equal(golden, torch_raw)  # == PyTorch emulation
    assert len(np.unique(golden)) > 20
    # the C library (fixed contract, int8 storage) on the host and on QEMU's Cortex-M4, from floats
    y_host, _ = simulate(c, board="host", x=x.astype(np.float32), quiet=True)
    assert np.array_equal(y_host.astype(np.int64), golden)
    y_m4, info = simulate(c, board="mps2-an386", x=x[:3].astype(np.float32), quiet=True)
    assert np.array_equal(y_m4.astype(np.int64), golden[:3]) and info["instructions"] > 0


@pytest.mark.slow
def test_qfx_mixnet_pytorch_golden_csim_verilator(tmp_path):
    """The hardswish / concat / BatchNorm MixNet (PyTorch == golden == qonnx == host C == QEMU in
    tests/test_qfx_layers.py): HLS C-simulation and Verilator too (about 60 s of builds)."""
    from mcuforge.quant import qfx
    from qfx_helpers import trained_mixnet
    m, xte, _ = trained_mixnet()
    onnx = qfx.export_qonnx(m, torch.from_numpy(xte[:1]), tmp_path / "mix.onnx")
    hls, rtl = write_hls_project(onnx, tmp_path / "hls", reuse=2), write_rtl_project(onnx, tmp_path / "rtl", reuse=2)
    assert "nnet::hardswish" in (hls / "firmware" / "myproject.cpp").read_text()
    assert "nnet::concatenate" in (hls / "firmware" / "myproject.cpp").read_text()
    x = xte[:8]
    x_raw = from_float(x.transpose(0, 2, 3, 1).reshape(len(x), -1), m.inp.q.type)
    golden, _ = three_way(hls, rtl, 64, x_raw)  # golden == HLS C-sim == Verilator
    assert np.array_equal(golden, np.ldexp(torch_outputs(m, x), m.fc.oq.type.frac).astype(np.int64))
    assert len(np.unique(golden)) > 20
