"""QuantMCU on the patch stage (schedule/quantmcu.py, ir/ops/quantmcu.py): per-patch run-time
outlier check (VDPC), low-bit (4 / 2-bit) activations chosen by VDQS, both kernel paths in the C;
golden model == host C (== QEMU Cortex-M4, slow) with both paths taken; an all-outlier input
runs exactly the 8-bit patches (== the layer-wise int8 model); the low path's values lie on
their narrow grids."""
import json

import numpy as np
import pytest

from mcuforge.api import compile_model, prepare_graph, simulate, to_device_inputs
from mcuforge.errors import McuforgeError
from mcuforge.ir.ops.quantmcu import qrange
from mcuforge.reference.executor import Executor
from mcuforge.schedule.patches import apply_patches, plan_patches
from mcuforge.schedule.quantmcu import QuantMCUOptions, apply_quantmcu, calibrate_quantmcu, quantize_input
from patch_graphs import Builder

H = W = 20


def _graph():
    b = Builder(H, W, 3, seed=1, name="qm")
    b.conv(8, 3, 1, (1, 1, 1, 1), relu=True)
    a = b.conv(8, 3, 2, (1, 1, 1, 1), relu=True)
    b.conv(8, 3, 1, (1, 1, 1, 1), groups=8, relu=True)
    c = b.conv(8, 1, relu=True)
    b.binary("add", a, c)
    b.pool("maxpool", 2, 2)
    b.unary("relu")
    return b.finish()


@pytest.fixture(scope="module")
def tiny():
    rng = np.random.default_rng(0)
    calib = rng.uniform(-1, 1, (32, 1, H, W, 3)).astype(np.float32)
    g, _ = prepare_graph(_graph(), calib=calib, quiet=True)
    split = [n.name for n in g.topo_order()][-2]          # the residual add
    # crafted inputs: quiet images (no patch holds an outlier), an image that drives the first
    # conv's channel 0 to its largest output in every 3x3 cell (every patch holds one), and that
    # pattern in the top-left quadrant of a quiet image (outliers in one patch only)
    x = 0.05 * rng.uniform(-1, 1, (4, 1, H, W, 3)).astype(np.float32)
    w0 = np.sign(g.tensors[g.topo_order()[0].inputs[1]].data[0].astype(np.float32))     # (3, 3, 3)
    loud = np.tile(w0, (H // 3 + 2, W // 3 + 2, 1))[2:H + 2, 2:W + 2]                      # aligned to pad 1
    x[2] = loud
    x[3, 0, :H // 2 - 4, :W // 2 - 4] = loud[:H // 2 - 4, :W // 2 - 4]
    return g, calib, split, x


def _plan(g, calib, split, **kw):
    plan = plan_patches(g, mode=f"2x2@{split}")
    xs = [quantize_input(g, c) for c in calib]
    return plan, calibrate_quantmcu(g, plan, xs, QuantMCUOptions(**kw))


def test_golden_both_paths_low_grids_and_bitops(tiny):
    g, calib, split, x = tiny
    plan, qp = _plan(g, calib, split, outlier_fraction=0.25, target=0.5)
    assert min(qp.widths.values()) < 8 and set(qp.widths.values()) <= {8, 4, 2}
    b8 = qp.bitops(np.ones(4))[0]
    assert qp.bitops()[0] < b8 and qp.bitops()[1] == b8
    # VDQS stops at the target, or when every map a convolution reads is at the lowest width
    assert qp.expected_bitops() <= 0.5 * b8 or all(qp.widths[m] == 2 for m in qp.inputs.values() if m in qp.widths)
    ratios = [s["expected_ratio"] for s in qp.steps]
    assert ratios == sorted(ratios, reverse=True) and ratios[-1] < 1
    G = apply_quantmcu(apply_patches(g, plan), qp)
    ex, ex8 = Executor(G), Executor(g)
    per_image = []
    for xi in x:
        xq = quantize_input(g, xi[0])[None]
        env = ex.run({g.inputs[0]: xq}, keep_all=True)
        want = ex8.run({g.inputs[0]: xq})[g.outputs[0]]
        flags = {n.inputs[0]: int(env[n.outputs[1]][0]) for n in G.topo_order() if n.op == "qm_check"}
        per_image.append([flags[k] for k in sorted(flags)])
        for n in G.topo_order():
            if n.op != "qm_dual" or env[n.inputs[n.attrs["n_in"]]][0]:
                continue
            out = n.outputs[0]
            if out in n.attrs["low_q"]:      # the low path's output on its narrow grid
                lo, hi = qrange(n.attrs["low_q"][out][2])
                assert env[out].min() >= lo and env[out].max() <= hi
        if all(flags.values()):              # every patch at 8 bits: the layer-wise int8 bytes
            assert np.array_equal(env[G.outputs[0]], want)
    # quiet images: every patch low-bit; the loud one: every patch 8-bit; the mixed one: both
    assert per_image[0] == per_image[1] == [0] * 4 and per_image[2] == [1] * 4
    assert 0 < sum(per_image[3]) < 4


def test_c_equals_golden_both_paths_and_report(tiny, tmp_path):
    g, calib, split, x = tiny
    lib = compile_model(g.copy(), tmp_path / "q", quiet=True, patch=f"2x2@{split}", calib=calib,
                        quantmcu=QuantMCUOptions(outlier_fraction=0.25))
    info = json.loads((lib.out_dir / "model.json").read_text())["quantmcu"]
    assert len(info["thresholds"]) == 4 and min(info["widths"].values()) < 8
    assert info["bitops_low_path"] < info["bitops_8bit"]
    assert "QuantMCU on the patch stage" in (lib.out_dir / "report.md").read_text()
    src = (lib.out_dir / f"{lib.info['prefix']}.c").read_text()
    assert src.count("mcf_qm_check_s8(&") == 4 and "} else {" in src
    G = lib.graph
    ex = Executor(G)
    flags = []
    want = []
    for xi in to_device_inputs(lib.info, x)[0]:
        env = ex.run({G.inputs[0]: xi[None] if xi.ndim == 3 else xi}, keep_all=True)
        flags += [int(env[n.outputs[1]][0]) for n in G.topo_order() if n.op == "qm_check"]
        want.append(env[G.outputs[0]])
    assert set(flags) == {0, 1}
    pref, _ = simulate(lib.out_dir, "reference", x)
    host, _ = simulate(lib.out_dir, "host", x)
    assert np.array_equal(np.stack(want).reshape(pref.shape), pref)
    assert np.array_equal(pref, host)


def test_cli_flag_off_by_default():
    from mcuforge.cli import _quantmcu_options, build_parser
    base = ["compile", "m.onnx", "-o", "out"]
    assert _quantmcu_options(build_parser().parse_args(base)) is None
    opt = _quantmcu_options(build_parser().parse_args(base + ["--quantmcu", "--quantmcu-target", "0.4"]))
    assert isinstance(opt, QuantMCUOptions) and opt.target == 0.4


def test_quantmcu_needs_patches_and_calibration(tiny, tmp_path):
    g, calib, split, _ = tiny
    with pytest.raises(McuforgeError, match="needs patches"):
        compile_model(g.copy(), tmp_path / "a", quiet=True, patch="off", calib=calib, quantmcu=True)
    with pytest.raises(McuforgeError, match="calibration"):
        compile_model(g.copy(), tmp_path / "b", quiet=True, patch=f"2x2@{split}", quantmcu=True)


@pytest.mark.slow
def test_qemu_m4_equals_golden(tiny, tmp_path):
    g, calib, split, x = tiny
    lib = compile_model(g.copy(), tmp_path / "q", quiet=True, patch=f"2x2@{split}", calib=calib,
                        quantmcu=QuantMCUOptions(outlier_fraction=0.25))
    pref, _ = simulate(lib.out_dir, "reference", x)
    m4, _ = simulate(lib.out_dir, "mps2-an386", x)
    assert np.array_equal(pref, m4)
