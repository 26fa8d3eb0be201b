"""The `fixed` contract in C (mcuforge compile --quant fixed): shift requantization with each
tensor's rounding (trn / rnd / rne) and overflow (sat / wrap) mode, so host C == the fixed golden
model == the QFX PyTorch emulation bit for bit (QEMU M4 in tests/fpga/test_qfx_fpga.py)."""
import sys
from pathlib import Path

import numpy as np
import pytest

from mcuforge.api import compile_model, simulate
from mcuforge.errors import McuforgeError
from mcuforge.quant.calibrate import calibrate
from mcuforge.quant.fixed import quantize_fixed
from mcuforge.reference.executor import Executor
from mcuforge.reference.fixed_arith import FixedType

sys.path.insert(0, str(Path(__file__).parent / "fpga"))
from fpga_random_models import random_float_graph  # noqa: E402


def random_int8_fixed_graph(seed: int):
    """Random conv / depthwise / residual / pooling / dense graph in the fixed scheme at <= 8 bits,
    random rounding (rne included) and overflow modes, some binary points pushed too high so
    saturation and wrapping happen."""
    rng = np.random.default_rng(seed + 77)
    g = random_float_graph(seed)
    ranges = calibrate(g, [{"x": rng.uniform(-2, 2, g.tensors["x"].shape).astype(np.float32)} for _ in range(16)])
    modes = lambda: (str(rng.choice(["rnd", "trn", "rne"])), str(rng.choice(["sat", "wrap"])))  # noqa: E731
    wb = int(rng.integers(3, 9))
    base = quantize_fixed(g, ranges, 8, wb, *modes())
    overrides = {}
    for n in base.topo_order():
        t = n.outputs[0]
        if n.op in ("conv2d", "dense", "add", "sub") and rng.random() < 0.6:
            ft = base.tensors[t].meta["fixed"]
            width = int(rng.integers(4, 9))
            overrides[t] = FixedType(width, width - ft.int_bits + int(rng.integers(-1, 3)), *modes())
    return quantize_fixed(g, ranges, 8, wb, base.meta["fixed_config"]["rounding"],
                          base.meta["fixed_config"]["overflow"], overrides)


@pytest.mark.parametrize("seed", [0, 1] + [pytest.param(s, marks=pytest.mark.slow) for s in range(2, 8)])
def test_random_fixed_graphs_host_c_equals_golden(tmp_path, seed):
    g = random_int8_fixed_graph(seed)
    modes = {(t.meta["fixed"].rounding, t.meta["fixed"].overflow) for t in g.tensors.values() if "fixed" in t.meta}
    res = compile_model(g, tmp_path / "out", quant="fixed", quiet=True)
    assert res.info["quant"] == "fixed"
    shape = g.tensors["x"].shape
    x = np.random.default_rng(seed).integers(-128, 128, (12,) + shape[1:]).astype(np.int8)
    y_c, _ = simulate(tmp_path / "out", board="host", x=x, quiet=True)
    ex = Executor(g)
    golden = np.stack([ex.run({"x": x[i:i + 1].astype(np.int64)})[g.outputs[0]][0] for i in range(len(x))])
    assert np.array_equal(y_c.astype(np.int64), golden), modes
    assert len(np.unique(golden)) > 2


@pytest.mark.slow  # the default run does this in tests/fpga/test_qfx_fpga.py (with QEMU, HLS, Verilator)
def test_qfx_model_c_equals_pytorch(tmp_path):
    """A trained QFX model (4-bit weights, 6-bit activations, ties to even), floats in: the C
    library quantizes the input with the input type's rounding and computes PyTorch's integers."""
    import torch
    from mcuforge.quant import qfx
    from qfx_helpers import torch_outputs, trained_qfx
    m, xte, _ = trained_qfx(wb=4, ab=6, steps=4)
    onnx = qfx.export_qonnx(m, torch.from_numpy(xte[:1]), tmp_path / "qfx.onnx")
    compile_model(onnx, tmp_path / "out", quant="fixed", quiet=True)
    x = xte[:16].astype(np.float32)
    y_c, _ = simulate(tmp_path / "out", board="host", x=x, quiet=True)
    y_ref, _ = simulate(tmp_path / "out", board="reference", x=x, quiet=True)
    y_t = np.ldexp(torch_outputs(m, x.astype(np.float64)), m.fc.oq.type.frac)
    assert np.array_equal(y_c, y_ref) and np.array_equal(y_c.astype(np.int64), y_t.astype(np.int64))
    assert len(np.unique(y_c)) > 20


def test_wide_activation_refused(tmp_path):
    g = random_float_graph(5)
    rng = np.random.default_rng(0)
    ranges = calibrate(g, [{"x": rng.uniform(-2, 2, g.tensors["x"].shape).astype(np.float32)} for _ in range(4)])
    g = quantize_fixed(g, ranges, 12, 8, "rnd", "sat")
    with pytest.raises(McuforgeError, match=r"tensor \S+: 12-bit activation; the fixed-point C backend"):
        compile_model(g, tmp_path / "out", quant="fixed", quiet=True)
    assert not (tmp_path / "out").exists()


def test_khot_shift_add_kernels_equal_golden(tmp_path, monkeypatch):
    """The C shift-add kernels for K-hot weights (off by default: slower on Cortex-M4) compute the
    same integers: 4-bit weights are all sums of at most two signed powers of two."""
    import mcuforge.codegen.c.layers.fixed as fx
    monkeypatch.setattr(fx, "SHIFT_ADD_KHOT_MAX", 3)
    g = random_float_graph(3)
    rng = np.random.default_rng(1)
    ranges = calibrate(g, [{"x": rng.uniform(-2, 2, g.tensors["x"].shape).astype(np.float32)} for _ in range(8)])
    g = quantize_fixed(g, ranges, 8, 4, "rne", "sat")
    res = compile_model(g, tmp_path / "out", quant="fixed", quiet=True)
    src = (tmp_path / "out" / f"{res.info['prefix']}.c").read_text()
    macs = sum(n.op in ("conv2d", "dense") for n in g.nodes.values())
    assert macs >= 3 and src.count(".codes = mcf_") == macs  # every conv / dense layer: shift-add
    x = rng.integers(-128, 128, (8,) + g.tensors["x"].shape[1:]).astype(np.int8)
    y_c, _ = simulate(tmp_path / "out", board="host", x=x, quiet=True)
    ex = Executor(g)
    golden = np.stack([ex.run({"x": x[i:i + 1].astype(np.int64)})[g.outputs[0]][0] for i in range(len(x))])
    assert np.array_equal(y_c.astype(np.int64), golden) and len(np.unique(golden)) > 2
