"""The .tflite frontend against the outside oracle, TFLite Micro's host interpreter (PyPI
tflite-micro): the golden model (Executor) of an imported int8 model must equal the interpreter's
output byte for byte, on the four MLPerf Tiny models and on small synthetic models that exercise
every supported operator. Float models must agree to float rounding. Bad files give one-line
McuforgeErrors."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.errors import McuforgeError, UnsupportedOpError
from mcuforge.frontend.tflite import load_tflite, load_tflite_bytes
from mcuforge.ir.graph import Node
from mcuforge.ir.ops.base import act_range_int8
from mcuforge.ir.tensor import QuantParams
from mcuforge.reference.executor import Executor
from mcuforge.sim.tflm import TflmModel

from mlperf_data import FLOAT_MODELS, INT8_MODELS, model_path
from tflite_builder import (OP, ModelBuilder, add_opts, concat_opts, conv_opts, fc_opts, mul_opts,
                            pool_opts, reducer_opts, softmax_opts, unary_model)


def int8_inputs(shape, n, seed=0):
    """n random int8 tensors, then the two extremes (every value -128, every value 127)."""
    rng = np.random.default_rng(seed)
    xs = [rng.integers(-128, 128, shape).astype(np.int8) for _ in range(n)]
    return xs + [np.full(shape, -128, np.int8), np.full(shape, 127, np.int8)]


def assert_parity(buf: bytes, feeds: list[tuple], name="model"):
    """Every feed (a tuple, one array per graph input) gives identical bytes in both."""
    g = load_tflite_bytes(buf, name)
    ex, ref = Executor(g), TflmModel(buf)
    outs = []
    for k, xs in enumerate(feeds):
        ours = ex.run(dict(zip(g.inputs, xs)))[g.outputs[0]]
        theirs = ref.run(*xs)[0]
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        if not np.array_equal(ours, theirs):
            diff = np.abs(ours.astype(np.int64) - theirs.astype(np.int64))
            pytest.fail(f"{name}: input {k}: {int((diff > 0).sum())} of {diff.size} values differ "
                        f"(max {int(diff.max())})")
        outs.append(ours)
    return g, outs


# -- MLPerf Tiny int8 models ---------------------------------------------------------------------
def _mlperf_parity(name, n):
    path = model_path(name)
    buf = path.read_bytes()
    g = load_tflite(path)
    assert g.meta["quant"] == "int8"
    x = g.tensors[g.inputs[0]]
    _, outs = assert_parity(buf, [(x,) for x in int8_inputs(x.shape, n)], name)
    # the comparison means something only if the model reacts to its input
    assert len({o.tobytes() for o in outs}) > 1


@pytest.mark.parametrize("name", INT8_MODELS)
def test_mlperf_int8_bit_exact(name):
    _mlperf_parity(name, 10)


@pytest.mark.slow
@pytest.mark.parametrize("name", INT8_MODELS)
def test_mlperf_int8_bit_exact_50_inputs(name):
    _mlperf_parity(name, 50)


def test_mlperf_import_keeps_quantization():
    """Per-channel weight scales, zero points and int32 biases arrive unchanged."""
    g = load_tflite(model_path("vww_mbv1_96_int8"))
    convs = [n for n in g.topo_order() if n.op == "conv2d"]
    depthwise = [n for n in convs if n.attrs["groups"] > 1]
    assert len(convs) == 27 and len(depthwise) == 13
    dw = depthwise[0]
    w = g.tensors[dw.inputs[1]]
    assert w.dtype == "int8" and w.shape[-1] == 1 and w.quant.axis == 0
    assert w.quant.scale.size == w.shape[0] > 1
    assert g.tensors[dw.inputs[2]].dtype == "int32"
    assert g.tensors[g.inputs[0]].quant.zp == -128


@pytest.mark.parametrize("name", FLOAT_MODELS)
def test_mlperf_float_matches_tflm(name):
    path = model_path(name)
    g = load_tflite(path)
    assert g.meta["quant"] == "float32"
    ex, ref = Executor(g), TflmModel(path.read_bytes())
    rng = np.random.default_rng(1)
    for _ in range(2):
        x = rng.uniform(0, 1, g.tensors[g.inputs[0]].shape).astype(np.float32)
        ours, theirs = ex.run({g.inputs[0]: x})[g.outputs[0]], ref.run(x)[0]
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * np.abs(theirs).max())


# -- elementwise ops with TFLM-specific integer algorithms: all 256 inputs -----------------------
ALL_INT8 = [(np.arange(-128, 128, dtype=np.int8).reshape(1, 256),)]


@pytest.mark.parametrize("scale,zp", [(0.01, 3), (0.07, -5), (0.5, 0), (2.0, 100), (0.12, -128)])
def test_logistic_exhaustive(scale, zp):
    g, (y,) = assert_parity(unary_model(OP.LOGISTIC, scale, zp, 1 / 256, -128), ALL_INT8)
    assert g.nodes[next(iter(g.nodes))].attrs["int_algo"] == "tflm"


@pytest.mark.parametrize("s_in,z_in,s_out,z_out", [(0.05, 3, 0.04, -20), (0.1, -5, 0.06, -50),
                                                   (0.02, 0, 0.2, 10), (0.3, 100, 0.01, -128)])
def test_hard_swish_exhaustive(s_in, z_in, s_out, z_out):
    assert_parity(unary_model(OP.HARD_SWISH, s_in, z_in, s_out, z_out), ALL_INT8)


def test_tflm_algorithms_differ_from_float_tables():
    """Why int_algo exists: dequantize-f-requantize gives other bytes for these ops (for LOGISTIC
    rarely: gemmlowp's fixed point is accurate, but at scale 2.0 one of 256 values differs)."""
    for code, q in [(OP.LOGISTIC, (2.0, 100, 1 / 256, -128)), (OP.HARD_SWISH, (0.05, 3, 0.04, -20))]:
        g = load_tflite_bytes(unary_model(code, *q))
        node = next(iter(g.nodes.values()))
        tflm = Executor(g).run({g.inputs[0]: ALL_INT8[0][0]})[g.outputs[0]]
        node.attrs["int_algo"] = "float"
        plain = Executor(g).run({g.inputs[0]: ALL_INT8[0][0]})[g.outputs[0]]
        assert not np.array_equal(tflm, plain)


# -- the other operators -------------------------------------------------------------------------
def _mean_model(axes, keep, same_quant):
    shape = (1, 5, 7, 8)
    b = ModelBuilder()
    x = b.tensor(shape, scale=0.05, zp=3)
    out = [1 if i in axes else d for i, d in enumerate(shape)] if keep else \
        [d for i, d in enumerate(shape) if i not in axes]
    y = b.tensor(out, scale=0.05 if same_quant else 0.021, zp=3 if same_quant else -7)
    a = b.tensor((len(axes),), dtype="int32", data=np.array(axes))
    b.op(OP.MEAN, [x, a], [y], **reducer_opts(keep))
    return b.build([x], [y]), shape


@pytest.mark.parametrize("axes,keep,same", [([1, 2], True, True), ([1, 2], True, False),
                                            ([2], False, False), ([1], False, True)])
def test_mean(axes, keep, same):
    buf, shape = _mean_model(axes, keep, same)
    assert_parity(buf, [(x,) for x in int8_inputs(shape, 6)])


def test_concatenation_and_mixed_grid_error():
    def model(z2):
        b = ModelBuilder()
        x1, x2 = b.tensor((1, 4, 4, 3), scale=0.05, zp=3), b.tensor((1, 4, 4, 5), scale=0.05, zp=z2)
        y = b.tensor((1, 4, 4, 8), scale=0.05, zp=3)
        b.op(OP.CONCATENATION, [x1, x2], [y], **concat_opts(-1))
        return b.build([x1, x2], [y])
    feeds = list(zip(int8_inputs((1, 4, 4, 3), 4, 1), int8_inputs((1, 4, 4, 5), 4, 2)))
    assert_parity(model(3), feeds)
    with pytest.raises(McuforgeError, match="operator 0 .CONCATENATION.*quantized differently"):
        load_tflite_bytes(model(-9))


def test_pad():
    b = ModelBuilder()
    x = b.tensor((1, 4, 5, 3), scale=0.05, zp=-17)
    p = b.tensor((4, 2), dtype="int32", data=np.array([[0, 0], [1, 2], [2, 1], [0, 0]]))
    y = b.tensor((1, 7, 8, 3), scale=0.05, zp=-17)
    b.op(OP.PAD, [x, p], [y])
    assert_parity(b.build([x], [y]), [(x,) for x in int8_inputs((1, 4, 5, 3), 4)])


@pytest.mark.parametrize("act", [None, "relu", "relu6"])
def test_mul_broadcast_constant_and_add(act):
    rng = np.random.default_rng(3)
    b = ModelBuilder()
    x = b.tensor((1, 4, 4, 8), scale=0.05, zp=-17)
    c = b.tensor((1, 1, 1, 8), scale=0.02, zp=5, data=rng.integers(-128, 128, (1, 1, 1, 8)))
    m = b.tensor((1, 4, 4, 8), scale=0.013, zp=-100)
    x2 = b.tensor((1, 4, 4, 8), scale=0.07, zp=11)
    y = b.tensor((1, 4, 4, 8), scale=0.08, zp=-30)
    b.op(OP.MUL, [x, c], [m], **mul_opts(act))
    b.op(OP.ADD, [m, x2], [y], **add_opts(act))
    feeds = list(zip(int8_inputs((1, 4, 4, 8), 4, 1), int8_inputs((1, 4, 4, 8), 4, 2)))
    assert_parity(b.build([x, x2], [y]), feeds)


def test_quantize_requantize_dequantize():
    b = ModelBuilder()
    x = b.tensor((1, 64), dtype="float32")
    q, q2 = b.tensor((1, 64), scale=0.031, zp=7), b.tensor((1, 64), scale=0.07, zp=-20)
    d = b.tensor((1, 64), dtype="float32")
    b.op(OP.QUANTIZE, [x], [q])
    b.op(OP.QUANTIZE, [q], [q2])
    b.op(OP.DEQUANTIZE, [q2], [d])
    rng = np.random.default_rng(4)
    # exact halves of the first grid test the rounding direction
    feeds = [(rng.normal(0, 3, (1, 64)).astype(np.float32),) for _ in range(4)]
    feeds.append(((np.arange(64, dtype=np.float32).reshape(1, 64) - 32) * np.float32(0.0155),))
    g, _ = assert_parity(b.build([x], [d]), feeds)
    assert [n.op for n in g.topo_order()] == ["quantize", "requantize", "dequantize"]


@pytest.mark.parametrize("code", [OP.MAX_POOL_2D, OP.AVERAGE_POOL_2D])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_pooling(code, padding):
    b = ModelBuilder()
    x = b.tensor((1, 7, 9, 4), scale=0.05, zp=-17)
    y = b.tensor((1, 4, 5, 4) if padding == "SAME" else (1, 3, 4, 4), scale=0.05, zp=-17)
    b.op(code, [x], [y], **pool_opts((3, 3), (2, 2), padding, "relu6"))
    assert_parity(b.build([x], [y]), [(x,) for x in int8_inputs((1, 7, 9, 4), 4)])


@pytest.mark.parametrize("padding,stride,dilation,act", [("SAME", (2, 2), (1, 1), "relu6"),
                                                         ("SAME", (1, 1), (2, 2), "relu"),
                                                         ("VALID", (2, 1), (1, 1), None)])
@pytest.mark.parametrize("depthwise", [False, True])
def test_conv_and_depthwise(padding, stride, dilation, act, depthwise):
    rng = np.random.default_rng(5)

    def out(n, s, d):
        return -(-n // s) if padding == "SAME" else (n - (2 * d + 1)) // s + 1
    oh, ow = out(9, stride[0], dilation[0]), out(8, stride[1], dilation[1])
    b = ModelBuilder()
    x = b.tensor((1, 9, 8, 3), scale=0.05, zp=-17)
    scales = rng.uniform(0.001, 0.01, 6)
    if depthwise:  # depth multiplier 2, per-channel scales on axis 3
        w = b.tensor((1, 3, 3, 6), scale=scales, data=rng.integers(-127, 128, (1, 3, 3, 6)), axis=3)
    else:
        w = b.tensor((6, 3, 3, 3), scale=scales, data=rng.integers(-127, 128, (6, 3, 3, 3)), axis=0)
    bias = b.tensor((6,), dtype="int32", data=rng.integers(-2000, 2000, 6))
    y = b.tensor((1, oh, ow, 6), scale=0.07, zp=-128 if act else 3)
    opts = conv_opts(stride, padding, act, dilation, depth_multiplier=2 if depthwise else None)
    b.op(OP.DEPTHWISE_CONV_2D if depthwise else OP.CONV_2D, [x, w, bias], [y], **opts)
    assert_parity(b.build([x], [y]), [(x,) for x in int8_inputs((1, 9, 8, 3), 4)])


def test_fully_connected_flattens_4d_input():
    rng = np.random.default_rng(6)
    b = ModelBuilder()
    x = b.tensor((1, 2, 3, 4), scale=0.05, zp=-17)
    w = b.tensor((5, 24), scale=0.004, data=rng.integers(-127, 128, (5, 24)))  # per-tensor scale
    bias = b.tensor((5,), dtype="int32", data=rng.integers(-2000, 2000, 5))
    y = b.tensor((1, 5), scale=0.1, zp=-128)
    b.op(OP.FULLY_CONNECTED, [x, w, bias], [y], **fc_opts("relu"))
    g, _ = assert_parity(b.build([x], [y]), [(x,) for x in int8_inputs((1, 2, 3, 4), 4)])
    assert [n.op for n in g.topo_order()] == ["reshape", "dense"]


def test_softmax_beta():
    b = ModelBuilder()
    x, y = b.tensor((2, 10), scale=0.1, zp=3), b.tensor((2, 10), scale=1 / 256, zp=-128)
    b.op(OP.SOFTMAX, [x], [y], **softmax_opts(0.5))
    assert_parity(b.build([x], [y]), [(x,) for x in int8_inputs((2, 10), 6)])


def test_relu6_clamp_rounds_like_tflite_float32():
    """6 / 0.048582997 is 123.4999969 in float64 but exactly 123.5 in float32, where TFLite
    computes it: its clamp is zp + 124, and a naive float64 bound would give zp + 123."""
    s = float(np.float32(0.04858299717307091))
    naive = act_range_int8(Node("n", "add", [], [], {"act_min": 0.0, "act_max": 6.0}), QuantParams(s, -128))
    assert naive[1] == -128 + 123  # the trap this test is about
    b = ModelBuilder()
    x1, x2 = b.tensor((1, 256), scale=0.05, zp=0), b.tensor((1, 256), scale=0.05, zp=0)
    y = b.tensor((1, 256), scale=s, zp=-128)
    b.op(OP.ADD, [x1, x2], [y], **add_opts("relu6"))
    ramp = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    _, (out,) = assert_parity(b.build([x1, x2], [y]), [(ramp, ramp)])
    assert out.max() == -128 + 124


# -- bad input -----------------------------------------------------------------------------------
def _one_line(e):
    assert "\n" not in str(e.value)


def test_unsupported_op_names_op_and_index():
    b = ModelBuilder()
    x, h = b.tensor((1, 16), scale=0.05, zp=0), b.tensor((1, 16), scale=1 / 256, zp=-128)
    y = b.tensor((1, 16), scale=1 / 128, zp=0)
    b.op(OP.LOGISTIC, [x], [h])
    b.op(OP.CUMSUM, [h], [y])
    with pytest.raises(UnsupportedOpError, match=r"'CUMSUM'.*operator 1.*closest supported: SUM") as e:
        load_tflite_bytes(b.build([x], [y]))
    _one_line(e)


def test_hybrid_model_is_refused():
    rng = np.random.default_rng(7)
    b = ModelBuilder()
    x = b.tensor((1, 8), dtype="float32")
    w = b.tensor((4, 8), scale=0.01, data=rng.integers(-127, 128, (4, 8)))
    y = b.tensor((1, 4), dtype="float32")
    b.op(OP.FULLY_CONNECTED, [x, w], [y], **fc_opts())
    with pytest.raises(McuforgeError, match=r"operator 0 \(FULLY_CONNECTED\): hybrid") as e:
        load_tflite_bytes(b.build([x], [y]))
    _one_line(e)


def test_corrupt_files(tmp_path):
    buf = unary_model(OP.LOGISTIC, 0.1, 0, 1 / 256, -128)
    cases = {
        "random.tflite": np.random.default_rng(8).integers(0, 256, 2000, dtype=np.uint8).tobytes(),
        "truncated.tflite": buf[: len(buf) // 3],
        "garbled.tflite": buf[:8] + bytes(b ^ 0x5A for b in buf[8:]),
        "empty.tflite": b"",
    }
    for name, data in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(McuforgeError, match=r"(corrupt TFLite flatbuffer|not a TFLite flatbuffer)") as e:
            load_tflite(p)
        _one_line(e)
    with pytest.raises(McuforgeError, match="cannot read"):
        load_tflite(tmp_path / "missing.tflite")
