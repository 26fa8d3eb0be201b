"""Both torch exporters on a small net full of data movement: channel shuffle (view -> transpose
-> view), chunk + cat, reflect pad, strided slicing, and view(x.size(0), -1), which the TorchScript
exporter writes as Shape -> Gather -> Unsqueeze -> Concat -> Reshape and the dynamo exporter as a
constant Reshape (weights in a .onnx.data side file). The shape arithmetic folds at compile time.
Float32 C matches onnxruntime and torch; the int8 build (calibrated) runs byte-identically in the
golden model, on the host and on a Cortex-M4 under QEMU."""
import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mcuforge.api import compile_model, simulate

from test_movement_onnx import _ort


class ShuffleNetBits(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3)
        self.fc = nn.Linear(8 * 4 * 5, 10)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        n, c, h, w = x.size()
        x = x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
        a, b = x.chunk(2, dim=1)
        x = torch.cat([b, a], 1)
        x = F.pad(x, (1, 1, 1, 1), mode="reflect")
        x = self.c2(x)
        x = x[:, :, ::2, 1:-2].contiguous()
        x = x.view(x.size(0), -1)
        return self.fc(x)


class PixelBits(nn.Module):
    """PixelShuffle / PixelUnshuffle, replicate pad, repeat, expand, select, unbind, stack, permute."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.ps, self.pu = nn.PixelShuffle(2), nn.PixelUnshuffle(2)
        self.c2 = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        y = self.c1(x)
        u = F.pad(self.ps(y), (1, 0, 0, 1), mode="replicate")[:, :, :16, 1:]
        g = y[:, 0:1].repeat(1, 8, 1, 1)
        e = y[:, :, :1, :1].expand(-1, -1, 8, 8)
        z = self.c2(self.pu(u) + g + e)
        s = torch.stack([z.unbind(1)[0], z[:, 3]], dim=1)
        return s.permute(0, 2, 3, 1).reshape(1, -1)


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_exporter_pixel_shuffle_repeat_expand_select(dynamo, tmp_path):
    if dynamo:
        pytest.importorskip("onnxscript")
    torch.manual_seed(0)
    net = PixelBits().eval()
    path = tmp_path / "net.onnx"
    ops = _export(net, path, dynamo)
    assert {"DepthToSpace", "Pad", "Tile", "Expand", "Gather"} <= set(ops), ops
    x = np.random.default_rng(3).standard_normal((2, 1, 3, 8, 8)).astype(np.float32)
    want = _ort(path, x)[0]
    res = compile_model(path, tmp_path / "out", target="host", quant="float32", quiet=True)
    assert {"tile", "broadcast_to", "gather", "slice", "pad"} <= {r["op"] for r in res.info["layers"]}
    y, _ = simulate(tmp_path / "out", "host", x=x, quiet=True)
    np.testing.assert_allclose(y.reshape(want.shape), want, rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return ShuffleNetBits().eval()


def _export(net, path, dynamo):
    torch.onnx.export(net, (torch.randn(1, 3, 8, 8),), str(path), dynamo=dynamo)
    return [n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node]


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_exporter_float_matches_onnxruntime_and_torch(net, dynamo, tmp_path):
    if dynamo:
        pytest.importorskip("onnxscript")
    path = tmp_path / "net.onnx"
    ops = _export(net, path, dynamo)
    if dynamo:
        assert (tmp_path / "net.onnx.data").is_file() or path.stat().st_size > 4000
    else:
        assert {"Shape", "Gather", "Unsqueeze", "ConstantOfShape"} <= set(ops), ops
    assert {"Slice", "Pad", "Transpose", "Reshape"} <= set(ops), ops
    x = np.random.default_rng(1).standard_normal((3, 1, 3, 8, 8)).astype(np.float32)
    want = _ort(path, x)[0]
    with torch.no_grad():
        torch_y = np.stack([net(torch.from_numpy(xi)).numpy() for xi in x])
    np.testing.assert_allclose(want, torch_y, rtol=1e-4, atol=1e-5)
    res = compile_model(path, tmp_path / "out", target="host", quant="float32", quiet=True)
    assert {r["op"] for r in res.info["layers"]} >= {"slice", "pad", "transpose"}
    for board in ("reference", "host"):
        y, _ = simulate(tmp_path / "out", board, x=x, quiet=True)
        np.testing.assert_allclose(y.reshape(want.shape), want, rtol=1e-4, atol=1e-5, err_msg=board)


@pytest.mark.slow
def test_int8_golden_host_and_m4_agree(net, tmp_path):
    path = tmp_path / "net.onnx"
    _export(net, path, False)
    rng = np.random.default_rng(2)
    calib = rng.standard_normal((32, 3, 8, 8)).astype(np.float32)
    x = rng.standard_normal((4, 3, 8, 8)).astype(np.float32)
    res = compile_model(path, tmp_path / "lib", target="cortex-m4", calib=calib, quiet=True)
    kernels = {r["kernel"] for r in res.info["layers"]}
    assert {"mcf_strided_copy", "mcf_pad"} <= kernels, kernels
    ref, _ = simulate(tmp_path / "lib", "reference", x)
    host, _ = simulate(tmp_path / "lib", "host", x)
    m4, info = simulate(tmp_path / "lib", "mps2-an386", x)
    assert np.array_equal(ref, host) and np.array_equal(ref, m4)
    # and the int8 model still computes the network: close to torch in real units
    q = res.info["outputs"][0]["quant"]
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    got = (ref.astype(np.float64) - q["zero_point"]) * q["scale"]
    assert np.abs(got.reshape(want.shape) - want).max() < 0.1 * np.abs(want).max()
