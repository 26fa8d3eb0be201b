"""mcuforge.quant.qfx: the PyTorch forward equals the fixed golden model and qonnx's executor bit for
bit (after training moved weights and binary points), binary points train through the STE, and the
exported QONNX compiles to C (int8) as well."""
import numpy as np
import pytest

from mcuforge.reference.fixed_arith import FixedType, from_float, to_float
from qfx_helpers import torch_outputs, trained_qfx
from qonnx_graphs import qonnx_run
from test_qonnx_import import fixed_outputs, int8_real

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("rounding", ["rne", pytest.param("trn", marks=pytest.mark.slow)])
def test_forward_bit_exact_with_golden_and_qonnx(tmp_path, rounding):
    from mcuforge.quant import qfx
    m, xte, _ = trained_qfx(rounding=rounding)
    path = qfx.export_qonnx(m, torch.from_numpy(xte[:1]), tmp_path / "qfx.onnx")
    x = xte[:24]
    y_torch = torch_outputs(m, x)
    assert np.array_equal(fixed_outputs(path, x), y_torch)
    assert np.array_equal(qonnx_run(path, x), y_torch)
    assert len(np.unique(y_torch)) > 30


def test_cast_matches_golden_on_ties_and_saturation():
    from mcuforge.quant.qfx.core import cast
    v = np.concatenate([np.arange(-40, 40) / 8.0, [100.0, -100.0, 0.3, -0.7]])
    for rounding in ("rne", "trn"):
        t = FixedType(6, 2, rounding, "sat")
        ours = cast(torch.from_numpy(v), t).numpy()
        assert np.array_equal(ours, to_float(from_float(v, t), t))


def test_binary_point_trains_through_ste():
    """A 4-bit quantizer whose range is too small for its data moves its binary point down (more
    integer bits) when trained to reproduce the data; one with too coarse a grid moves it up."""
    from mcuforge.quant.qfx import FixedQuant
    x = torch.linspace(-5, 5, 401, dtype=torch.float64)
    for start, direction in ((4.0, -1), (-1.0, 1)):
        q = FixedQuant(4, frac=start)
        opt = torch.optim.SGD(q.parameters(), lr=0.05)
        for _ in range(60):
            opt.zero_grad()
            ((q(x) - x) ** 2).mean().backward()
            opt.step()
        assert (q.type.frac - start) * direction >= 1, (start, q.type.frac)


def test_qfx_export_on_c_backend(tmp_path):
    """8-bit QFX export compiled for C: power-of-two scales go through int8 requantization, so host C
    equals the golden model exactly and PyTorch within a few output LSBs (not bit-exact: the int8
    scheme rounds with TFLite's rules, not the fixed contract)."""
    from mcuforge.api import compile_model, simulate
    from mcuforge.quant import qfx
    m, xte, _ = trained_qfx(wb=8, ab=8)
    path = qfx.export_qonnx(m, torch.from_numpy(xte[:1]), tmp_path / "qfx8.onnx")
    x = xte[:16].astype(np.float32)
    compile_model(path, tmp_path / "out", quant="int8", calib=x, quiet=True)
    y_ref, _ = simulate(tmp_path / "out", board="reference", x=x, quiet=True)
    y_c, _ = simulate(tmp_path / "out", board="host", x=x, quiet=True)
    assert np.array_equal(y_ref, y_c)
    y_m4, _ = simulate(tmp_path / "out", board="mps2-an386", x=x[:4], quiet=True)
    assert np.array_equal(y_ref[:4], y_m4)
    y_t = torch_outputs(m, x.astype(np.float64))
    lsb = 2.0 ** -m.fc.oq.type.frac
    err = np.abs(int8_real(tmp_path / "out", y_ref) - y_t) / lsb
    assert np.median(err) <= 1.0 and (y_ref.argmax(1) == y_t.argmax(1)).mean() >= 0.8, (np.median(err), err.max())


def naf_weight(v: int) -> int:
    """Fewest signed powers of two summing to v (non-adjacent form)."""
    n, v = 0, abs(int(v))
    while v:
        if v & 1:
            v -= 2 - (v & 3)  # digit +1 or -1
            n += 1
        v >>= 1
    return n


@pytest.mark.parametrize("k", [1, 2])
def test_khot_weights_exact_and_k_terms(tmp_path, k):
    """K-hot weights: every weight of the exported model is a sum of at most K signed powers of two,
    and the model stays bit-exact with the golden model."""
    from mcuforge.codegen.fpga.prepare import prepare_fixed
    from mcuforge.quant import qfx
    assert [naf_weight(v) for v in (0, 1, 3, 7, 5, -6, 11)] == [0, 1, 2, 2, 2, 2, 3]
    m, xte, _ = trained_qfx(wb=6, ab=8, khot=k, steps=4)
    path = qfx.export_qonnx(m, torch.from_numpy(xte[:1]), tmp_path / "khot.onnx")
    x = xte[:8]
    assert np.array_equal(fixed_outputs(path, x), torch_outputs(m, x))
    g = prepare_fixed(path)
    weights = [g.tensors[n.inputs[1]].data for n in g.topo_order() if n.op in ("conv2d", "dense")]
    assert len(weights) == 5
    terms = np.array([naf_weight(v) for w in weights for v in w.reshape(-1)])
    assert terms.max() == k and (terms == k).mean() > 0.2


def test_fold_batchnorm_into_qfx_conv():
    """A float conv + eval BatchNorm folded into a QfxConv2d: in float mode the same function."""
    from mcuforge.quant import qfx
    torch.manual_seed(0)
    conv, bn = torch.nn.Conv2d(2, 4, 3, padding=1).double(), torch.nn.BatchNorm2d(4).double()
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2), bn.weight.uniform_(0.5, 2), bn.bias.uniform_(-1, 1)
    bn.eval()
    q = qfx.QfxConv2d(2, 4, 3, padding=1)
    w, b = qfx.fold_batchnorm(conv, bn)
    with torch.no_grad():
        q.conv.weight.copy_(w), q.conv.bias.copy_(b)
    x = torch.randn(3, 2, 6, 6, dtype=torch.float64)
    qfx.float_mode(q)
    x.qfx = FixedType(64, 0)  # a float-mode input
    assert torch.allclose(q(x), bn(conv(x)), atol=1e-12)
