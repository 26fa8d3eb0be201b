"""BatchNorm after a fully connected layer (Linear + BatchNorm1d, as torch's TorchScript exporter
writes it: Gemm -> BatchNormalization) folds into the dense weights and bias, per output feature,
also in a QDQ model where a Q/DQ pair sits between the Gemm and the BatchNormalization."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from corpus.check import ort_qdq_model, ort_run
from mcuforge.frontend.onnx import load_onnx
from mcuforge.passes.fold_batchnorm import fold_batchnorm
from mcuforge.passes.pipeline import canonicalize
from mcuforge.reference.executor import run_graph


class Mlp(nn.Module):
    def __init__(self, bias2=False):
        super().__init__()
        self.fc1, self.bn1 = nn.Linear(12, 10), nn.BatchNorm1d(10)
        self.fc2, self.bn2 = nn.Linear(10, 6, bias=bias2), nn.BatchNorm1d(6)  # no bias: MatMul form
        self.fc3 = nn.Linear(6, 4)

    def forward(self, x):
        return self.fc3(torch.relu(self.bn2(self.fc2(torch.relu(self.bn1(self.fc1(x)))))))


def _export(tmp_path_factory, bias2):
    torch.manual_seed(0)
    m = Mlp(bias2).eval()
    for bn in (m.bn1, m.bn2):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.2, 3)
        bn.weight.data.uniform_(-1.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)
    path = tmp_path_factory.mktemp("bnd") / "mlp.onnx"
    torch.onnx.export(m, torch.zeros(1, 12), str(path), dynamo=False, opset_version=13,
                      do_constant_folding=False, training=torch.onnx.TrainingMode.EVAL)
    return path


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    return _export(tmp_path_factory, bias2=False)


@pytest.fixture(scope="module")
def mlp_gemm(tmp_path_factory):
    """Every layer a Gemm (onnxruntime quantizes a MatMul's weights per tensor with a zero point,
    which the int8 contract does not take)."""
    return _export(tmp_path_factory, bias2=True)


def _ops(g):
    return [n.op for n in g.topo_order()]


def _run(g, x):
    return run_graph(g, {g.inputs[0]: x})[g.outputs[0]]


def test_batchnorm_folds_into_dense(mlp):
    import onnx
    assert [n.op_type for n in onnx.load(str(mlp)).graph.node].count("BatchNormalization") == 2
    g = load_onnx(mlp)
    assert _ops(g).count("batchnorm") == 2 and _ops(g).count("dense") == 3
    folded = fold_batchnorm(g.copy())
    assert "batchnorm" not in _ops(folded)
    assert not {"mul", "add", "conv2d"} & set(_ops(folded))  # folded, not rewritten as a scale and shift
    assert len(folded.nodes) == len(g.nodes) - 2
    canon = canonicalize(g.copy())
    for x in np.random.default_rng(1).standard_normal((5, 1, 12)).astype(np.float32):
        np.testing.assert_allclose(_run(folded, x), _run(g, x), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(_run(canon, x), ort_run(mlp, x, disable_opt=True)[0], rtol=1e-4, atol=1e-5)


def test_batchnorm_stays_a_layer_across_a_qdq_pair(mlp_gemm, tmp_path):
    """onnxruntime's quantizer puts a Q/DQ pair on the Gemm output, before the BatchNormalization,
    and so rounds there: the BN stays a layer of its own (a 1x1 depthwise convolution between
    reshapes to [N, 1, 1, C] and back; a ReLU after it would fuse into it through the reshape), the
    dense keeps the Q/DQ grid, and the int8 golden model lands within 1 LSB of onnxruntime's QDQ
    model (folded, one rounding fewer: the corpus autoencoder was 56 % identical, up to 3 LSB)."""
    from mcuforge.api import prepare_graph
    calib = np.random.default_rng(2).standard_normal((16, 12)).astype(np.float32)
    qdq = ort_qdq_model(mlp_gemm, calib, tmp_path / "mlp.qdq.onnx")
    g = load_onnx(qdq)
    bns = [n for n in g.topo_order() if n.op == "batchnorm"]
    assert len(bns) == 2 and all(g.tensors[n.inputs[0]].quant is not None for n in bns)
    grids = {g.producer(n.inputs[0]).name: g.tensors[n.inputs[0]].quant for n in bns}
    canon = canonicalize(g.copy())
    ops = _ops(canon)
    assert "batchnorm" not in ops and ops.count("conv2d") == 2 and ops.count("dense") == 3
    assert not {"mul", "add", "relu"} & set(ops)
    assert {n.name for n in canon.topo_order() if n.op == "conv2d"} == {b.name for b in bns}
    for dense, q in grids.items():
        out = canon.tensors[canon.node(dense).outputs[0]].quant
        assert out is not None and out.same_as(q)
    x = np.random.default_rng(3).standard_normal((1, 12)).astype(np.float32)
    np.testing.assert_allclose(_run(canon, x), _run(g, x), rtol=1e-5, atol=1e-5)
    # int8 against onnxruntime's QDQ model, one rounding per requantization
    gq, _ = prepare_graph(qdq, calib=calib, quiet=True, requant="single")
    xs = np.random.default_rng(4).standard_normal((48, 1, 12)).astype(np.float32)
    qi, qo = gq.tensors[gq.inputs[0]].quant, gq.tensors[gq.outputs[0]].quant
    d = []
    for xi in xs:
        xq = np.clip(np.round(xi / qi.scale[0]) + qi.zero_point[0], -128, 127).astype(np.int8)
        got = _run(gq, xq).astype(np.int64)
        want = np.clip(np.round(ort_run(qdq, xi, disable_opt=True)[0] / qo.scale[0]) + qo.zero_point[0], -128, 127)
        d.append(np.abs(got.reshape(-1) - want.reshape(-1)))
    d = np.concatenate(d)
    assert d.max() <= 1 and np.mean(d == 0) >= 0.9, (d.max(), np.mean(d == 0))
