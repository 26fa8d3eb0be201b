"""int8 training, end to end: build_training_graph on a small CNN (sparse scheme: biases of the
last 3 layers, half of a 1x1 conv's rows (a frozen expand + depthwise pair runs fused; the
head's mean / ReLU / 1x1-conv backward runs as one mean_pw_grad kernel), the classifier's weights), the C library, and the
golden TrainState.step == host C == QEMU Cortex-M4, bit for bit, over several steps."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mcuforge.codegen.c.train import emit_training_library
from mcuforge.sim.train_run import device_samples, train_on_board

F = np.float32


class SmallCNN(torch.nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 4, 3, stride=2, padding=1)
        self.pw = torch.nn.Conv2d(4, 8, 1)                      # frozen expand + depthwise: fused
        self.dw = torch.nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8)
        self.c2 = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.c3 = torch.nn.Conv2d(8, 8, 1)
        self.fc = torch.nn.Linear(8, classes)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        x = torch.relu(self.dw(torch.relu(self.pw(x))))
        x = torch.relu(self.c2(x))
        x = torch.relu(self.c3(x))
        return self.fc(x.mean((2, 3)))


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    from mcuforge.train import build_training_graph
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("train_int8")
    onnx_path = out / "cnn.onnx"
    rng = np.random.default_rng(0)
    calib = rng.standard_normal((16, 1, 8, 8)).astype(F)
    torch.onnx.export(SmallCNN().eval(), (torch.tensor(calib[:1]),), str(onnx_path), dynamo=False)
    g = build_training_graph(str(onnx_path), update="bias:last3,weight:conv4@1/2,weight:fc0", quant="int8",
                             calib=calib, lr=0.05, momentum=0.9)
    info = emit_training_library(g, out / "lib", "cortex-m4")
    xs, ys = calib[:5], np.array([0, 1, 2, 3, 4], np.int32)
    return g, info, out / "lib", xs, ys, onnx_path


def golden_losses(g, info, xs, ys, epochs):
    from mcuforge.train.golden import TrainState
    st = TrainState(g)
    xd = device_samples(info, xs)
    shape = g.tensors[g.inputs[0]].shape
    return np.array([st.step(x.reshape(shape), y) for _ in range(epochs) for x, y in zip(xd, ys)], F)


def test_graph_is_int8_and_sparse(lib):
    g, info, lib_dir, _, _, _ = lib
    assert info["quant"] == "int8" and g.tensors[g.inputs[0]].dtype == "int8"
    rows = {t["layer"]: t["rows"] for t in g.meta["train"]["trained"] if t["kind"] == "weight"}
    assert sorted(rows.values()) == [4, 5]          # half of conv4's 8 rows, all of fc's 5
    assert [l["op"] for l in info["layers"]].count("fused_pw_dw") == 1    # the frozen expand + depthwise
    assert [l["op"] for l in info["layers"]].count("mean_pw_grad") == 1   # the head's backward, fused
    # only trained tensors take RAM; the frozen first conv's weights stay in flash, and so do the
    # frozen half of conv4's rows (its trained rows are a RAM array, the rest a flash "tail")
    full = sum(g.tensors[t["param"]].nbytes for t in g.meta["train"]["trained"])
    conv4 = next(t for t in g.meta["train"]["trained"] if t["kind"] == "weight" and t["rows"] == 4)
    assert info["training_sram"]["trained_params_ram"] == full - g.tensors[conv4["param"]].nbytes // 2
    src = (lib_dir / f"{info['prefix']}.c").read_text()
    assert ".head_rows = 4," in src and "s8_head" in src


@pytest.mark.parametrize("board", ["host", "mps2-an386"])
def test_steps_bit_exact(lib, board):
    g, info, out, xs, ys, _ = lib
    want = golden_losses(g, info, xs, ys, 2)
    rep = train_on_board(out, board, xs, ys, epochs=2, quiet=True, plot=False)
    got = np.array(rep["step_losses"], F)
    assert got.shape == (10,)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), (got, want)
    assert len(set(want.tolist())) == 10            # the state changes every step


def test_int8_only_state_bit_exact(lib, tmp_path):
    """The paper's state (master=False, no momentum): the int8 weights alone are the state;
    the update starts from them and the C step still equals the golden one. Partial rows of the
    classifier (3 of 5) and of the depthwise conv (4 of 8): only those rows are RAM."""
    from mcuforge.train import build_training_graph
    _, _, _, xs, ys, onnx_path = lib
    g = build_training_graph(str(onnx_path), update="bias:last2,weight:fc0@1/2,weight:conv2@1/2", quant="int8",
                             calib=xs, lr=0.05, momentum=0.0, master=False)
    info = emit_training_library(g, tmp_path / "lib", "cortex-m4")
    assert info["training_sram"]["optimizer_state"] == 0
    assert info["training_sram"]["trained_params_ram"] == 3 * 8 + 4 * 9 + 4 * (5 + 8)   # fc, dw rows; biases
    assert "_master" not in (tmp_path / "lib" / f"{info['prefix']}.c").read_text()
    want = golden_losses(g, info, xs, ys, 2)
    got = np.array(train_on_board(tmp_path / "lib", "host", xs, ys, epochs=2, quiet=True, plot=False)
                   ["step_losses"], F)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), (got, want)


class WideCNN(torch.nn.Module):
    """An expand + depthwise pair whose input and output are the largest tensors of the step."""
    def __init__(self, classes=3):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.pw = torch.nn.Conv2d(4, 16, 1)
        self.dw = torch.nn.Conv2d(16, 16, 3, stride=2, padding=1, groups=16)
        self.c3 = torch.nn.Conv2d(16, 4, 1)
        self.fc = torch.nn.Linear(4, classes)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        x = torch.relu(self.dw(torch.relu(self.pw(x))))
        return self.fc(torch.relu(self.c3(x)).mean((2, 3)))


def test_fused_pair_in_place_bit_exact(tmp_path):
    """The fused expand + depthwise writes its output over its dying input (the depthwise's
    window gap): the planner uses that here, and the host steps still equal the golden ones."""
    import re
    from mcuforge.train import build_training_graph
    torch.manual_seed(0)
    x = np.random.default_rng(1).uniform(0, 1, (6, 1, 16, 16)).astype(F)
    path = tmp_path / "wide.onnx"
    torch.onnx.export(WideCNN().eval(), (torch.tensor(x[:1]),), str(path), dynamo=False)
    g = build_training_graph(str(path), update="bias:last1,weight:fc0", quant="int8", calib=x, lr=0.05,
                             momentum=0.0)
    info = emit_training_library(g, tmp_path / "lib", "cortex-m4")
    src = (tmp_path / "lib" / f"{info['prefix']}.c").read_text()
    call = re.search(r"mcf_fused_pw_dw_s8\([^;]*arena\[(\d+)\][^;]*arena\[(\d+)\][^;]*;", src)
    src_at, dst_at = int(call.group(1)), int(call.group(2))
    assert dst_at < src_at + 16 * 16 * 4 and src_at < dst_at + 8 * 8 * 16     # the two overlap
    ys = np.array([0, 1, 2, 0, 1, 2], np.int32)
    want = golden_losses(g, info, x, ys, 1)
    got = np.array(train_on_board(tmp_path / "lib", "host", x, ys, epochs=1, quiet=True, plot=False)
                   ["step_losses"], F)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), (got, want)
