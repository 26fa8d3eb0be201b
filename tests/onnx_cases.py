"""ONNX backend conformance cases for mcuforge: generate the node test cases offline (the onnx wheel
ships the generators, not the data), freeze each case's parameter inputs into initializers, compile
the model to C for the host, run it and compare with the case's expected outputs.

The standard layout is written: <root>/node/<case>/model.onnx + test_data_set_0/{input,output}_N.pb,
exactly what `onnx.backend.test.cmd_tools generate-data` produces, but only for the op types we
support. The `pytorch-converted` Conv2d cases (the only grouped / depthwise convolutions in onnx's
test data) are read from the wheel where they ship.
"""
from __future__ import annotations

import importlib
import os
import sys
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# The op types of the supported list (+ Sub, Squeeze, Unsqueeze, GlobalMaxPool that exist).
SUPPORTED_OPS = (
    "Conv", "Gemm", "MatMul", "Relu", "Clip", "Sigmoid", "HardSwish", "HardSigmoid", "Add", "Mul", "Sub", "Concat",
    "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Flatten", "Reshape", "Transpose",
    "Softmax", "BatchNormalization", "Pad", "Identity", "Dropout", "Squeeze", "Unsqueeze",
    "Slice", "Split", "Gather", "Expand", "Tile", "DepthToSpace", "SpaceToDepth",
)

# Ops that the function-expanded bodies (e.g. test_depthtospace_example_expanded) use only on shapes
# and constants: the frontend folds them at compile time, so such bodies are covered cases.
SHAPE_ARITHMETIC = ("Shape", "Constant", "Div")

# onnx.backend.test.case.node modules that define the cases of those ops.
NODE_MODULES = (
    "conv", "gemm", "matmul", "relu", "clip", "sigmoid", "hardswish", "hardsigmoid", "add", "mul", "sub", "concat",
    "maxpool", "averagepool", "globalaveragepool", "globalmaxpool", "flatten", "reshape", "transpose",
    "softmax", "batch_normalization", "pad", "identity", "dropout", "squeeze", "unsqueeze",
    "slice", "split", "gather", "expand", "tile", "depthtospace", "spacetodepth",
)

# Name prefixes of the node cases per op (the filter the summary reports by).
CASE_PREFIXES = (
    "test_basic_conv", "test_conv_with", "test_gemm", "test_matmul", "test_relu", "test_clip",
    "test_sigmoid", "test_hardswish", "test_hardsigmoid", "test_add", "test_mul", "test_sub", "test_concat", "test_maxpool",
    "test_averagepool", "test_globalaveragepool", "test_globalmaxpool", "test_flatten", "test_reshape",
    "test_transpose", "test_softmax", "test_batchnorm", "test_constant_pad", "test_edge_pad",
    "test_reflect_pad", "test_wrap_pad", "test_identity", "test_dropout", "test_training_dropout",
    "test_squeeze", "test_unsqueeze",
    "test_slice", "test_split", "test_gather_", "test_expand", "test_tile", "test_depthtospace", "test_spacetodepth",
)

# pytorch-converted cases shipped in the wheel: every 2-D Conv, grouped and depthwise included.
PYTORCH_CONV_CASES = (
    "test_Conv2d", "test_Conv2d_depthwise", "test_Conv2d_depthwise_padded", "test_Conv2d_depthwise_strided",
    "test_Conv2d_depthwise_with_multiplier", "test_Conv2d_dilated", "test_Conv2d_groups",
    "test_Conv2d_groups_thnn", "test_Conv2d_no_bias", "test_Conv2d_padding", "test_Conv2d_strided",
)

# Inputs (by position) that are weights / parameters: they become initializers holding the case's
# data. Every other input stays a graph input (the activations the device receives at run time).
PARAM_INPUTS = {
    "Conv": (1, 2), "Gemm": (1, 2), "MatMul": (1,), "BatchNormalization": (1, 2, 3, 4),
    "Reshape": (1,), "Pad": (1, 2, 3), "Clip": (1, 2), "Squeeze": (1,), "Unsqueeze": (1,),
    "Dropout": (1, 2), "Slice": (1, 2, 3, 4), "Split": (1,), "Gather": (1,), "Expand": (1,), "Tile": (1,),
    "ReduceMean": (1,), "ReduceSum": (1,), "ReduceMax": (1,), "ReduceMin": (1,), "LayerNormalization": (1, 2),
}

# Variants: the same case compiled with other inputs left as graph inputs. "dynamic" keeps every
# input of Gemm / MatMul variable (activation x activation products, as in attention blocks).
VARIANTS = {"dynamic": {"Gemm": (), "MatMul": ()}}
VARIANT_OPS = {"dynamic": ("Gemm", "MatMul")}

RTOL, ATOL = 1e-5, 1e-6


@dataclass
class Case:
    name: str  # the onnx case name, plus ".<variant>" for a variant
    kind: str  # "node" or "pytorch-converted"
    path: Path
    variant: str = ""

    def param_inputs(self) -> dict:
        return {**PARAM_INPUTS, **VARIANTS.get(self.variant, {})}

    @property
    def ops(self) -> list[str]:
        import onnx
        return [n.op_type for n in onnx.load(str(self.path / "model.onnx")).graph.node]


@dataclass
class CaseResult:
    name: str
    ok: bool
    message: str = ""
    errors: dict = field(default_factory=dict)  # board -> max abs error
    seconds: float = 0.0


def pytorch_converted_dir() -> Path:
    import onnx.backend.test
    return Path(onnx.backend.test.__file__).parent / "data" / "pytorch-converted"


def collect_node_cases(modules=NODE_MODULES, prefixes=CASE_PREFIXES) -> list:
    """onnx's node TestCase objects of the supported ops (generated in memory, name-filtered)."""
    import onnx.backend.test.case.node as node_pkg

    for mod in modules:  # importing a module runs its generators (expect() collects the cases)
        importlib.import_module(f"{node_pkg.__name__}.{mod}")
    seen, cases = set(), []
    for tc in node_pkg._NodeTestCases:
        if tc.name not in seen and tc.name.startswith(prefixes):
            seen.add(tc.name)
            cases.append(tc)
    return sorted(cases, key=lambda tc: tc.name)


def generate_node_cases(root: Path, test_cases: list | None = None) -> list[Case]:
    """Write the node test cases of the supported ops (or the given TestCase objects) in the
    standard layout under root/node."""
    import onnx
    from onnx import numpy_helper

    cases = []
    for tc in collect_node_cases() if test_cases is None else test_cases:
        d = root / "node" / tc.name
        data_dir = d / "test_data_set_0"
        data_dir.mkdir(parents=True, exist_ok=True)
        (d / "model.onnx").write_bytes(tc.model.SerializeToString())
        inputs, outputs = tc.data_sets[0]
        for kind, arrays, vis in (("input", inputs, tc.model.graph.input), ("output", outputs, tc.model.graph.output)):
            for j, (arr, vi) in enumerate(zip(arrays, vis)):
                if not vi.type.HasField("tensor_type"):
                    proto = b""  # sequences / optionals: kept as empty files, such cases are excluded
                elif isinstance(arr, onnx.TensorProto):
                    proto = arr.SerializeToString()
                else:
                    proto = numpy_helper.from_array(np.asarray(arr), vi.name).SerializeToString()
                (data_dir / f"{kind}_{j}.pb").write_bytes(proto)
        cases.append(Case(tc.name, "node", d))
    return sorted(cases, key=lambda c: c.name)


def variant_cases(cases: list[Case]) -> list[Case]:
    out = []
    for variant, ops in VARIANT_OPS.items():
        out += [Case(f"{c.name}.{variant}", c.kind, c.path, variant) for c in cases
                if c.name.startswith(tuple(f"test_{op.lower()}" for op in ops))]
    return out


def pytorch_conv_cases() -> list[Case]:
    base = pytorch_converted_dir()
    return [Case(n, "pytorch-converted", base / n) for n in PYTORCH_CONV_CASES if (base / n).is_dir()]


def load_case(case: Case):
    """(model, inputs, expected outputs) of a case's test_data_set_0."""
    import onnx
    from onnx import numpy_helper
    model = onnx.load(str(case.path / "model.onnx"))
    data = case.path / "test_data_set_0"

    def read(kind):
        arrays = []
        j = 0
        while (data / f"{kind}_{j}.pb").is_file():
            t = onnx.TensorProto()
            t.ParseFromString((data / f"{kind}_{j}.pb").read_bytes())
            arrays.append(numpy_helper.to_array(t))
            j += 1
        return arrays
    return model, read("input"), read("output")


def graph_inputs(model) -> list:
    init = {i.name for i in model.graph.initializer}
    return [vi for vi in model.graph.input if vi.name not in init]


def automatic_exclusion(case: Case) -> str | None:
    """Reasons that follow from the case itself (rather than from the explicit list)."""
    import onnx
    model = onnx.load(str(case.path / "model.onnx"))
    ops = [n.op_type for n in model.graph.node]
    unsupported = sorted({o for o in ops if o not in SUPPORTED_OPS + SHAPE_ARITHMETIC})
    if unsupported:
        return f"function-expanded body uses ops outside the supported list ({', '.join(unsupported)})"
    for vi in list(graph_inputs(model)) + list(model.graph.output):
        if not vi.type.HasField("tensor_type"):
            return "sequence/optional values (tensor-only compiler)"
        if vi.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
            name = onnx.helper.tensor_dtype_to_string(vi.type.tensor_type.elem_type)
            params = set()
            for n in model.graph.node:
                params |= {n.input[i] for i in PARAM_INPUTS.get(n.op_type, ()) if i < len(n.input)}
            if vi.name not in params:
                return f"non-float32 tensor {vi.name} ({name}); float32 is the float mode"
    return None


def freeze_params(model, inputs: list[np.ndarray], param_inputs: dict | None = None):
    """Turn parameter inputs into initializers with the case's data. Returns (model, data inputs)."""
    import onnx
    from onnx import numpy_helper
    param_inputs = PARAM_INPUTS if param_inputs is None else param_inputs
    model = onnx.ModelProto.FromString(model.SerializeToString())
    g = model.graph
    ins = graph_inputs(model)
    values = dict(zip([vi.name for vi in ins], inputs))
    params = set()
    for n in g.node:
        params |= {n.input[i] for i in param_inputs.get(n.op_type, ()) if i < len(n.input) and n.input[i]}
    keep, data = [], []
    for vi in list(g.input):
        if vi.name in params and vi.name in values:
            g.initializer.append(numpy_helper.from_array(np.asarray(values[vi.name]), vi.name))
        elif vi.name in values:
            keep.append(vi)
            data.append(values[vi.name])
        else:
            keep.append(vi)  # an input that already has an initializer (pytorch-converted)
    del g.input[:]
    g.input.extend(keep)
    return model, data


def compare(got, want, rtol=RTOL, atol=ATOL) -> str | None:
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        return f"shape {got.shape} != expected {want.shape}"
    if not np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
        err = np.abs(got.astype(np.float64) - want)
        i = np.unravel_index(np.argmax(err - rtol * np.abs(want)), err.shape)
        return f"max abs error {err.max():.3g} (at {tuple(int(k) for k in i)}: got {got[i]!r}, want {want[i]!r})"
    return None


@contextmanager
def no_matplotlib():
    """The compile report's arena plot costs ~0.7 s per model; the report skips it without
    matplotlib, which is what a conformance run of hundreds of tiny models wants."""
    saved = {k: v for k, v in sys.modules.items() if k == "matplotlib" or k.startswith("matplotlib.")}
    sys.modules["matplotlib"] = None
    try:
        yield
    finally:
        del sys.modules["matplotlib"]
        sys.modules.update(saved)


def onnx_reference_outputs(model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    from onnx.reference import ReferenceEvaluator
    names = [vi.name for vi in graph_inputs(model)]
    return ReferenceEvaluator(model).run(None, dict(zip(names, inputs)))


def unbatch(y: np.ndarray, shape: tuple) -> np.ndarray:
    """One sample of simulate()'s (N, ...) output: N is a new axis, or the model's own leading 1."""
    if y.shape == (1,) + tuple(shape):
        return y[0]
    if len(shape) > 1 and shape[0] == 1 and y.shape == tuple(shape):
        return y  # a model batch axis of 1 serves as the N axis
    return y  # compare() reports the shape mismatch


def run_case(case: Case, work: Path, rounded_data: bool = False) -> CaseResult:
    """Compile (float32, host) and run on the host and on the golden model; compare with the data.

    rounded_data: the case's stored outputs were rounded by its generator; compare at RTOL/ATOL with
    onnx.reference's outputs for the same inputs instead, and with the stored data at 1e-4."""
    import onnx
    from mcuforge.api import compile_model, simulate
    t0 = time.time()
    try:
        model, inputs, expected = load_case(case)
        problems = []
        if rounded_data:
            oracle = onnx_reference_outputs(model, inputs)
            for k, (r, want) in enumerate(zip(oracle, expected)):
                msg = compare(r, want, rtol=0, atol=1e-4)
                if msg:
                    problems.append(f"onnx.reference vs stored output {k}: {msg}")
            expected = [np.asarray(r) for r in oracle]
        model, data = freeze_params(model, inputs, case.param_inputs())
        work.mkdir(parents=True, exist_ok=True)
        path = work / "model.onnx"
        onnx.save_model(model, str(path))
        out = work / "out"
        with no_matplotlib():
            compile_model(path, out, target="host", quant="float32", quiet=True)
        errors = {}
        for board in ("host", "reference"):
            ys, _ = simulate(out, board, x=[np.asarray(a)[None] for a in data], quiet=True)
            ys = ys if isinstance(ys, list) else [ys]
            if len(ys) != len(expected):
                problems.append(f"{board}: {len(ys)} outputs, expected {len(expected)}")
                continue
            worst = 0.0
            for k, (y, want) in enumerate(zip(ys, expected)):
                y = unbatch(np.asarray(y), want.shape)
                msg = compare(y, want)
                if msg:
                    problems.append(f"{board} output {k}: {msg}")
                elif want.size:
                    worst = max(worst, float(np.max(np.abs(y - want))))
            errors[board] = worst
        return CaseResult(case.name, not problems, "; ".join(problems), errors, time.time() - t0)
    except Exception as e:  # noqa: BLE001 - reported per case
        tb = traceback.format_exception_only(type(e), e)[-1].strip()
        return CaseResult(case.name, False, tb, {}, time.time() - t0)


def run_all(cases: list[Case], work: Path, workers: int | None = None,
            rounded_data: frozenset = frozenset()) -> dict[str, CaseResult]:
    """Run cases in parallel worker processes (compilation is Python, the build is gcc). Workers
    are spawned, not forked: the pytest process may hold onnxruntime / torch thread pools."""
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing as mp
    workers = workers or max(1, min(len(os.sched_getaffinity(0)), 4))
    if workers == 1 or len(cases) < 8:
        return {c.name: run_case(c, work / c.name, c.name in rounded_data) for c in cases}
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        futs = {c.name: pool.submit(run_case, c, work / c.name, c.name in rounded_data) for c in cases}
        return {name: f.result() for name, f in futs.items()}


def compile_error(case: Case, work: Path) -> str | None:
    """The McuforgeError an excluded case is refused with (None if it compiles)."""
    import onnx
    from mcuforge.api import compile_model
    from mcuforge.errors import McuforgeError
    try:
        model, inputs, _ = load_case(case)
        model, _ = freeze_params(model, inputs)
    except (TypeError, ValueError):  # sequence / optional test data that numpy cannot hold
        model = onnx.load(str(case.path / "model.onnx"))
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"{case.name}.onnx"
    onnx.save_model(model, str(path))
    try:
        with no_matplotlib():
            compile_model(path, work / "out", target="host", quant="float32", quiet=True)
    except McuforgeError as e:
        return str(e)
    return None


# -- extra cases: features and layout interactions the node cases do not reach -------------------
# Built here, expected outputs from onnx.reference (an outside oracle), written in the same layout.
# Single-node cases never exercise the frontend's NCHW->NHWC tracking (a graph input read by a
# non-spatial op stays in ONNX order), so several of these put a layout-sensitive op after a Conv.

def _extra_models(rng) -> dict:
    from onnx import TensorProto, helper, numpy_helper

    def w(*shape, scale=0.5):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def model(name, nodes, x_shapes, inits, opset=17):
        ins = [helper.make_tensor_value_info(f"x{i}" if len(x_shapes) > 1 else "x", TensorProto.FLOAT, s)
               for i, s in enumerate(x_shapes)]
        outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
        g = helper.make_graph(nodes, name, ins, outs,
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])

    n = helper.make_node
    m = {}
    m["test_extra_conv_same_upper_strided"] = model("a", [
        n("Conv", ["x", "W", "B"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2])],
        [[1, 3, 7, 8]], {"W": w(4, 3, 3, 3), "B": w(4)})
    m["test_extra_conv_group_dilated_asym_pads"] = model("b", [
        n("Conv", ["x", "W", "B"], ["y"], group=2, dilations=[2, 1], pads=[1, 0, 2, 1], strides=[1, 2])],
        [[1, 4, 9, 9]], {"W": w(6, 2, 3, 3), "B": w(6)})
    m["test_extra_conv_depthwise_same_lower"] = model("c", [
        n("Conv", ["x", "W"], ["y"], group=3, auto_pad="SAME_LOWER", strides=[2, 2])],
        [[1, 3, 6, 6]], {"W": w(3, 1, 3, 3)})
    m["test_extra_avgpool_ceil_count_include_pad"] = model("d", [
        n("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
          ceil_mode=1, count_include_pad=1)], [[1, 2, 6, 7]], {})
    m["test_extra_maxpool_dilated_ceil_pads"] = model("e", [
        n("MaxPool", ["x"], ["y"], kernel_shape=[2, 3], strides=[2, 2], pads=[0, 1, 1, 0],
          dilations=[2, 1], ceil_mode=1)], [[1, 2, 7, 8]], {})
    m["test_extra_conv_softmax_axis1"] = model("f", [
        n("Conv", ["x", "W"], ["c"]), n("Softmax", ["c"], ["y"], axis=1)],
        [[1, 2, 4, 5]], {"W": w(3, 2, 1, 1)}, opset=13)
    m["test_extra_conv_flatten_gemm"] = model("g", [
        n("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1]), n("Relu", ["c"], ["r"]),
        n("Flatten", ["r"], ["f"]), n("Gemm", ["f", "G", "C"], ["y"], transB=1, alpha=0.5, beta=2.0)],
        [[1, 2, 4, 4]], {"W": w(3, 2, 3, 3), "B": w(3), "G": w(5, 48, scale=0.2), "C": w(5)})
    m["test_extra_conv_concat_bn_pad_pool"] = model("h", [
        n("Conv", ["x", "W"], ["c"]), n("Concat", ["c", "x"], ["k"], axis=1),
        n("BatchNormalization", ["k", "s", "b", "mu", "var"], ["bn"], epsilon=1e-3),
        n("Pad", ["bn", "pads", "v"], ["p"]),
        n("MaxPool", ["p"], ["y"], kernel_shape=[2, 2], strides=[2, 2])],
        [[1, 2, 5, 6]], {"W": w(3, 2, 1, 1), "s": w(5), "b": w(5), "mu": w(5),
                         "var": np.abs(w(5)) + 0.5, "pads": np.array([0, 0, 1, 0, 0, 0, 0, 1], np.int64),
                         "v": np.array(-0.25, np.float32)})
    m["test_extra_conv_add_mul_broadcast_const"] = model("i", [
        n("Conv", ["x", "W"], ["c"]), n("Add", ["c", "A"], ["a"]), n("Mul", ["M", "a"], ["mm"]),
        n("Sub", ["mm", "S"], ["y"])],
        [[1, 2, 3, 4]], {"W": w(3, 2, 1, 1), "A": w(3, 1, 1), "M": w(1, 3, 1, 4), "S": w(4)})
    m["test_extra_conv_transpose_reshape"] = model("j", [
        n("Conv", ["x", "W"], ["c"]), n("Transpose", ["c"], ["t"], perm=[0, 2, 3, 1]),
        n("Reshape", ["t", "shape"], ["y"])],
        [[1, 2, 3, 4]], {"W": w(3, 2, 1, 1), "shape": np.array([1, -1, 3], np.int64)})
    m["test_extra_gap_squeeze_hardswish_clip"] = model("k", [
        n("Conv", ["x", "W"], ["c"]), n("HardSwish", ["c"], ["h"]), n("GlobalAveragePool", ["h"], ["g"]),
        n("Squeeze", ["g", "axes"], ["s"]), n("Clip", ["s", "lo"], ["cl"]), n("Sigmoid", ["cl"], ["y"])],
        [[1, 2, 5, 5]], {"W": w(4, 2, 3, 3), "axes": np.array([2, 3], np.int64), "lo": np.array(-0.1, np.float32)})
    m["test_extra_two_inputs_add_concat"] = model("l", [
        n("Conv", ["x0", "W"], ["c"]), n("Add", ["c", "x1"], ["a"]), n("Concat", ["a", "x1"], ["y"], axis=1)],
        [[1, 2, 3, 3], [1, 3, 3, 3]], {"W": w(3, 2, 1, 1)})
    return m


def extra_cases(root: Path, seed: int = 7) -> list[Case]:
    from onnx import numpy_helper
    rng = np.random.default_rng(seed)
    cases = []
    for name, model in _extra_models(rng).items():
        d = root / "extra" / name
        (d / "test_data_set_0").mkdir(parents=True, exist_ok=True)
        (d / "model.onnx").write_bytes(model.SerializeToString())
        xs = [rng.standard_normal([dim.dim_value for dim in vi.type.tensor_type.shape.dim]).astype(np.float32)
              for vi in graph_inputs(model)]
        ys = onnx_reference_outputs(model, xs)
        for kind, arrays in (("input", xs), ("output", ys)):
            for j, arr in enumerate(arrays):
                (d / "test_data_set_0" / f"{kind}_{j}.pb").write_bytes(
                    numpy_helper.from_array(np.asarray(arr)).SerializeToString())
        cases.append(Case(name, "extra", d))
    return cases
