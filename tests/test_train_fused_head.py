"""The fused head backward (mean_pw_grad, train/fuse_backward.py): the lowering uses it whenever a
global mean's gradient reaches a 1x1 convolution, its training step equals the unfused ops'
bit for bit (int8 and float32, several steps), and the gradient at the convolution's output is
no longer a tensor of the graph. The kernel itself: tests/test_train_kernels.py (host, QEMU M4,
PyTorch); the C training step with it: tests/test_train_c_int8.py."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from test_train_c_int8 import SmallCNN

F = np.float32


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("fused_head")
    calib = np.random.default_rng(0).standard_normal((8, 1, 8, 8)).astype(F)
    path = out / "cnn.onnx"
    torch.onnx.export(SmallCNN().eval(), (torch.tensor(calib[:1]),), str(path), dynamo=False)
    return str(path), calib


def _sample(g, x):
    xt = g.tensors[g.inputs[0]]
    x = x.transpose(1, 2, 0)
    if xt.dtype == "int8":
        x = np.clip(np.round(x / xt.quant.s) + xt.quant.zp, -128, 127).astype(np.int8)
    return x.reshape(xt.shape)


@pytest.mark.parametrize("quant,spec,outputs", [
    ("int8", "bias:last3,weight:conv4@1/2,weight:fc0", 3),    # bias, half the weight rows, input grad
    ("int8", "bias:last2,weight:fc0", 1),                     # the bias gradient alone
    ("float32", "bias:last1,weight:conv4@1/4", 1),            # the weight gradient alone
])
def test_fused_equals_unfused(model, quant, spec, outputs):
    from mcuforge.train import build_training_graph
    from mcuforge.train.golden import TrainState
    path, calib = model
    fused, plain = (build_training_graph(path, update=spec, quant=quant, calib=calib, lr=0.05, momentum=0.9,
                                         fuse=f) for f in (True, False))
    heads = [n for n in fused.nodes.values() if n.op == "mean_pw_grad"]
    assert len(heads) == 1 and len(heads[0].outputs) == outputs
    assert not any(n.op == "mean_grad" for n in fused.nodes.values())
    assert any(n.op == "mean_grad" for n in plain.nodes.values())
    assert heads[0].name in fused.meta["train"]["backward_nodes"]

    def grad_bytes(g):
        return sum(g.tensors[o].nbytes for n in g.meta["train"]["backward_nodes"] for o in g.node(n).outputs)
    # the mean's broadcast gradient (and its masked copy) at the conv's output are gone
    conv_out = fused.tensors[heads[0].inputs[1]] if heads[0].inputs[1] else None
    assert conv_out is not None and conv_out.shape == (1, 2, 2, 8)
    assert grad_bytes(plain) - grad_bytes(fused) >= 2 * 4 * conv_out.size
    sf, sp = TrainState(fused), TrainState(plain)
    losses = []
    for i in range(4):
        lf, lp = sf.step(_sample(fused, calib[i]), i % 5), sp.step(_sample(plain, calib[i]), i % 5)
        assert F(lf).view(np.uint32) == F(lp).view(np.uint32)
        for k, v in sp.last_grads.items():
            assert np.array_equal(sf.last_grads[k].view(np.uint32), v.view(np.uint32)), k
        losses.append(lf)
    assert len(set(losses)) == 4
    for k, v in sp.state.items():
        assert np.array_equal(np.asarray(sf.state[k]).view(np.uint8), np.asarray(v).view(np.uint8)), k
