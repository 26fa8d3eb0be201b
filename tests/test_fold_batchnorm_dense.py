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
    def __init__(self):
        super().__init__()
        self.fc1, self.bn1 = nn.Linear(12, 10), nn.BatchNorm1d(10)
        self.fc2, self.bn2 = nn.Linear(10, 6, bias=False), nn.BatchNorm1d(6)  # no bias: MatMul form
        self.fc3 = nn.Linear(6, 4)

    def forward(self, x):
        return self.fc3(torch.relu(self.bn2(self.fc2(torch.relu(self.bn1(self.fc1(x)))))))


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    torch.manual_seed(0)
    m = Mlp().eval()
    for bn in (m.bn1, m.bn2):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.2, 3)
        bn.weight.data.uniform_(-1.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)
    path = tmp_path_factory.mktemp("bnd") / "mlp.onnx"
    torch.onnx.export(m, torch.zeros(1, 12), str(path), dynamo=False, opset_version=13,
                      do_constant_folding=False, training=torch.onnx.TrainingMode.EVAL)
    return path


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


def test_batchnorm_folds_into_dense_across_a_qdq_pair(mlp, tmp_path):
    """onnxruntime's quantizer puts a Q/DQ pair on the Gemm output, before the BatchNormalization:
    that grid describes values that no longer exist once the BN is folded, so the folded layer's
    output takes the BN output's grid."""
    calib = np.random.default_rng(2).standard_normal((16, 12)).astype(np.float32)
    g = load_onnx(ort_qdq_model(mlp, calib, tmp_path / "mlp.qdq.onnx"))
    bns = [n for n in g.topo_order() if n.op == "batchnorm"]
    assert len(bns) == 2 and all(g.tensors[n.inputs[0]].quant is not None for n in bns)
    bn_grids = {g.producer(n.inputs[0]).name: g.tensors[n.outputs[0]].quant for n in bns}
    folded = canonicalize(g.copy())
    assert not {"batchnorm", "mul", "add", "conv2d"} & set(_ops(folded))
    for dense, q in bn_grids.items():
        out = folded.tensors[folded.node(dense).outputs[0]].quant
        assert out is not None and np.allclose(out.scale, q.scale) and np.array_equal(out.zero_point, q.zero_point)
    x = np.random.default_rng(3).standard_normal((1, 12)).astype(np.float32)
    np.testing.assert_allclose(_run(folded, x), _run(g, x), rtol=1e-5, atol=1e-5)
