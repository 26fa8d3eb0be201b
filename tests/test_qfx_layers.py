"""QFX hardswish, concat and BatchNorm kept as its own layer (issue 12): the integer hardswish rule
equals float hardswish rounded into the output type (every input, type and rounding mode), and a
trained MixNet using all three is bit-identical in PyTorch, the golden model, qonnx's executor (the
outside oracle: onnxruntime's HardSwish, Concat, Mul, Add between Quant nodes), host C and QEMU
Cortex-M4 (`compile --quant fixed`). HLS C-sim and Verilator: tests/fpga/test_qfx_fpga.py."""
import numpy as np
import pytest

from mcuforge.reference.fixed_arith import FixedType, from_float, hardswish, hardswish_div3, hardswish_params
from qfx_helpers import torch_outputs, trained_mixnet
from qonnx_graphs import qonnx_run
from test_qonnx_import import fixed_outputs

torch = pytest.importorskip("torch")


def test_hardswish_rule_is_float_hardswish_rounded():
    for w in (4, 6, 8):
        raw = np.arange(-(1 << (w - 1)), 1 << (w - 1))
        for fx in range(-2, 9):
            x = raw / 2.0 ** fx
            for fo in range(-2, 10):
                for rounding in ("rne", "trn", "rnd"):
                    out = FixedType(w, fo, rounding, "sat")
                    p = hardswish_params(FixedType(w, fx), out)
                    assert np.array_equal(hardswish(raw, p), from_float(x * np.clip(x + 3, 0, 6) / 6, out)), (w, fx, fo)
    # floor(n / 3) as the hardware computes it: a multiply by ceil(2^s / 3) and a shift
    for n_width in (5, 12, 20):
        d = hardswish_div3(n_width)
        n = np.arange(-(1 << d["b"]), 1 << d["b"])
        q = np.array([((int(v) + 3 * (1 << d["b"])) * d["m"] >> d["s"]) - (1 << d["b"]) for v in n])
        assert np.array_equal(q, n // 3)


@pytest.fixture(scope="module")
def mixnet(tmp_path_factory):
    from mcuforge.quant import qfx
    m, xte, _ = trained_mixnet()
    root = tmp_path_factory.mktemp("mix")
    return m, xte, qfx.export_qonnx(m, torch.from_numpy(xte[:1]), root / "mix.onnx"), root


def test_mixnet_pytorch_golden_qonnx_bit_exact(mixnet):
    import onnx
    m, xte, path, _ = mixnet
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    for op in ("HardSwish", "Concat", "Mul", "Add", "Quant"):
        assert op in ops
    # the concat joins two branches on different binary points; the BN's constants have their own
    assert m.pa.hs.oq.type.frac != m.pb.oq.type.frac
    x = xte[:24]
    y = torch_outputs(m, x)
    assert np.array_equal(fixed_outputs(path, x), y)
    assert np.array_equal(qonnx_run(path, x), y)
    assert len(np.unique(y)) > 30


def test_mixnet_c_host_and_qemu(mixnet):
    from mcuforge.api import compile_model, simulate
    m, xte, path, root = mixnet
    compile_model(path, root / "c", quant="fixed", quiet=True)
    x = xte[:8]
    want = np.ldexp(torch_outputs(m, x), m.fc.oq.type.frac).astype(np.int64)
    y_host, _ = simulate(root / "c", board="host", x=x.astype(np.float32), quiet=True)
    assert np.array_equal(y_host.astype(np.int64), want)
    y_m4, info = simulate(root / "c", board="mps2-an386", x=x[:3].astype(np.float32), quiet=True)
    assert np.array_equal(y_m4.astype(np.int64), want[:3]) and info["instructions"] > 0
    src = "\n".join(p.read_text() for p in (root / "c").rglob("*.c"))
    assert "mcf_fx_hardswish" in src and "mcf_fx_concat" in src


class BnUnit(torch.nn.Module):
    """conv -> BatchNorm (hardswish) whose shift lies on a finer grid than x * scale, concat with the
    conv output, stand-alone hardswish: a 4-D output."""

    def __init__(self):
        super().__init__()
        from mcuforge.quant import qfx
        self.inp = qfx.QfxInput(8)
        self.conv = qfx.QfxConv2d(1, 4, 3, padding=1, weight_bits=6, act_bits=8)
        self.bn = qfx.QfxBatchNorm2d(4, scale_bits=4, shift_bits=8, act_bits=8, act="hardswish")
        self.cat = qfx.QfxConcat(8)
        self.hs = qfx.QfxHardswish(6, rounding="trn")

    def forward(self, x):
        a = self.conv(self.inp(x))
        return self.hs(self.cat(self.bn(a), a))


def test_batchnorm_shift_on_finer_grid_and_trainable_types(tmp_path):
    """The shift's grid finer than the product's: the weights of the 1x1 depthwise convolution move
    to a finer binary point and the accumulator widens, so golden == PyTorch (== qonnx) exactly;
    the BN's scale and shift binary points get gradients (trainable, STE)."""
    from mcuforge.codegen.fpga.prepare import prepare_fixed
    from mcuforge.quant import qfx
    import fpga_models
    torch.manual_seed(3)
    xtr, _, xte, _ = fpga_models.digits()
    m = BnUnit()
    with torch.no_grad():
        m.bn.scale.uniform_(0.3, 1.7), m.bn.shift.uniform_(-2.5, 2.5)
    qfx.calibrate(m, torch.from_numpy(xtr[:64]))
    m(torch.from_numpy(xtr[:16])).sum().backward()
    assert m.bn.sq.frac.grad is not None and m.bn.bq.frac.grad is not None
    fx = m.conv.oq.type.frac + m.bn.sq.type.frac  # the product's binary point
    with torch.no_grad():
        m.bn.bq.frac.fill_(fx + 2)  # the shift two bits finer
    path = qfx.export_qonnx(m, torch.from_numpy(xte[:1]), tmp_path / "bn.onnx")
    g = prepare_fixed(path)
    dw = [n for n in g.topo_order() if n.op == "conv2d" and n.attrs["groups"] == 4]
    assert len(dw) == 1 and g.tensors[dw[0].inputs[1]].meta["fixed"].frac == m.bn.bq.type.frac - m.conv.oq.type.frac
    x = xte[:12]
    y = torch_outputs(m, x)
    assert np.array_equal(fixed_outputs(path, x), y)
    assert np.array_equal(qonnx_run(path, x), y)


def test_three_input_concat_refused_by_fpga_backends(tmp_path):
    """The C kernel joins any number of inputs; the HLS and RTL libraries join two and say so."""
    from mcuforge.codegen.hls.project import write_hls_project
    from mcuforge.codegen.rtl.project import write_rtl_project
    from mcuforge.errors import UnsupportedOpError
    from mcuforge.quant import qfx

    class Cat3(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inp, self.c1, self.c2 = qfx.QfxInput(8), qfx.QfxConv2d(1, 2, 1), qfx.QfxConv2d(2, 2, 1)
            self.cat = qfx.QfxConcat(8)

        def forward(self, x):
            a = self.c1(self.inp(x))
            b = self.c2(a)
            return self.cat(a, b, self.c2(b))

    m = Cat3()
    x = torch.rand(4, 1, 4, 4)
    qfx.calibrate(m, x)
    path = qfx.export_qonnx(m, x[:1], tmp_path / "cat3.onnx")
    assert np.array_equal(fixed_outputs(path, x.numpy()), torch_outputs(m, x.numpy()))
    for write, backend in ((write_hls_project, "HLS"), (write_rtl_project, "RTL")):
        with pytest.raises(UnsupportedOpError, match=f"concat.*3 inputs.*{backend}"):
            write(path, tmp_path / backend)
