"""Graph passes: each one changes the graph as it promises and keeps the float semantics
(checked against onnxruntime on the original model)."""
import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn

from mcuforge.frontend.onnx import load_onnx
from mcuforge.passes.fold_batchnorm import fold_batchnorm
from mcuforge.passes.fold_constants import fold_constants
from mcuforge.passes.fuse_activation import fuse_activation
from mcuforge.passes.pipeline import canonicalize
from mcuforge.passes.remove_dead_nodes import remove_dead_nodes
from mcuforge.reference.executor import run_graph


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.dw, self.b2 = nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8)
        self.b3 = nn.BatchNorm2d(8)  # after an add: no conv to fold into
        self.fc = nn.Linear(8 * 6 * 6, 5)

    def forward(self, x):
        a = torch.relu(self.b1(self.c1(x)))
        b = nn.functional.relu6(self.b2(self.dw(a)))
        c = self.b3(a + b)
        return self.fc(torch.flatten(nn.functional.max_pool2d(c, 2), 1))


@pytest.fixture(scope="module")
def unfolded(tmp_path_factory):
    torch.manual_seed(0)
    m = Net().eval()
    for bn in (m.b1, m.b2, m.b3):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)
    path = tmp_path_factory.mktemp("p") / "net.onnx"
    torch.onnx.export(m, torch.zeros(1, 3, 12, 12), str(path), dynamo=False, opset_version=13,
                      do_constant_folding=False, training=torch.onnx.TrainingMode.EVAL)
    return path


def ort_run(path, x):
    import onnxruntime as ort
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x})[0]


def run_ours(g, x):
    return run_graph(g, {g.inputs[0]: x.transpose(0, 2, 3, 1)})[g.outputs[0]]


def ops(g):
    return [n.op for n in g.topo_order()]


def test_import_matches_onnxruntime(unfolded):
    assert "BatchNormalization" in {n.op_type for n in onnx.load(str(unfolded)).graph.node}
    g = load_onnx(unfolded)
    x = np.random.default_rng(0).standard_normal((1, 3, 12, 12)).astype(np.float32)
    np.testing.assert_allclose(run_ours(g, x), ort_run(unfolded, x), rtol=1e-5, atol=1e-5)


def test_fold_batchnorm(unfolded):
    g = load_onnx(unfolded)
    assert ops(g).count("batchnorm") == 3
    g2 = fold_batchnorm(g.copy())
    assert "batchnorm" not in ops(g2)
    # two fold into their convolutions; the one after the add becomes a 1x1 depthwise conv
    assert ops(g2).count("conv2d") == ops(g).count("conv2d") + 1
    x = np.random.default_rng(1).standard_normal((1, 3, 12, 12)).astype(np.float32)
    np.testing.assert_allclose(run_ours(g2, x), run_ours(g, x), rtol=1e-4, atol=1e-5)


def test_fuse_activation(unfolded):
    g = fold_batchnorm(load_onnx(unfolded))
    g2 = fuse_activation(g.copy())
    assert "relu" not in ops(g2) and "clip" not in ops(g2)
    convs = [n for n in g2.topo_order() if n.op == "conv2d"]
    assert convs[0].attrs["act_min"] == 0.0 and convs[0].attrs.get("act_max") is None
    assert (convs[1].attrs["act_min"], convs[1].attrs["act_max"]) == (0.0, 6.0)
    x = np.random.default_rng(2).standard_normal((1, 3, 12, 12)).astype(np.float32)
    np.testing.assert_allclose(run_ours(g2, x), run_ours(g, x), rtol=1e-5, atol=1e-6)


def test_canonicalize_absorbs_the_flatten_transpose(unfolded):
    g = canonicalize(load_onnx(unfolded))
    assert "transpose" not in ops(g)  # the NHWC->NCHW flatten became a dense weight permutation
    x = np.random.default_rng(3).standard_normal((1, 3, 12, 12)).astype(np.float32)
    np.testing.assert_allclose(run_ours(g, x), ort_run(unfolded, x), rtol=1e-4, atol=1e-5)


def test_fold_constants_and_dead_nodes():
    from mcuforge.ir.graph import Graph, Node
    from mcuforge.ir.ops import infer_shapes
    from mcuforge.ir.tensor import Tensor
    g = Graph("t")
    g.add_tensor(Tensor("x", (1, 4)))
    g.inputs = ["x"]
    a = g.const("a", np.ones((1, 4), np.float32))
    b = g.const("b", np.full((1, 4), 2.0, np.float32))
    g.add_node(Node("ab", "add", [a.name, b.name], ["ab_out"]))
    g.add_node(Node("y", "mul", ["x", "ab_out"], ["y_out"]))
    g.add_node(Node("dead", "relu", ["x"], ["dead_out"]))
    g.outputs = ["y_out"]
    infer_shapes(g)
    g = remove_dead_nodes(fold_constants(g))
    assert ops(g) == ["mul"]
    np.testing.assert_array_equal(g.tensors["ab_out"].data, np.full((1, 4), 3.0))
    y = run_graph(g, {"x": np.arange(4, dtype=np.float32).reshape(1, 4)})["y_out"]
    np.testing.assert_array_equal(y, [[0, 3, 6, 9]])
