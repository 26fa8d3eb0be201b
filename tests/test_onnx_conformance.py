"""ONNX backend conformance (issue 2): onnx's node test cases of every supported op, compiled in
float32 and run as generated C on the host (gcc), match the expected outputs at rtol 1e-5 /
atol 1e-6; so does the golden model. Grouped and depthwise Conv come from onnx's
`pytorch-converted` Conv2d cases (there is no such node case). Gemm/MatMul run a second time with
every input variable (".dynamic"), and a dozen "test_extra_*" graphs (oracle: onnx.reference,
anchored to onnxruntime) cover what single-node cases cannot: SAME_UPPER / grouped dilated Conv,
and layout-sensitive ops (Softmax axis 1, Flatten, Concat, Pad, Transpose, broadcasting constants)
after a Conv, where the frontend tracks NHWC.

The node cases are generated offline (the onnx wheel ships their generators) into a session tmp
dir in the standard layout. Inputs that are weights / parameters (Conv W/B, Gemm B/C, BatchNorm
statistics, Reshape shape, Pad pads/value, Clip min/max, ...) become initializers holding the
case's data; activations stay graph inputs. All cases run up front in a process pool (one gcc
build each); the parametrized tests then report one case each, and test_conformance_summary
prints what is covered and what is excluded, with the reason.

Also here: models with external data (`.onnx.data`, what torch 2.x's dynamo exporter writes).
"""
from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

import onnx_cases as oc

# Cases that exercise semantics mcuforge deliberately does not support. Each must be refused by the
# compiler with a clear McuforgeError (checked in test_excluded_cases_are_refused), never compiled
# into something that computes a different function.
EXCLUDED = {
    # 1-D and 3-D pooling: the device layout is NHWC, spatial ops are 2-D.
    "test_maxpool_1d_default": "1-D pooling (spatial ops are 2-D)",
    "test_averagepool_1d_default": "1-D pooling (spatial ops are 2-D)",
    "test_maxpool_3d_default": "3-D pooling (spatial ops are 2-D)",
    "test_maxpool_3d_dilations": "3-D pooling (spatial ops are 2-D)",
    "test_maxpool_3d_dilations_use_ref_impl": "3-D pooling (spatial ops are 2-D)",
    "test_maxpool_3d_dilations_use_ref_impl_large": "3-D pooling (spatial ops are 2-D)",
    "test_averagepool_3d_default": "3-D pooling (spatial ops are 2-D)",
    "test_averagepool_3d_dilations_small": "3-D pooling (spatial ops are 2-D)",
    "test_averagepool_3d_dilations_large_count_include_pad_is_0_ceil_mode_is_False": "3-D pooling (spatial ops are 2-D)",
    "test_averagepool_3d_dilations_large_count_include_pad_is_0_ceil_mode_is_True": "3-D pooling (spatial ops are 2-D)",
    "test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_False": "3-D pooling (spatial ops are 2-D)",
    "test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_True": "3-D pooling (spatial ops are 2-D)",
    # MaxPool's second output (argmax indices, int64).
    "test_maxpool_with_argmax_2d_precomputed_pads": "MaxPool Indices output",
    "test_maxpool_with_argmax_2d_precomputed_strides": "MaxPool Indices output",
    # Training-time semantics; inference graphs only.
    "test_batchnorm_example_training_mode": "BatchNormalization training mode (batch statistics, running mean/var outputs)",
    "test_batchnorm_epsilon_training_mode": "BatchNormalization training mode (batch statistics, running mean/var outputs)",
    "test_training_dropout": "Dropout training mode (random mask)",
    "test_training_dropout_default": "Dropout training mode (random mask)",
    "test_training_dropout_mask": "Dropout training mode (random mask) and mask output",
    "test_training_dropout_default_mask": "Dropout training mode (random mask) and mask output",
    "test_training_dropout_zero_ratio_mask": "Dropout mask output (bool)",
    "test_dropout_default_mask": "Dropout mask output (bool)",
    "test_dropout_default_mask_ratio": "Dropout mask output (bool)",
    # Pad modes other than constant.
    "test_wrap_pad": "Pad mode 'wrap' (constant, edge and reflect padding)",
    # Shapes.
    "test_reshape_allowzero_reordered": "empty tensor (a zero-sized dimension, allowzero)",
    "test_slice_start_out_of_bounds": "empty tensor (a slice with no elements)",
    "test_split_zero_size_splits_opset13": "empty tensor (zero-sized split outputs)",
    "test_split_zero_size_splits_opset18": "empty tensor (zero-sized split outputs)",
}

# Cases whose stored outputs the onnx generator rounded (to 4 decimals): the oracle is
# onnx.reference's output for the same inputs (at 1e-5 / 1e-6); the stored data is checked to agree
# with it to 1e-4.
ROUNDED_DATA = {
    "test_averagepool_2d_ceil_last_window_starts_on_pad": "expected output stored rounded to 4 decimals",
}

_NODE = oc.collect_node_cases()  # generated in memory at collection; written to disk by the fixture
NODE_NAMES = [tc.name for tc in _NODE]
VARIANT_NAMES = [f"{n}.{v}" for v, ops in oc.VARIANT_OPS.items() for n in NODE_NAMES
                 if n.startswith(tuple(f"test_{op.lower()}" for op in ops))]
TORCH_NAMES = [c.name for c in oc.pytorch_conv_cases()]
EXTRA_NAMES = list(oc._extra_models(np.random.default_rng(0)))


AGGREGATE_TESTS = ("test_conformance_summary", "test_every_supported_op_is_covered")


def _selected_case_names(session) -> set | None:
    """Names of the test_case items this session runs (None = all: an aggregate test is selected)."""
    names = set()
    for item in session.items:
        if item.module is not None and item.module.__name__ != __name__:
            continue
        if getattr(item, "originalname", item.name) in AGGREGATE_TESTS:
            return None
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "name" in callspec.params:
            names.add(callspec.params["name"])
    return names


@pytest.fixture(scope="session")
def conformance(request, tmp_path_factory):
    """Every case on disk, classified, and the covered ones compiled and run (host C + golden);
    with -k selecting only some test_case items, only those are compiled."""
    root = tmp_path_factory.mktemp("onnx_backend_data")
    node = oc.generate_node_cases(root)
    extra = oc.extra_cases(root)
    cases = {c.name: c for c in node + oc.variant_cases(node) + oc.pytorch_conv_cases() + extra}
    excluded, covered = {}, []
    for name, case in cases.items():
        reason = EXCLUDED.get(name) or oc.automatic_exclusion(case)
        if reason:
            excluded[name] = reason
        else:
            covered.append(case)
    wanted = _selected_case_names(request.session)
    if wanted is not None:
        covered = [c for c in covered if c.name in wanted]
    results = oc.run_all(covered, root / "work", rounded_data=frozenset(ROUNDED_DATA))
    return {"root": root, "cases": cases, "covered": results, "excluded": excluded}


@pytest.mark.parametrize("name", NODE_NAMES + VARIANT_NAMES + TORCH_NAMES + EXTRA_NAMES)
def test_case(conformance, name):
    """A covered case matches its expected outputs; an excluded one is refused with a clear error
    (unsupported semantics are never compiled into a different function)."""
    if name in conformance["excluded"]:
        msg = oc.compile_error(conformance["cases"][name], conformance["root"] / "refused_each" / name)
        assert msg is not None, f"{name} is excluded ({conformance['excluded'][name]}) but compiles"
        return
    r = conformance["covered"][name]
    assert r.ok, f"{name}: {r.message}"


def test_extra_cases_oracle_agrees_with_onnxruntime(conformance):
    """The extra cases' expected outputs come from onnx.reference; anchor them to onnxruntime too."""
    import onnxruntime as ort
    for name in EXTRA_NAMES:
        model, inputs, expected = oc.load_case(conformance["cases"][name])
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        got = sess.run(None, {vi.name: x for vi, x in zip(oc.graph_inputs(model), inputs)})
        for g, e in zip(got, expected):
            assert oc.compare(g, e) is None, (name, oc.compare(g, e))


def test_exclusion_list_is_current(conformance):
    stale = sorted(set(EXCLUDED) - set(conformance["cases"]))
    assert not stale, f"EXCLUDED names cases that no longer exist: {stale}"


def test_excluded_cases_are_refused(conformance):
    """Unsupported semantics are refused with a clear error, not compiled into a different function."""
    accepted = []
    for name in EXCLUDED:
        msg = oc.compile_error(conformance["cases"][name], conformance["root"] / "refused" / name)
        if msg is None:
            accepted.append(name)
    assert not accepted, f"excluded cases that compile without an error: {accepted}"


def test_every_supported_op_is_covered(conformance):
    covered_ops = set()
    for name in conformance["covered"]:
        covered_ops.update(conformance["cases"][name].ops)
    missing = sorted(set(oc.SUPPORTED_OPS) - covered_ops)
    assert not missing, f"supported ops without a conformance case: {missing}"
    groups = {name: conformance["covered"][name].ok for name in conformance["covered"]
              if name.startswith(("test_Conv2d_depthwise", "test_Conv2d_groups"))}
    assert len(groups) >= 5 and all(groups.values()), groups


def test_conformance_summary(conformance, capsys):
    """Prints which cases are covered (per op, with the worst error) and which are excluded and why."""
    by_op = defaultdict(list)
    for name, r in sorted(conformance["covered"].items()):
        by_op[conformance["cases"][name].ops[0]].append(r)
    lines = ["", "ONNX conformance: float32, generated C on the host (gcc) + golden model, "
             f"rtol {oc.RTOL:g}, atol {oc.ATOL:g}"]
    n_ok = sum(r.ok for r in conformance["covered"].values())
    lines.append(f"covered: {len(conformance['covered'])} cases ({n_ok} pass), "
                 f"excluded: {len(conformance['excluded'])}")
    for op in sorted(by_op):
        rs = by_op[op]
        worst = max((r.errors.get("host", 0.0) for r in rs), default=0.0)
        lines.append(f"  {op} ({sum(r.ok for r in rs)}/{len(rs)} pass, max |err| {worst:.2g}):")
        lines.append("    " + " ".join(("" if r.ok else "FAIL:") + r.name for r in rs))
    reasons = defaultdict(list)
    for name, why in sorted(conformance["excluded"].items()):
        reasons[why].append(name)
    lines.append("excluded:")
    for why, names in sorted(reasons.items()):
        lines.append(f"  {why}: {' '.join(names)}")
    for name, why in ROUNDED_DATA.items():
        lines.append(f"  note: {name} compared with onnx.reference ({why})")
    with capsys.disabled():
        print("\n".join(lines))
    assert n_ok == len(conformance["covered"])


# -- external data --------------------------------------------------------------------------------

def _ort(path, feeds):
    import onnxruntime as ort
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def test_external_data_file(tmp_path, rng):
    """A model whose weights live in a side file (onnx.save_model(save_as_external_data=True))."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from mcuforge.api import compile_model, simulate

    w1 = rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.3
    b1 = rng.standard_normal(8).astype(np.float32) * 0.1
    w2 = rng.standard_normal((10, 8 * 4 * 4)).astype(np.float32) * 0.1
    b2 = rng.standard_normal(10).astype(np.float32) * 0.1
    inits = [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"]),
        helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], transB=1),
    ]
    graph = helper.make_graph(nodes, "ext", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "ext.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="ext.onnx.data", size_threshold=0)
    assert (tmp_path / "ext.onnx.data").is_file()
    assert path.stat().st_size < 1024 < (tmp_path / "ext.onnx.data").stat().st_size

    x = rng.standard_normal((4, 1, 3, 8, 8)).astype(np.float32)
    want = np.stack([_ort(path, {"x": xi})[0] for xi in x])
    out = tmp_path / "out"
    compile_model(path, out, target="host", quant="float32", quiet=True)
    for board in ("host", "reference"):
        y, _ = simulate(out, board, x=x, quiet=True)
        y = y.reshape(want.shape) if y.shape == (len(x),) + want.shape[2:] else y  # batch axis of 1 = N
        np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5, err_msg=board)


def test_torch_dynamo_export_external_data(tmp_path):
    """torch 2.x's default (dynamo) exporter writes the weights to `<model>.onnx.data`."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    from mcuforge.api import compile_model, simulate

    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
            self.bn = torch.nn.BatchNorm2d(4)
            self.dw = torch.nn.Conv2d(4, 4, 3, padding=1, groups=4)
            self.fc = torch.nn.Linear(4 * 4 * 4, 5)

        def forward(self, x):
            x = torch.relu(self.bn(self.conv(x)))
            x = torch.nn.functional.max_pool2d(torch.relu(self.dw(x)), 2)
            return torch.softmax(self.fc(torch.flatten(x, 1)), dim=1)

    net = Net().eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics
        net.bn.running_mean.uniform_(-0.5, 0.5)
        net.bn.running_var.uniform_(0.5, 2.0)
    path = tmp_path / "net.onnx"
    example = torch.randn(1, 1, 8, 8)
    torch.onnx.export(net, (example,), str(path), dynamo=True, external_data=True, optimize=True)
    assert (tmp_path / "net.onnx.data").is_file(), sorted(p.name for p in tmp_path.iterdir())

    x = np.random.default_rng(0).standard_normal((3, 1, 1, 8, 8)).astype(np.float32)
    import onnx
    in_name = onnx.load(str(path), load_external_data=False).graph.input[0].name
    want = np.stack([_ort(path, {in_name: xi})[0] for xi in x])
    with torch.no_grad():
        torch_y = np.stack([net(torch.from_numpy(xi)).numpy() for xi in x])
    np.testing.assert_allclose(want, torch_y, rtol=1e-4, atol=1e-6)
    out = tmp_path / "out"
    compile_model(path, out, target="host", quant="float32", quiet=True)
    for board in ("host", "reference"):
        y, _ = simulate(out, board, x=x, quiet=True)
        y = y.reshape(want.shape) if y.shape == (len(x),) + want.shape[2:] else y  # batch axis of 1 = N
        np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-6, err_msg=board)
