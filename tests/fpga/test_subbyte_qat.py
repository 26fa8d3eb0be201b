"""Quantization-aware training for the FPGA sub-byte layers (issue 13, item 4): int4 / ternary
weights with a power-of-two scale per output channel (mcuforge.quant.qat_lowbit, scales
"pow2-frozen" / "pow2"), exported as QONNX; the FPGA path maps those Quant nodes exactly onto its
sub-byte layers (quant/qonnx.py: subbyte_weights: raw int4 / ternary weights + weight_shift), so the
PyTorch forward, the golden model, HLS C-simulation and Verilator compute the same thing.
Anchored outside our own code by the digits test set: the QAT CNN's accuracy (golden model) is
PyTorch's, and above the bars measured for it (docs/subbyte.md)."""
import numpy as np
import pytest

import fpga_models as models
from mcuforge.codegen.fpga.golden import read_raw
from mcuforge.codegen.fpga.graph_io import load_graph
from mcuforge.codegen.fpga.layout import to_graph_layout
from mcuforge.codegen.fpga.prepare import prepare_fixed
from mcuforge.codegen.hls.project import write_hls_project
from mcuforge.codegen.rtl.project import write_rtl_project
from mcuforge.quant.fixed import input_to_raw
from mcuforge.sim import hls_csim
from mcuforge.sim.fpga import run_reference
from test_three_way import three_way

torch = pytest.importorskip("torch")
from mcuforge.quant import qat_lowbit as qat  # noqa: E402

CHANNEL_SCALES = (0.02, 0.3, 2.5, 0.07)  # conv channels whose power-of-two scales differ by 7 places


def tiny(seed: int = 0):
    """conv 3x3 1 -> 4 (channels of very different magnitudes) -> relu -> dense 64 -> 6."""
    torch.manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                            torch.nn.Linear(64, 6))
    with torch.no_grad():
        m[0].weight.mul_(torch.tensor(CHANNEL_SCALES).reshape(-1, 1, 1, 1) * 3)
    return m


def _data(n=96):
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, (n, 1, 4, 4)).astype(np.float32)
    return x, (x.reshape(n, -1)[:, :6].argmax(1)).astype(np.int64)


def _golden(g, x):
    name = g.inputs[0]
    return run_reference(g, input_to_raw(g, name, to_graph_layout(g, name, x)).reshape(len(x), -1))


@pytest.mark.parametrize("bits,scales", [(2, "pow2-frozen"), (4, "pow2")])
def test_qat_export_is_the_fpga_subbyte_layer(tmp_path, bits, scales):
    """The exported Quant nodes become sub-byte layers carrying exactly the trained integers and
    per-channel shifts; the golden model computes PyTorch's QAT forward (16-bit activations: the
    same classes, outputs within a few activation LSBs); HLS C-simulation == golden (ternary)."""
    x, y = _data()
    m = qat.prepare_qat(tiny(), bits, scales=scales)
    qat.train(m, x, y, epochs=2, lr=1e-2)
    path = qat.export_qonnx(m, x[:1], tmp_path / "tiny.onnx")
    g = prepare_fixed(path, x[:48], 16, bits)
    conv, fc = [n for n in g.topo_order() if n.op in ("conv2d", "dense")]
    nhwc = (lambda q: q.transpose(0, 2, 3, 1),  # conv [Cout][Cin][KH][KW] -> [Cout][KH][KW][Cin]
            lambda q: q.reshape(6, 4, 4, 4).transpose(0, 2, 3, 1).reshape(6, -1))  # dense columns in NHWC order
    for node, mod, layout in ((conv, m[0], nhwc[0]), (fc, m[3], nhwc[1])):
        p = mod.parametrizations.weight[0]
        q, s = qat.quantized_weight(mod.parametrizations.weight.original, bits, scales=scales, frozen=p.frozen)
        wt = g.tensors[node.inputs[1]].meta["fixed"]
        assert node.attrs["weight_bits"] == bits and wt.width == bits
        assert np.array_equal(g.tensors[node.inputs[1]].data, layout(q))
        shifts = np.array(node.attrs.get("weight_shift") or [0] * len(s))
        assert np.array_equal(np.ldexp(1.0, shifts - wt.frac), s)  # 2^(s_c - F) is the trained scale
    assert max(conv.attrs["weight_shift"]) >= 4  # the channel scales really differ
    with torch.no_grad():
        ref = m(torch.from_numpy(x)).numpy()
    gold = _golden(g, x)
    real = gold * 2.0 ** -g.tensors[g.outputs[0]].meta["fixed"].frac
    assert np.abs(real - ref).max() < 0.05 * np.abs(ref).max() and np.mean(real.argmax(1) == ref.argmax(1)) >= 0.95
    if bits == 4:
        return  # per-channel int4 layers through C-simulation: test_subbyte_perchannel.py
    prj = write_hls_project(path, tmp_path / "hls", calib=x[:48], weight_bits=bits)
    assert "w_shift = 1;" in (prj / "firmware" / "parameters.h").read_text()
    x_raw = read_raw(prj / "tb_data" / "tb_input_raw.dat", 16)
    assert np.array_equal(run_reference(load_graph(prj), x_raw), hls_csim.run_csim(prj, x_raw))


def test_qonnx_bias_off_the_channel_grid_keeps_wide_weights():
    """A QONNX bias with its own type that the per-channel shifts would round stays exact: the
    layer keeps the wide weights (integers << s_c) instead of becoming a sub-byte layer."""
    from mcuforge.ir.tensor import QuantParams, Tensor
    from mcuforge.quant.qonnx import subbyte_weights
    w = Tensor("w", (2, 3), data=np.zeros((2, 3), np.float32),
               quant=QuantParams(np.array([0.5, 0.125]), np.zeros(2, np.int64), 0))
    w.meta.update(q_int=np.array([[1, 0, -1], [1, 1, 0]]), q_bits=(2, True, True))
    raw, t, shifts = subbyte_weights(w)
    assert (t.width, t.frac) == (2, 3) and shifts.tolist() == [2, 0] and raw.tolist() == [[1, 0, -1], [1, 1, 0]]
    b = Tensor("b", (2,), data=np.zeros(2, np.float32), quant=QuantParams(np.array([2.0 ** -9]), np.zeros(1, np.int64)))
    assert subbyte_weights(w, b) is None
    w.meta["q_bits"] = (2, True, False)  # not narrow: [-2, 1] is not the ternary grid
    assert subbyte_weights(w) is None


def _cnn_qat(cnn, digits, key, tmp_path):
    xtr, ytr, _, _ = digits
    q, path = models.qat_cnn(cnn.module, xtr, ytr, key, tmp_path / f"qat{key}.onnx")
    g = prepare_fixed(path, cnn.calib, 16, 4 if key == 4 else 2)
    gold = _golden(g, cnn.x_test)
    with torch.no_grad():
        ref = q(torch.from_numpy(cnn.x_test)).numpy()
    assert np.mean(gold.argmax(1) == ref.argmax(1)) >= 0.99  # the golden model runs the trained network
    return path, float(np.mean(gold.argmax(1) == cnn.y_test))


@pytest.mark.slow  # QAT of the CNN: 85 s on this shared machine (about 15 s idle)
def test_cnn_ternary_qat_accuracy(cnn, digits, tmp_path):
    """Ternary QAT (first convolution int4) of the digits CNN: measured 0.94-0.96 over seeds (int8
    0.96, ternary PTQ 0.52)."""
    _, acc = _cnn_qat(cnn, digits, 2, tmp_path)
    assert acc >= 0.92, acc


@pytest.mark.slow
def test_cnn_qat_accuracy_all_widths(cnn, digits, tmp_path):
    """int4 QAT at int8's accuracy (measured 0.97-0.98); ternary in every layer far above ternary
    PTQ (measured 0.82-0.87 against 0.52)."""
    a8 = float(np.mean(_golden(prepare_fixed(cnn.onnx, cnn.calib, 16, 8), cnn.x_test).argmax(1) == cnn.y_test))
    _, a4 = _cnn_qat(cnn, digits, 4, tmp_path)
    _, a2all = _cnn_qat(cnn, digits, "2all", tmp_path)
    assert a4 >= a8 - 0.01, (a4, a8)
    assert a2all >= 0.78, a2all


@pytest.mark.slow
@pytest.mark.parametrize("key", [4, 2])
def test_cnn_qat_three_way(cnn, digits, tmp_path, key):
    """golden == HLS C-simulation == Verilator (random gaps and back-pressure) on the QAT CNN."""
    path, _ = _cnn_qat(cnn, digits, key, tmp_path)
    bits = 4 if key == 4 else 2
    hls = write_hls_project(path, tmp_path / "hls", calib=cnn.calib, reuse=2, weight_bits=bits)
    rtl = write_rtl_project(path, tmp_path / "rtl", calib=cnn.calib, reuse=2, weight_bits=bits)
    g = load_graph(rtl)
    assert {n.attrs.get("weight_bits") for n in g.topo_order() if n.op in ("conv2d", "dense")} == (
        {4} if key == 4 else {4, 2})
    three_way(hls, rtl, 64)
