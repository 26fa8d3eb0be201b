"""Patch-based inference (schedule/patches.py): the patched graph computes the same bytes as the
layer-wise one (golden model, host C, QEMU Cortex-M4), with border padding only on border
patches, non-square grids with unequal last patches and a residual block inside the stage; ops
that cannot be patched end the stage and an explicit split past one is refused in one line."""
import re

import numpy as np
import pytest
import torch
import torch.nn as nn

from mcuforge.api import compile_model, prepare_graph, simulate
from mcuforge.errors import McuforgeError, UnsupportedOpError
from mcuforge.reference.executor import Executor
from mcuforge.schedule.patches import apply_patches, plan_patches, stage_prefixes, tiles


class Net(nn.Module):
    """A stride-2 stem, depthwise with dilation, pointwise, a residual block, pad and pooling on a
    non-square input, then a global pool and a classifier (which no patch can hold)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.dw = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8)
        self.pw = nn.Conv2d(8, 12, 1)
        self.r1 = nn.Conv2d(12, 12, 3, padding=1)
        self.r2 = nn.Conv2d(12, 12, 3, padding=1)
        self.fc = nn.Linear(12, 5)

    def forward(self, x):
        a = torch.relu(self.stem(x))
        b = torch.relu(self.pw(torch.relu(self.dw(a))))
        c = torch.relu(self.r2(torch.relu(self.r1(b))) + b)
        c = nn.functional.pad(c, (0, 1, 1, 0))
        d = nn.functional.max_pool2d(c, 2)
        return self.fc(nn.functional.adaptive_avg_pool2d(d, 1).flatten(1))


SHAPE = (1, 3, 30, 22)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    m = Net().eval()
    rng = np.random.default_rng(0)
    calib = rng.uniform(-1, 1, (16,) + SHAPE[1:]).astype(np.float32)
    g, _ = prepare_graph(m, calib=calib, quiet=True, example_inputs=torch.zeros(SHAPE))
    x = rng.uniform(-1, 1, (3,) + SHAPE[1:]).astype(np.float32)
    return m, g, calib, x


def _node_after(g, op):
    return next(n.name for n in g.topo_order() if n.op == op)


def _feeds(g, x):
    t = g.tensors[g.inputs[0]]
    q = t.quant
    xs = np.transpose(x, (0, 2, 3, 1))
    return [np.clip(np.round(xi / q.s) + q.zp, -128, 127).astype(np.int8)[None] for xi in xs]


def test_stage_ends_before_the_global_pool(net):
    _, g, _, _ = net
    prefixes, stopper, why = stage_prefixes(g)
    assert stopper is not None and stopper.op in ("avgpool", "mean") and why
    assert [n.op for n in prefixes[-1][1]][-1] == "maxpool"


@pytest.mark.parametrize("grid", ["3x2", "4x3", "2x5", "1x3"])
def test_patched_golden_model_equals_layer_wise(net, grid):
    """Every split along the stage with a non-square grid (unequal last patches: 15 rows in 4)."""
    _, g, _, x = net
    ex = Executor(g)
    prefixes, _, _ = stage_prefixes(g)
    feeds = _feeds(g, x)
    for split, _ in prefixes:
        h, w = g.tensors[split.outputs[0]].shape[1:3]
        n, m = map(int, grid.split("x"))
        if n > h or m > w:
            continue
        plan = plan_patches(g, mode=f"{grid}@{split.name}")
        pg = apply_patches(g, plan)
        pex = Executor(pg)
        for f in feeds:
            want = ex.run({g.inputs[0]: f}, keep_all=True)
            got = pex.run({g.inputs[0]: f}, keep_all=True)
            assert np.array_equal(want[split.outputs[0]], got[split.outputs[0]]), split.name
            assert np.array_equal(want[g.outputs[0]], got[g.outputs[0]])


def test_border_padding_only_on_border_patches(net):
    _, g, _, _ = net
    stem = g.topo_order()[0]
    assert stem.op == "conv2d" and tuple(stem.attrs["pads"][:2]) == (1, 1)
    plan = plan_patches(g, mode=f"3x2@{stem.name}")
    assert plan.rows == [(0, 5), (5, 10), (10, 15)] and plan.cols == [(0, 6), (6, 11)]
    pg = apply_patches(g, plan)
    pads = {n.name.split("@")[1]: tuple(n.attrs["pads"]) for n in pg.topo_order()
            if n.op == "conv2d" and n.name.startswith(stem.name + "@")}
    assert pads["p0"] == (1, 1, 0, 0)      # top-left corner: top and left padding only
    assert pads["p1"] == (1, 0, 0, 0)      # top-right: the model's right padding is never read
    assert pads["p2"] == (0, 1, 0, 0)      # middle row, left border
    assert pads["p3"] == (0, 0, 0, 0)      # interior side: no padding
    assert pads["p4"][0] == 0 and pads["p4"][1] == 1


def test_explicit_split_past_an_unpatchable_op_is_refused(net):
    _, g, _, _ = net
    fc = _node_after(g, "dense")
    with pytest.raises(UnsupportedOpError, match=r"unsupported op '(avgpool|mean)' at node .*patch stage must end before it"):
        plan_patches(g, mode=f"2x2@{fc}")
    with pytest.raises(McuforgeError, match="no node"):
        plan_patches(g, mode="2x2@nothing")
    with pytest.raises(McuforgeError, match="expected auto, off"):
        plan_patches(g, mode="2by2")
    r1 = [n for n in g.topo_order() if n.op == "conv2d"][3]      # inside the residual block
    with pytest.raises(McuforgeError, match="branch crosses the split"):
        plan_patches(g, mode=f"2x2@{r1.name}")


def test_tiles_unequal_and_even():
    assert tiles(10, 3) == [(0, 4), (4, 8), (8, 10)]
    assert tiles(12, 5) == [(0, 2), (2, 5), (5, 7), (7, 10), (10, 12)]
    with pytest.raises(McuforgeError):
        tiles(3, 4)


def test_c_with_patches_equals_golden_host_and_m4(net, tmp_path):
    m, g, calib, x = net
    split = [n for n, _ in stage_prefixes(g)[0]][-2].name      # the residual add
    lib = compile_model(g.copy(), tmp_path / "p", quiet=True, patch=f"3x2@{split}")
    info = lib.info["patches"]
    assert info["grid"] == [3, 2] and info["split"] == split and info["mac_overhead"] > 0
    assert info["arena_bytes"] == lib.info["arena_bytes"] and info["layerwise_arena_bytes"] > 0
    # one copy of each layer's constants in flash, the patch copies alias it
    weights = (lib.out_dir / f"{lib.info['prefix']}_weights.c").read_text()
    bodies = re.findall(r"\] __attribute__\(\(aligned\(4\)\)\) = \{(.*?)\};", weights, re.S)
    assert len(bodies) == len(set(bodies)) > 0
    assert "#define" in (lib.out_dir / f"{lib.info['prefix']}_weights.h").read_text()
    from mcuforge.api import to_device_inputs
    ex = Executor(g)
    want = np.stack([ex.run({g.inputs[0]: xi})[g.outputs[0]] for xi in to_device_inputs(lib.info, x)[0]])
    pref, _ = simulate(lib.out_dir, "reference", x)
    host, _ = simulate(lib.out_dir, "host", x)
    m4, _ = simulate(lib.out_dir, "mps2-an386", x)
    assert np.array_equal(want.reshape(pref.shape), pref)
    assert np.array_equal(pref, host) and np.array_equal(pref, m4)


@pytest.mark.slow
@pytest.mark.parametrize("name,patch", [("ic_resnet8_int8", "auto"), ("vww_mbv1_96_int8", "6x1@conv_2d_4"),
                                        ("kws_dscnn_int8", "auto"), ("ad_fcae_int8", "auto")])
def test_mlperf_with_patches_byte_exact_with_tflm_and_never_worse(name, patch, tmp_path):
    from mcuforge.sim.tflm import TflmModel
    from mlperf_data import model_path
    path = model_path(name)
    lib = compile_model(path, tmp_path / "p", quiet=True, patch=patch)
    p = lib.info["patches"]
    if p is not None:
        assert lib.info["arena_bytes"] < p["layerwise_arena_bytes"]
    if patch != "auto":
        assert p is not None and p["grid"] == [6, 1]
    shape = lib.info["inputs"][0]["shape"]
    x = np.random.default_rng(1).integers(-128, 128, [2] + shape).astype(np.int8)
    host, _ = simulate(lib.out_dir, "host", x)
    ref = TflmModel(path.read_bytes())
    want = np.stack([ref.run(xi[None])[0].reshape(host.shape[1:]) for xi in x])
    assert np.array_equal(host, want)
    if name == "ic_resnet8_int8":
        assert p is not None and p["mac_overhead"] <= 0.25
        m4, _ = simulate(lib.out_dir, "mps2-an386", x)
        assert np.array_equal(m4, want)


def test_auto_below_layer_wise_and_budget_trades_macs(net):
    _, g, _, _ = net
    a = plan_patches(g, mode="auto")
    assert a is not None and a.peak_bytes < a.layerwise_bytes and a.mac_overhead <= 0.25
    b = plan_patches(g, mode="auto", budget=a.layerwise_bytes - 8)
    assert b.peak_bytes <= a.layerwise_bytes - 8 and b.patched_macs <= a.patched_macs
    z = plan_patches(g, mode="auto", max_overhead=0.0)   # only a stage whose patches share no output
    assert z is None or (z.patched_macs == z.stage_macs and len(z.stage) == 1)
    assert plan_patches(g, mode="off") is None
