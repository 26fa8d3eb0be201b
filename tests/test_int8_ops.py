"""Every int8 op the ONNX path supports, in one branched model: generated C on the host and on
QEMU Cortex-M4 is byte-identical with the golden model, and the int8 result stays close to
onnxruntime's float result (the golden model is anchored to the float semantics, not only to
itself)."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from mcuforge.api import compile_model, simulate


class AllOps(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1, stride=2)
        self.dw = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8)
        self.pw = nn.Conv2d(16, 12, 1)
        self.grouped = nn.Conv2d(12, 12, 3, padding=1, groups=3)
        self.bn = nn.BatchNorm2d(12)
        self.fc = nn.Linear(12, 6)

    def forward(self, x):
        a = torch.relu(self.c1(x))                               # 8x8x8
        b = nn.functional.hardswish(self.dw(a))
        c = torch.sigmoid(a) * b                                 # mul of two variables
        d = torch.cat([a, c], dim=1)                             # concat of differently scaled inputs
        e = nn.functional.relu6(self.pw(d))
        f = self.bn(self.grouped(e)) + e                         # residual add
        f = nn.functional.pad(f, (1, 0, 0, 1))
        g = nn.functional.avg_pool2d(f, 3, stride=2, padding=1, count_include_pad=False)
        g = nn.functional.max_pool2d(g, 2, ceil_mode=True)
        h = nn.functional.adaptive_avg_pool2d(g, 1).flatten(1)   # GlobalAveragePool + Flatten
        return torch.softmax(self.fc(h) - 0.5, dim=1)            # sub of a constant, softmax


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    m = AllOps().eval()
    m.bn.running_mean.uniform_(-0.5, 0.5)
    m.bn.running_var.uniform_(0.5, 2)
    folder = tmp_path_factory.mktemp("allops")
    path = folder / "allops.onnx"
    torch.onnx.export(m, torch.zeros(1, 3, 16, 16), str(path), dynamo=False, opset_version=13,
                      input_names=["x"], do_constant_folding=False)
    rng = np.random.default_rng(0)
    calib = rng.uniform(-1, 1, (64, 3, 16, 16)).astype(np.float32)
    test = rng.uniform(-1, 1, (8, 3, 16, 16)).astype(np.float32)
    lib = compile_model(path, folder / "lib", target="cortex-m4", calib=calib, quiet=True)
    return path, lib, test


def test_graph_exercises_every_int8_kernel(model):
    _, lib, _ = model
    kernels = {r["op"] for r in lib.info["layers"]}
    assert {"conv2d", "lut", "mul", "concat", "add", "sub", "pad", "avgpool", "maxpool", "dense",
            "softmax"} <= kernels, kernels


def test_host_and_m4_match_golden(model):
    _, lib, x = model
    ref, _ = simulate(lib.out_dir, "reference", x)
    host, _ = simulate(lib.out_dir, "host", x)
    m4, _ = simulate(lib.out_dir, "mps2-an386", x)
    assert np.array_equal(ref, host)
    assert np.array_equal(ref, m4)


def test_int8_close_to_float(model):
    import onnxruntime as ort
    path, lib, x = model
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    want = np.concatenate([sess.run(None, {"x": x[i:i + 1]})[0] for i in range(len(x))])
    got, _ = simulate(lib.out_dir, "reference", x)
    q = lib.info["outputs"][0]["quant"]
    probs = (got.astype(np.float64) - q["zero_point"]) * q["scale"]
    assert np.abs(probs - want).max() < 0.06
    assert (probs.argmax(1) == want.argmax(1)).mean() >= 0.75
