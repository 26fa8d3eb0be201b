"""Training graphs (issue 11, docs/training.md): Relax-derived backward lowered into our IR.

Oracles: PyTorch autograd for float32 gradients (within 1e-5 relative), the inference golden
model for the int8 forward (the same bits), the full graph for the sparse one."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tvm")

from mcuforge.errors import McuforgeError, UnsupportedOpError  # noqa: E402
from mcuforge.train import build_training_graph  # noqa: E402
from mcuforge.train.golden import TrainState  # noqa: E402


class FlatNet(torch.nn.Module):
    """conv + depthwise (stride 2) + pointwise ReLU6 + average pool + flatten + dense."""
    def __init__(self, k=3):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.dw = torch.nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=4)
        self.pw = torch.nn.Conv2d(4, 8, 1)
        self.fc = torch.nn.Linear(8 * 2 * 2, k)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        x = torch.relu(self.dw(x))
        x = torch.nn.functional.relu6(self.pw(x))
        x = torch.nn.functional.avg_pool2d(x, 2)
        return self.fc(x.flatten(1))

    def layers(self):
        return [self.c1, self.dw, self.pw, self.fc]


class ResNet(torch.nn.Module):
    """conv + depthwise + pointwise ReLU6 with a residual add + global mean + dense."""
    def __init__(self, k=3):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.dw = torch.nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=4)
        self.pw = torch.nn.Conv2d(4, 4, 1)
        self.fc = torch.nn.Linear(4, k)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        y = torch.relu(self.dw(x))
        x = torch.nn.functional.relu6(self.pw(y)) + y
        return self.fc(x.mean((2, 3)))

    def layers(self):
        return [self.c1, self.dw, self.pw, self.fc]


def _export(module, path):
    torch.onnx.export(module, (torch.randn(1, 1, 8, 8),), str(path), dynamo=False)
    return str(path)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("train")
    out = {}
    for cls in (FlatNet, ResNet):
        torch.manual_seed(0)
        m = cls().eval()
        out[cls.__name__] = (m, _export(m, d / f"{cls.__name__}.onnx"))
    return out


def _torch_grads(m, x_nhwc, label):
    m.zero_grad()
    out = m(torch.tensor(x_nhwc.transpose(0, 3, 1, 2)))
    loss = torch.nn.functional.cross_entropy(out, torch.tensor([label]))
    loss.backward()
    return float(loss.detach())




def _compare_to_torch(m, g, x, label):
    st = TrainState(g)
    loss, grads = st.gradients(x, label)
    tloss = _torch_grads(m, x, label)
    assert abs(loss - tloss) <= 1e-5 * max(1.0, abs(tloss))
    fwd_layers = [n for n in g.meta["train"]["forward_nodes"] if g.node(n).op in ("conv2d", "dense")]
    for tr in g.meta["train"]["trained"]:
        mod = m.layers()[fwd_layers.index(tr["layer"])]
        pg = getattr(mod, tr["kind"]).grad.numpy()
        if pg.ndim == 4:
            pg = pg.transpose(0, 2, 3, 1)
        v = grads[tr["param"]]
        src = g.producer(g.node(tr["layer"]).inputs[0])
        if tr["kind"] == "weight" and src is not None and src.op == "reshape":   # dense after an NHWC flatten: columns permuted
            _, h, w, c = g.tensors[src.inputs[0]].shape
            pg = pg.reshape(pg.shape[0], c, h, w).transpose(0, 2, 3, 1).reshape(pg.shape[0], -1)
        pg = pg[:tr["rows"]]
        assert v.shape == pg.shape, tr
        assert np.abs(v - pg).max() <= 1e-5 * np.abs(pg).max(), (tr["param"], np.abs(v - pg).max())
    return grads


@pytest.mark.parametrize("name", ["FlatNet", "ResNet"])
def test_float_gradients_match_pytorch(models, name):
    m, path = models[name]
    g = build_training_graph(path, update="all", quant="float32")
    rs = np.random.RandomState(1)
    for label in (0, 2):
        x = rs.randn(1, 8, 8, 1).astype(np.float32)
        _compare_to_torch(m, g, x, label)
    assert len(g.meta["train"]["trained"]) == 8


def test_sparse_gradients_equal_full_restricted(models):
    m, path = models["ResNet"]
    full = build_training_graph(path, update="all", quant="float32")
    sparse = build_training_graph(path, update="bias:last2,weight:conv2@1/2,weight:fc0", quant="float32")
    x = np.random.RandomState(2).randn(1, 8, 8, 1).astype(np.float32)
    lf, gf = TrainState(full).gradients(x, 1)
    ls, gs = TrainState(sparse).gradients(x, 1)
    assert lf == ls
    trained = {t["param"]: t for t in sparse.meta["train"]["trained"]}
    layers = [n for n in sparse.meta["train"]["forward_nodes"] if sparse.node(n).op in ("conv2d", "dense")]
    assert sorted((layers.index(t["layer"]), t["kind"], t["rows"]) for t in trained.values()) == [
        (2, "bias", 4), (2, "weight", 2), (3, "bias", 3), (3, "weight", 3)]
    for p, v in gs.items():
        np.testing.assert_array_equal(v, gf[p][:trained[p]["rows"]])
    _compare_to_torch(m, sparse, x, 1)
    # pruned at compile time: no gradient below the first trained layer, fewer nodes and bytes
    ops = [sparse.node(n).op for n in sparse.meta["train"]["backward_nodes"]]
    # (conv2 is the 1x1 conv under the global mean: its bias and weight gradients come from one
    # fused mean_pw_grad node, train/fuse_backward.py, which computes no input gradient here)
    assert "conv2d_grad_input" not in ops and ops.count("mean_pw_grad") == 1
    head = next(sparse.node(n) for n in sparse.meta["train"]["backward_nodes"] if sparse.node(n).op == "mean_pw_grad")
    assert not head.attrs["input_grad"] and head.attrs["weight_rows"] == 2
    grad_bytes = [sum(gr.tensors[o].nbytes for n in gr.meta["train"]["backward_nodes"] for o in gr.node(n).outputs)
                  for gr in (sparse, full)]
    assert len(sparse.nodes) < len(full.nodes) and grad_bytes[0] < grad_bytes[1]
    assert sparse.tensors[head.outputs[1]].shape == (2, 1, 1, 4)


def test_updates_follow_their_gradient(models):
    _, path = models["FlatNet"]
    g = build_training_graph(path, update="all", quant="float32", momentum=0.0)
    order = [n.name for n in g.topo_order()]
    for u in g.meta["train"]["update_nodes"]:
        un = g.node(u)
        grad_node = g.producer(un.inputs[0]).name
        # every reader of the old parameter runs first, the update comes right after the last
        # of its gradient and those readers
        deps = [grad_node] + list(un.attrs["after"])
        assert order.index(u) == max(order.index(d) for d in deps) + 1, u
        assert un.attrs["inplace_of"][-1] == un.inputs[4]
        assert un.outputs == [un.outputs[0]] and not un.inputs[1] and not un.inputs[2]  # float32, no momentum:
        # the parameter is its own master and there is no other state


def test_float_training_reduces_loss(models):
    _, path = models["ResNet"]
    g = build_training_graph(path, update="bias:last3,weight:last1", quant="float32", lr=0.05)
    st = TrainState(g)
    x = np.random.RandomState(3).randn(1, 8, 8, 1).astype(np.float32)
    losses = [st.step(x, 2) for _ in range(10)]
    assert losses[-1] < 0.5 * losses[0]
    assert int(np.argmax(st.predict(x))) == 2


def _int8_graph(path, **kw):
    calib = np.random.RandomState(0).randn(16, 1, 8, 8).astype(np.float32)
    return build_training_graph(path, quant="int8", calib=calib, **kw), calib


def _quantize_input(g, x_nchw):
    q = g.tensors[g.inputs[0]].quant
    return np.clip(np.round(x_nchw.transpose(0, 2, 3, 1) / q.s) + q.zp, -128, 127).astype(np.int8)


def test_int8_forward_is_inference_and_steps_are_deterministic(models):
    from mcuforge.api import prepare_graph
    from mcuforge.reference.executor import run_graph
    _, path = models["ResNet"]
    g, calib = _int8_graph(path, update="bias:last2,weight:conv2@1/2,weight:fc0")
    inf, _ = prepare_graph(path, quant="int8", calib=calib, quiet=True)
    x = _quantize_input(g, calib[:1])
    ours = TrainState(g).predict(x)
    ref = run_graph(inf, {inf.inputs[0]: x})[inf.outputs[0]]
    np.testing.assert_array_equal(ours, ref)
    a, b = TrainState(g), TrainState(g)
    la = [a.step(_quantize_input(g, calib[i:i + 1]), i % 3) for i in range(4)]
    lb = [b.step(_quantize_input(g, calib[i:i + 1]), i % 3) for i in range(4)]
    assert la == lb
    for k in a.state:
        assert a.state[k].tobytes() == b.state[k].tobytes()
    # the trained int8 weights moved, only in their trained rows, and stay int8
    w = next(t for t in g.meta["train"]["trained"] if t["kind"] == "weight" and t["rows"] < t["channels"])
    new, old = a.state[w["param"]], g.tensors[w["param"]].data
    assert new.dtype == np.int8 and np.array_equal(new[w["rows"]:], old[w["rows"]:])
    assert np.array_equal(new[:w["rows"]], np.clip(np.trunc(a.state[w["master"]] + np.where(
        a.state[w["master"]] >= 0, np.float32(0.5), np.float32(-0.5))), -127, 127))


def test_int8_only_state(models):
    """master=False, momentum=0: the paper's int8-only state (one byte per trained weight)."""
    from mcuforge.train.memory import training_sram
    _, path = models["ResNet"]
    g, calib = _int8_graph(path, update="bias:last1,weight:last1", master=False, momentum=0.0, lr=0.5)
    full, _ = _int8_graph(path, update="bias:last1,weight:last1")
    m, mf = training_sram(g), training_sram(full)
    assert m["state"]["masters"] == m["state"]["momenta"] == 0 and m["state"]["params"] == mf["state"]["params"]
    assert m["total"] < mf["total"]
    st = TrainState(g)
    assert set(st.state) == {t["param"] for t in g.meta["train"]["trained"]}
    x = _quantize_input(g, calib[:1])
    w = next(t["param"] for t in g.meta["train"]["trained"] if t["kind"] == "weight")
    before = st.state[w].copy()
    _, grads = st.gradients(x, 1)
    st.step(x, 1)
    s = g.tensors[w].quant.scale.reshape(-1, 1).astype(np.float32)
    expect = np.clip(np.trunc(before.astype(np.float32) - np.float32(0.5) * (grads[w] * (np.float32(1) / s))
                              + np.float32(0.5) * np.sign(before - 0.5 * grads[w] / s)), -127, 127)
    assert st.state[w].dtype == np.int8 and np.abs(st.state[w].astype(int) - expect).max() <= 1
    assert np.any(st.state[w] != before)


def test_int8_qas_scales(models):
    _, path = models["ResNet"]
    g, _ = _int8_graph(path, update="bias:last1,weight:last1")
    off, _ = _int8_graph(path, update="bias:last1,weight:last1", qas=False)
    for tr in g.meta["train"]["trained"]:
        p = g.tensors[tr["param"]]
        s = np.broadcast_to(p.quant.scale, (tr["channels"],))[:tr["rows"]]
        gs_on = g.tensors[tr["param"] + "_grad_scale"].data
        gs_off = off.tensors[tr["param"] + "_grad_scale"].data
        np.testing.assert_allclose(gs_on, 1.0 / s, rtol=1e-6)
        np.testing.assert_allclose(gs_off, s, rtol=1e-6)
    assert g.meta["train"]["qas"] and not off.meta["train"]["qas"]
    # with QAS an int8 step moves the real-valued weights like a float step of the same lr
    st = TrainState(g)
    x = _quantize_input(g, np.random.RandomState(5).randn(1, 1, 8, 8).astype(np.float32))
    _, grads = st.gradients(x, 1)
    tr = next(t for t in g.meta["train"]["trained"] if t["kind"] == "weight")
    st.step(x, 1)
    s = g.tensors[tr["param"]].quant.scale.reshape(-1, 1)
    moved = (st.state[tr["master"]] - g.tensors[tr["master"]].data) * s
    np.testing.assert_allclose(moved, -0.01 * grads[tr["param"]], rtol=1e-4, atol=1e-9)


def test_spec_errors(models):
    _, path = models["ResNet"]
    with pytest.raises(McuforgeError, match="ratio 1/3"):
        build_training_graph(path, update="weight:conv1@1/3", quant="float32")
    with pytest.raises(McuforgeError, match="conv7 does not exist"):
        build_training_graph(path, update="weight:conv7", quant="float32")
    with pytest.raises(McuforgeError, match="cannot read"):
        build_training_graph(path, update="weights:conv1", quant="float32")
    with pytest.raises(McuforgeError, match="calibration samples"):
        build_training_graph(path, update="bias:last1", quant="int8")


def test_unsupported_op_is_named(tmp_path):
    class Sig(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4, 3)

        def forward(self, x):
            return self.fc(torch.sigmoid(x))
    torch.onnx.export(Sig().eval(), (torch.randn(1, 4),), str(tmp_path / "s.onnx"), dynamo=False)
    with pytest.raises(UnsupportedOpError, match="sigmoid"):
        build_training_graph(str(tmp_path / "s.onnx"), update="all", quant="float32")


def test_softmax_xent_and_fmath():
    from mcuforge.ir.graph import Node
    from mcuforge.ir.ops import get_op
    from mcuforge.train.fmath import exp_f, log_f
    x = -np.linspace(0, 80, 20001).astype(np.float32)
    assert np.max(np.abs(exp_f(x) / np.exp(x.astype(np.float64)) - 1)) < 2e-7
    y = np.linspace(1, 1000, 20001).astype(np.float32)
    assert np.max(np.abs(log_f(y) - np.log(y.astype(np.float64)))) < 5e-7
    z = np.random.RandomState(0).randn(1, 10).astype(np.float32) * 4
    loss, grad = get_op("softmax_xent").run_float(Node("l", "softmax_xent", ["z", "y"], ["a", "b"]),
                                                  [z, np.array([3], np.int32)])
    zt = torch.tensor(z, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(zt, torch.tensor([3]))
    lt.backward()
    assert abs(loss[0] - lt.item()) < 1e-6
    np.testing.assert_allclose(grad, zt.grad.numpy(), atol=1e-7)


def test_training_sram_and_budget(models):
    from mcuforge.train.memory import training_sram
    _, path = models["FlatNet"]
    small = build_training_graph(path, update="bias:last1", quant="float32")
    full = build_training_graph(path, update="all", quant="float32")
    ms, mf = training_sram(small), training_sram(full)
    assert ms["total"] < mf["total"] and ms["saved_activations"] < mf["saved_activations"]
    assert mf["state"]["momenta"] == sum(full.tensors[t["param"]].nbytes for t in full.meta["train"]["trained"])
    with pytest.raises(McuforgeError, match=r"needs \d+ bytes of SRAM .* over the budget of 100"):
        build_training_graph(path, update="all", quant="float32", sram_budget=100)


def test_auto_scheme_under_budget(models):
    from mcuforge.train.memory import training_sram
    _, path = models["ResNet"]
    rs = np.random.RandomState(0)
    x = rs.randn(12, 1, 8, 8).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0).astype(np.int64)
    opts = {"data": x, "labels": y, "max_layers": 1}
    g = build_training_graph(path, update="auto", quant="float32", lr=0.1, sram_budget=1200, auto_options=opts)
    assert training_sram(g)["total"] <= 1200 and g.meta["train"]["trained"]
    with pytest.raises(McuforgeError, match=r"no sparse-update scheme fits 50 bytes.* needs \d+ bytes"):
        build_training_graph(path, update="auto", quant="float32", sram_budget=50, auto_options=opts)
    with pytest.raises(McuforgeError, match="labelled samples"):
        build_training_graph(path, update="auto", quant="float32")


def test_cli_compile_train(models, tmp_path, capsys):
    from mcuforge.cli import main
    _, path = models["ResNet"]
    rc = main(["compile", path, "-o", str(tmp_path / "out"), "--train", "--quant", "float32",
               "--update", "bias:last1", "--sram-budget", "10"])
    assert rc == 1 and "bytes over the budget of 10" in capsys.readouterr().err
    rc = main(["compile", path, "-o", str(tmp_path / "out"), "--train", "--quant", "float32"])
    assert rc == 1 and "--auto-data" in capsys.readouterr().err


@pytest.mark.slow
def test_lowering_matches_relax_vm(models):
    """The lowered graph computes what the Relax adjoint computes on TVM's own host VM."""
    from mcuforge.train.build import float_forward
    from mcuforge.train.relax_import import build_relax, relax_reference
    from mcuforge.train.sparse import parse_spec
    _, path = models["ResNet"]
    f = float_forward(path)
    trained = parse_spec("all", f)
    params = [f.node(t.layer).inputs[1 if t.kind == "weight" else 2] for t in trained]
    x = np.random.RandomState(0).randn(1, 8, 8, 1).astype(np.float32)
    loss, grads = relax_reference(build_relax(f, params), f, x, 2)
    g = build_training_graph(path, update=trained, quant="float32")
    ours_loss, ours = TrainState(g).gradients(x, 2)
    assert abs(ours_loss - loss) < 1e-6
    for p, gr in zip(params, grads):
        gr = gr.transpose(0, 2, 3, 1) if gr.ndim == 4 else gr
        assert np.abs(ours[p] - gr).max() <= 1e-5 * np.abs(gr).max(), p


def test_mse_autoencoder_gradients(tmp_path):
    class AE(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = torch.nn.Linear(8, 4)
            self.dec = torch.nn.Linear(4, 8)

        def forward(self, x):
            return self.dec(torch.relu(self.enc(x)))
    torch.manual_seed(0)
    m = AE().eval()
    torch.onnx.export(m, (torch.randn(1, 8),), str(tmp_path / "ae.onnx"), dynamo=False)
    g = build_training_graph(str(tmp_path / "ae.onnx"), update="all", quant="float32", loss="mse")
    assert g.tensors[g.inputs[1]].shape == (1, 8) and g.tensors[g.inputs[1]].dtype == "float32"
    rs = np.random.RandomState(0)
    x, t = rs.randn(1, 8).astype(np.float32), rs.randn(1, 8).astype(np.float32)
    loss, grads = TrainState(g).gradients(x, t)
    lt = torch.nn.functional.mse_loss(m(torch.tensor(x)), torch.tensor(t))
    lt.backward()
    assert abs(loss - lt.item()) <= 1e-6 * max(1.0, lt.item())
    layers = [n for n in g.meta["train"]["forward_nodes"] if g.node(n).op == "dense"]
    for tr in g.meta["train"]["trained"]:
        ref = getattr([m.enc, m.dec][layers.index(tr["layer"])], tr["kind"]).grad.numpy()
        assert np.abs(grads[tr["param"]] - ref).max() <= 1e-5 * np.abs(ref).max()
