"""Issue 15: malformed models, extreme quantization parameters and bad run-time inputs.

One test per class the mutation campaign found: each malformed model is refused with a one-line
McuforgeError naming the node / tensor and what is wrong (never an internal error, never a library
that does not build); the two valid models that used to fail compile and agree with onnxruntime;
simulate applies one rule per input dtype; interrupted compiles leave nothing behind; two compiles
are byte-identical. The random campaign itself is tests/test_fuzz.py."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fuzz.harness import HostBuilder, check_library
from fuzz.seeds import onnx_cnn, onnx_mlp, onnx_qdq, tflite_small
from mcuforge.api import compile_model, simulate
from mcuforge.errors import McuforgeError


def _onnx(data: bytes):
    import onnx
    m = onnx.ModelProto()
    m.ParseFromString(data)
    return m


def _rng():
    return np.random.default_rng(0)


def _compile_onnx(m, tmp_path, quant="int8", calib_shape=None, side=None, name="m"):
    d = tmp_path / "model"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{name}.onnx"
    path.write_bytes(m.SerializeToString() if not isinstance(m, bytes) else m)
    for rel, blob in (side or {}).items():
        (d / rel).write_bytes(blob)
    calib = None
    if quant == "int8" and calib_shape is not None:
        calib = _rng().uniform(-1, 1, (8,) + tuple(calib_shape[1:])).astype(np.float32)
    return compile_model(path, tmp_path / "out", target="host", quant=quant, calib=calib, quiet=True)


def _refused(fn, *match):
    with pytest.raises(McuforgeError) as e:
        fn()
    msg = str(e.value)
    assert "\n" not in msg.strip()
    for m in match:
        assert m in msg, msg
    return msg


def _init(m, name):
    return next(t for t in m.graph.initializer if t.name == name)


def _set_init(m, name, arr):
    from onnx import numpy_helper
    _init(m, name).CopyFrom(numpy_helper.from_array(np.asarray(arr), name))


def _node(m, op):
    return next(n for n in m.graph.node if n.op_type == op)


def _attr(n, key, value):
    from onnx import helper
    for a in list(n.attribute):
        if a.name == key:
            n.attribute.remove(a)
    if value is not None:
        n.attribute.append(helper.make_attribute(key, value))


# -- ONNX structure --------------------------------------------------------------------------------
def _cnn():
    return _onnx(onnx_cnn(_rng()))


def _dangling(m):
    _node(m, "Relu").input[0] = "nowhere"


def _cycle(m):
    _node(m, "Conv").input[0] = "p1"


def _no_kernel(m):
    _attr(_node(m, "MaxPool"), "kernel_shape", None)


def _zero_stride(m):
    _attr(_node(m, "MaxPool"), "strides", [0, 0])


def _float_pads(m):
    _attr(_node(m, "Conv"), "pads", 1.5)


def _short_pads(m):
    _attr(_node(m, "Conv"), "pads", [1, 1])


def _kernel_vs_weights(m):
    _attr(_node(m, "Conv"), "kernel_shape", [5, 5])


def _bad_dims(m):
    _init(m, "bn_m").dims[0] = 6


def _bn_shape(m):
    _set_init(m, "bn_m", np.zeros(3, np.float32))


def _bias_shape(m):
    _set_init(m, "b2", np.zeros(3, np.float32))


def _no_outputs(m):
    del m.graph.output[:]


def _unused_input(m):
    from onnx import TensorProto, helper
    m.graph.input.append(helper.make_tensor_value_info("extra", TensorProto.FLOAT, [1, 4]))


def _dup_output(m):
    m.graph.node[0].output[0] = "p1"


def _empty_input(m):
    _node(m, "Relu").input[0] = ""


def _softmax_axis_out_of_range(m):
    _attr(_node(m, "Softmax"), "axis", 5)


def _external(loc):
    def edit(m):
        from onnx import TensorProto
        t = _init(m, "w2")
        t.ClearField("raw_data")
        t.ClearField("float_data")
        t.data_location = TensorProto.EXTERNAL
        e = t.external_data.add()
        e.key, e.value = "location", loc
    return edit


ONNX_REFUSALS = {
    "dangling input": (_dangling, ["'nowhere'", "Relu"]),
    "cycle": (_cycle, ["cycle"]),
    "missing kernel_shape": (_no_kernel, ["kernel_shape", "MaxPool", "missing"]),
    "stride 0": (_zero_stride, ["strides [0, 0]"]),
    "attribute of the wrong type": (_float_pads, ["pads", "INTS"]),
    "attribute of the wrong length": (_short_pads, ["pads [1, 1]"]),
    "kernel_shape vs weights": (_kernel_vs_weights, ["kernel_shape [5, 5]"]),
    "initializer dims vs data": (_bad_dims, ["bn_m", "dims"]),
    "BatchNorm statistics shape": (_bn_shape, ["batchnorm", "3 values for 4 channels"]),
    "Conv bias shape": (_bias_shape, ["bias", "6 output channels"]),
    "no outputs": (_no_outputs, ["no outputs"]),
    "unused input": (_unused_input, ["'extra'", "not used"]),
    "value defined twice": (_dup_output, ["'p1'", "defined twice"]),
    "empty input name": (_empty_input, ["Relu", "empty"]),
    "softmax axis out of range": (_softmax_axis_out_of_range, ["Softmax", "axis"]),
    "external data, absolute path": (_external("/etc/hostname"), ["w2", "absolute"]),
    "external data, outside the folder": (_external("../outside.bin"), ["w2", "outside"]),
    "external data, missing file": (_external("nothere.bin"), ["w2", "not found"]),
}


@pytest.mark.parametrize("case", sorted(ONNX_REFUSALS))
def test_malformed_onnx_is_refused_naming_what(case, tmp_path):
    edit, match = ONNX_REFUSALS[case]
    m = _cnn()
    edit(m)
    (tmp_path / "outside.bin").write_bytes(b"\0" * 4096)
    _refused(lambda: _compile_onnx(m, tmp_path, calib_shape=(1, 1, 8, 8)), *match)
    assert not (tmp_path / "out").exists()


def test_unsorted_nodes_are_sorted_not_refused(tmp_path):
    ref = _compile_onnx(_cnn(), tmp_path / "a", calib_shape=(1, 1, 8, 8))
    m = _cnn()
    nodes = list(m.graph.node)
    del m.graph.node[:]
    m.graph.node.extend(reversed(nodes))
    res = _compile_onnx(m, tmp_path / "b", calib_shape=(1, 1, 8, 8))
    assert [n.op for n in res.graph.topo_order()] == [n.op for n in ref.graph.topo_order()]


def test_external_data_inside_the_folder_is_read(tmp_path):
    m = _cnn()
    from onnx import numpy_helper
    raw = numpy_helper.to_array(_init(m, "w2")).tobytes()
    _external("w2.bin")(m)
    res = _compile_onnx(m, tmp_path, quant="float32", side={"w2.bin": raw})
    ref = _compile_onnx(_cnn(), tmp_path / "ref", quant="float32")
    x = _rng().standard_normal((2, 1, 8, 8)).astype(np.float32)
    a, _ = simulate(res.out_dir, "reference", x)
    b, _ = simulate(ref.out_dir, "reference", x)
    assert np.array_equal(a, b)


# -- QDQ parameters --------------------------------------------------------------------------------
QDQ_REFUSALS = {
    "scale 0": ("s_c", np.float32(0.0), ["scale 0"]),
    "negative scale": ("s_c", np.float32(-0.5), ["scale -0.5"]),
    "NaN scale": ("s_y", np.float32(np.nan), ["scale nan"]),
    "infinite scale": ("s_x", np.float32(np.inf), ["scale inf"]),
    "zero point of the wrong shape": ("z_c", np.zeros(3, np.uint8), ["3 zero points for 1 scales"]),
    "int32 zero point out of int8": ("z_c", np.int32(300), ["zero point 300"]),
    "per-channel scales vs channels": (("s_w", "z_w"), (np.full(3, 0.01, np.float32), np.zeros(3, np.int8)),
                                       ["3 scales along axis 0", "4 channels"]),
}


@pytest.mark.parametrize("case", sorted(QDQ_REFUSALS))
def test_bad_qdq_parameters_are_refused(case, tmp_path):
    name, value, match = QDQ_REFUSALS[case]
    m = _onnx(onnx_qdq(_rng()))
    for n, v in zip(name, value) if isinstance(name, tuple) else [(name, value)]:
        _set_init(m, n, v)
    _refused(lambda: _compile_onnx(m, tmp_path), *match)


def test_uint8_zero_point_255_matches_golden_and_onnxruntime(tmp_path):
    """uint8 zero points come in shifted by -128: 255 is 127 on the int8 grid, host C == golden."""
    import onnxruntime as ort
    m = _onnx(onnx_qdq(_rng()))
    _set_init(m, "z_y", np.uint8(255))
    _set_init(m, "z_c", np.uint8(255))
    res = _compile_onnx(m, tmp_path)
    outcome = check_library(res.out_dir, res.info, tmp_path, HostBuilder(tmp_path / "obj"), _rng())
    assert outcome.cls == "accepted", outcome.detail
    x = _rng().uniform(-1, 1, (16, 1, 1, 8, 8)).astype(np.float32)
    ours, _ = simulate(res.out_dir, "host", x)
    q = res.info["outputs"][0]["quant"]
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(tmp_path / "model" / "m.onnx"), opts, providers=["CPUExecutionProvider"])
    theirs = np.stack([sess.run(None, {"x": xi})[0] for xi in x])
    theirs_q = np.round(theirs / q["scale"]) + q["zero_point"]
    assert np.abs(ours.reshape(theirs_q.shape).astype(np.int64) - theirs_q).max() <= 1


# -- NaN / inf weights -----------------------------------------------------------------------------
def test_nan_weights_refused_for_int8_naming_the_tensor(tmp_path):
    m = _cnn()
    w = np.ones((6, 3), np.float32)
    w[2, 1] = np.nan
    _set_init(m, "fc_w", w)
    _refused(lambda: _compile_onnx(m, tmp_path, calib_shape=(1, 1, 8, 8)), "fc_w", "NaN or infinite")


def test_inf_weights_refused_for_float32_with_the_reason(tmp_path):
    m = _cnn()
    b = np.zeros(3, np.float32)
    b[1] = np.inf
    _set_init(m, "fc_b", b)
    _refused(lambda: _compile_onnx(m, tmp_path, quant="float32"), "fc_b", "NaN")


def test_infinite_clip_bounds_build_in_float32(tmp_path):
    """Float literals that are infinite (a Clip without max) compile: INFINITY comes from <math.h>."""
    m = _cnn()
    relu = _node(m, "Relu")
    relu.op_type = "Clip"
    _attr(relu, "min", 0.0)
    _attr(relu, "max", float("inf"))
    m.opset_import[0].version = 6
    res = _compile_onnx(m, tmp_path, quant="float32")
    outcome = check_library(res.out_dir, res.info, tmp_path, HostBuilder(tmp_path / "obj"), _rng())
    assert outcome.cls == "accepted", outcome.detail


# -- TFLite ------------------------------------------------------------------------------------------
def _tfl_edit(edit) -> bytes:
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb
    m = fb.ModelT.InitFromPackedBuf(tflite_small(np.random.default_rng(0)), 0)
    edit(m, m.subgraphs[0])
    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _tensor(sg, name):
    return next(t for t in sg.tensors if (t.name.decode() if isinstance(t.name, bytes) else t.name) == name)


def _scale(name, value):
    def edit(m, sg):
        _tensor(sg, name).quantization.scale = [value]
    return edit


def _zp(name, value):
    def edit(m, sg):
        _tensor(sg, name).quantization.zeroPoint = [value]
    return edit


def _op_input(k, value):
    def edit(m, sg):
        ins = list(sg.operators[0].inputs)
        ins[k] = value
        sg.operators[0].inputs = ins
    return edit


def _drop_quant(name):
    def edit(m, sg):
        _tensor(sg, name).quantization = None
    return edit


def _no_ops(m, sg):
    sg.operators = []


def _no_outputs_tfl(m, sg):
    sg.outputs = []


def _bias_zero_size(m, sg):
    t = _tensor(sg, "t3")
    t.shape = [0]
    m.buffers[t.buffer].data = np.zeros(0, np.uint8)


TFLITE_REFUSALS = {
    "operator input -1": (_op_input(0, -1), ["operator 0 (CONV_2D)", "input 0 refers to tensor -1"]),
    "operator input past the tensors": (_op_input(1, 99), ["tensor 99"]),
    "operator reads its own output": (_op_input(0, 4), ["operator 0"]),
    "scale 0": (_scale("t4", 0.0), ["'t4'", "scale 0"]),
    "scale NaN": (_scale("t1", float("nan")), ["'t1'", "scale nan"]),
    "scale 1e-45": (_scale("t4", 1e-45), ["'t4'", "smallest normal float32"]),
    "scale 1e30 (requantization overflow)": (_scale("t4", 1e-30), ["conv2d", "overflows int32"]),
    "zero point 255 on int8": (_zp("t4", 255), ["'t4'", "zero point 255"]),
    "int8 tensor without parameters": (_drop_quant("t4"), ["'t4'", "no quantization parameters"]),
    "no operators": (_no_ops, ["no operators"]),
    "no outputs": (_no_outputs_tfl, ["no outputs"]),
    "zero-size bias": (_bias_zero_size, ["'t3'", "shape (0,)"]),
}


@pytest.mark.parametrize("case", sorted(TFLITE_REFUSALS))
def test_malformed_tflite_is_refused_naming_what(case, tmp_path):
    edit, match = TFLITE_REFUSALS[case]
    path = tmp_path / "m.tflite"
    path.write_bytes(_tfl_edit(edit))
    _refused(lambda: compile_model(path, tmp_path / "out", target="host", quiet=True), *match)
    assert not (tmp_path / "out").exists()


# -- the two valid models of the issue -------------------------------------------------------------
def _ort_float(path, x):
    import onnxruntime as ort
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.stack([sess.run(None, {name: xi})[0] for xi in x])


def test_int8_mlp_with_softmax_axis_0_matches_onnxruntime(tmp_path):
    m = onnx_mlp(np.random.default_rng(0), softmax_axis=0)
    calib_shape = (1, 8)
    res = _compile_onnx(m, tmp_path, calib_shape=calib_shape)
    x = np.random.default_rng(1).uniform(-1, 1, (8, 1, 8)).astype(np.float32)
    ours, _ = simulate(res.out_dir, "host", x)
    q = res.info["outputs"][0]["quant"]
    real = (ours.astype(np.float64) - q["zero_point"]) * q["scale"]
    theirs = _ort_float(tmp_path / "model" / "m.onnx", x)
    assert np.abs(real.reshape(theirs.shape) - theirs).max() <= q["scale"] + 1e-9


def test_cnn_calibrated_on_constant_samples_matches_onnxruntime(tmp_path):
    d = tmp_path / "model"
    d.mkdir()
    (d / "m.onnx").write_bytes(onnx_cnn(np.random.default_rng(0)))
    calib = np.full((16, 1, 8, 8), 0.5, np.float32)
    res = compile_model(d / "m.onnx", tmp_path / "out", target="host", calib=calib, quiet=True)
    x = calib[:4, None]
    ours, _ = simulate(res.out_dir, "host", x)
    q = res.info["outputs"][0]["quant"]
    real = (ours.astype(np.float64) - q["zero_point"]) * q["scale"]
    theirs = _ort_float(d / "m.onnx", x)
    assert np.abs(real.reshape(theirs.shape) - theirs).max() <= 2 * q["scale"]


# -- simulate inputs ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_lib(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("small")
    (tmp / "m.tflite").write_bytes(tflite_small(np.random.default_rng(0)))
    return compile_model(tmp / "m.tflite", tmp / "out", target="host", quiet=True)


@pytest.mark.parametrize("dtype", ["int16", "int32", "uint8", "bool", "complex64"])
def test_simulate_refuses_other_dtypes_with_the_rule(small_lib, dtype):
    x = np.zeros((2, 1, 8, 8, 2), dtype)
    _refused(lambda: simulate(small_lib.out_dir, "reference", x), dtype, "float samples", "int8 samples")


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_simulate_quantizes_every_float_dtype_the_same(small_lib, dtype):
    x = np.random.default_rng(0).uniform(-4, 4, (2, 1, 8, 8, 2))
    a, _ = simulate(small_lib.out_dir, "reference", x.astype(np.float16).astype(dtype))
    b, _ = simulate(small_lib.out_dir, "reference", x.astype(np.float16).astype(np.float32))
    assert np.array_equal(a, b)


def test_simulate_refuses_nan_empty_and_ragged_batches(small_lib, tmp_path):
    x = np.zeros((2, 1, 8, 8, 2), np.float32)
    x[1, 0, 3, 3, 1] = np.nan
    _refused(lambda: simulate(small_lib.out_dir, "reference", x), "NaN")
    _refused(lambda: simulate(small_lib.out_dir, "reference", np.zeros((0, 1, 8, 8, 2), np.int8)), "empty")


def test_simulate_cli_names_corrupt_files_and_checks_folders_first(small_lib, tmp_path):
    from mcuforge.cli import main
    bad = tmp_path / "x.npy"
    bad.write_bytes(b"\x93NUMPY garbage")
    assert main(["simulate", str(small_lib.out_dir), "--board", "host", "--input", str(bad)]) == 1
    good = tmp_path / "g.npy"
    np.save(good, np.zeros((1, 1, 8, 8, 2), np.int8))
    build = small_lib.out_dir / "build"
    assert main(["simulate", str(small_lib.out_dir), "--board", "host", "--input", str(good),
                 "--output", str(tmp_path / "missing" / "y.npy")]) == 1
    assert not build.exists()  # refused before anything was built or run


def test_calibration_samples_checked(tmp_path):
    m = _cnn()
    d = tmp_path / "model"
    d.mkdir()
    (d / "m.onnx").write_bytes(m.SerializeToString())
    x = np.zeros((4, 1, 8, 8), np.float32)
    x[0, 0, 0, 0] = np.inf
    _refused(lambda: compile_model(d / "m.onnx", tmp_path / "o", target="host", calib=x, quiet=True), "NaN or infinite")
    bad = tmp_path / "c.npz"
    bad.write_bytes(b"PK\x03\x04 not a zip")
    _refused(lambda: compile_model(d / "m.onnx", tmp_path / "o", target="host", calib=bad, quiet=True), "c.npz")


# -- interrupted compiles, determinism ----------------------------------------------------------------
def test_stale_staging_folders_of_killed_compiles_are_removed(tmp_path):
    (tmp_path / "m.tflite").write_bytes(tflite_small(np.random.default_rng(0)))
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    stale = tmp_path / ".out.deadbeef"
    stale.mkdir()
    (stale / ".mcuforge-owner").write_text(f"{p.pid}\n")
    (stale / "half.c").write_text("/* half */")
    live = tmp_path / ".out.livelive"
    live.mkdir()
    (live / ".mcuforge-owner").write_text(f"{os.getpid()}\n")
    compile_model(tmp_path / "m.tflite", tmp_path / "out", target="host", quiet=True)
    assert not stale.exists()
    assert live.exists()  # a compile still running (this process) keeps its folder
    assert not (tmp_path / "out" / ".mcuforge-owner").exists()


def test_sigterm_during_compile_leaves_nothing(tmp_path, monkeypatch):
    from mcuforge import cli
    from mcuforge.codegen.c import emit
    (tmp_path / "m.tflite").write_bytes(tflite_small(np.random.default_rng(0)))
    real = emit.write_c_library

    def killed(*a, **k):
        real(*a, **k)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(emit, "write_c_library", killed)
    old = signal.getsignal(signal.SIGTERM)
    try:
        rc = cli.main(["compile", str(tmp_path / "m.tflite"), "-o", str(tmp_path / "out"), "--target", "host",
                       "--no-report"])
    finally:
        signal.signal(signal.SIGTERM, old)
    assert rc == 143
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]


def test_two_compiles_are_byte_identical(tmp_path):
    (tmp_path / "m.onnx").write_bytes(onnx_cnn(np.random.default_rng(0)))
    calib = np.random.default_rng(0).uniform(-1, 1, (8, 1, 8, 8)).astype(np.float32)
    for out in ("a", "b"):
        compile_model(tmp_path / "m.onnx", tmp_path / out, calib=calib, quiet=True)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b
    for f in files_a:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


@pytest.mark.parametrize("method", ["minmax", "percentile", "mse"])
@pytest.mark.parametrize("kind", ["constant", "huge"])
def test_calibration_cannot_fail_on_legal_data(kind, method, tmp_path):
    """Constant activations (every sample 0.5, a Softmax over one value) and huge but finite ranges
    give a library, with every calibration method."""
    d = tmp_path / "model"
    d.mkdir()
    (d / "m.onnx").write_bytes(onnx_cnn(np.random.default_rng(0)))
    if kind == "constant":
        calib = np.full((4, 1, 8, 8), 0.5, np.float32)
    else:
        calib = np.random.default_rng(0).uniform(-1, 1, (4, 1, 8, 8)).astype(np.float32) * 1e15
        calib[0] = 1e-20
    res = compile_model(d / "m.onnx", tmp_path / "out", target="host", calib=calib, calib_method=method, quiet=True)
    for layer in res.graph.tensors.values():
        if layer.quant is not None:
            assert np.all(np.isfinite(layer.quant.scale)) and np.all(layer.quant.scale > 0)


def test_dead_relu_output_compiles_bit_exact(tmp_path):
    """A fully connected ReLU output that the calibration data never makes positive (a dead
    neuron) gets the accumulator's own grid, not a near-zero one whose requantization multiplier
    would overflow int32 (which refused the model before): compiles, golden == host C."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    w = -np.abs(rng.standard_normal((1, 16))).astype(np.float32)       # all negative
    b = np.array([-0.5], np.float32)
    g = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["z"], transB=1), helper.make_node("Relu", ["z"], ["y"])],
        "dead", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "dead.onnx"
    onnx.save_model(m, str(path))
    calib = rng.uniform(0, 1, (8, 1, 16)).astype(np.float32)          # x >= 0: w.x + b < 0
    res = compile_model(path, tmp_path / "lib", target="host", quant="int8", calib=calib, quiet=True)
    x = calib[:4]
    y, _ = simulate(tmp_path / "lib", board="host", x=x, quiet=True)
    ref, _ = simulate(tmp_path / "lib", board="reference", x=x, quiet=True)
    assert np.array_equal(np.asarray(y), np.asarray(ref))
    assert (np.asarray(ref) == -128).all()                                # relu(negative) = 0 at zero point -128
