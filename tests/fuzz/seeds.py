"""Seed models for the mutation fuzzer: small ONNX models built here (a CNN with BatchNorm, an MLP
with Softmax, a QDQ CNN), a small int8 .tflite built with tests/tflite_builder.py, and the four
MLPerf Tiny int8 .tflite files (external data, see tests/mlperf_data.py)."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


@dataclass
class Seed:
    name: str
    suffix: str          # ".onnx" or ".tflite"
    data: bytes
    # float ONNX seeds: the shape of one calibration sample (None: the model carries its quantization)
    calib_shape: tuple | None = None


def _onnx_bytes(nodes, inputs, outputs, inits, opset=13) -> bytes:
    from onnx import helper
    g = helper.make_graph(nodes, "seed", inputs, outputs, initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m.SerializeToString()


def onnx_cnn(rng) -> bytes:
    """Conv -> BatchNorm -> Relu -> MaxPool -> Conv(stride 2) -> GlobalAveragePool -> Flatten -> Gemm -> Softmax."""
    from onnx import TensorProto, helper, numpy_helper as nh
    f = lambda *s: rng.standard_normal(s).astype(np.float32) * 0.3  # noqa: E731
    inits = [nh.from_array(f(4, 1, 3, 3), "w1"), nh.from_array(f(4), "b1"),
             nh.from_array(np.abs(f(4)) + 0.5, "bn_s"), nh.from_array(f(4), "bn_b"),
             nh.from_array(f(4), "bn_m"), nh.from_array(np.abs(f(4)) + 0.5, "bn_v"),
             nh.from_array(f(6, 4, 3, 3), "w2"), nh.from_array(f(6), "b2"),
             nh.from_array(f(6, 3), "fc_w"), nh.from_array(f(3), "fc_b")]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "bn_s", "bn_b", "bn_m", "bn_v"], ["bn"]),
        helper.make_node("Relu", ["bn"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("GlobalAveragePool", ["c2"], ["gp"]),
        helper.make_node("Flatten", ["gp"], ["fl"], axis=1),
        helper.make_node("Gemm", ["fl", "fc_w", "fc_b"], ["fc"]),
        helper.make_node("Softmax", ["fc"], ["y"], axis=1),
    ]
    return _onnx_bytes(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)


def onnx_mlp(rng, softmax_axis: int = 1) -> bytes:
    """Gemm -> Relu -> MatMul -> Add -> Softmax(axis)."""
    from onnx import TensorProto, helper, numpy_helper as nh
    inits = [nh.from_array(rng.standard_normal((8, 16)).astype(np.float32) * 0.4, "w1"),
             nh.from_array(rng.standard_normal(16).astype(np.float32) * 0.1, "b1"),
             nh.from_array(rng.standard_normal((16, 4)).astype(np.float32) * 0.4, "w2"),
             nh.from_array(rng.standard_normal(4).astype(np.float32) * 0.1, "b2")]
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"]),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "w2"], ["m"]),
             helper.make_node("Add", ["m", "b2"], ["a"]),
             helper.make_node("Softmax", ["a"], ["y"], axis=softmax_axis)]
    return _onnx_bytes(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], inits)


def onnx_qdq(rng) -> bytes:
    """A QDQ CNN: Q/DQ on the input, int8 per-channel conv weights, uint8 activations, Relu, Gemm."""
    from onnx import TensorProto, helper, numpy_helper as nh
    wq = rng.integers(-127, 128, (4, 1, 3, 3), dtype=np.int8)
    fcq = rng.integers(-127, 128, (3, 4 * 4 * 4), dtype=np.int8)
    inits = [nh.from_array(np.float32(1 / 128), "s_x"), nh.from_array(np.uint8(128), "z_x"),
             nh.from_array(wq, "w_q"), nh.from_array(np.full(4, 0.01, np.float32), "s_w"),
             nh.from_array(np.zeros(4, np.int8), "z_w"),
             nh.from_array(rng.integers(-50, 50, 4).astype(np.int32), "b_q"),
             nh.from_array(np.full(4, 0.01 / 128, np.float32), "s_b"),
             nh.from_array(np.zeros(4, np.int32), "z_b"),
             nh.from_array(np.float32(0.02), "s_c"), nh.from_array(np.uint8(0), "z_c"),
             nh.from_array(fcq, "fc_q"), nh.from_array(np.float32(0.005), "s_fc"),
             nh.from_array(np.int8(0), "z_fc"),
             nh.from_array(np.float32(0.05), "s_y"), nh.from_array(np.uint8(128), "z_y"),
             nh.from_array(np.array([1, 64], np.int64), "shape")]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s_x", "z_x"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "s_x", "z_x"], ["xd"]),
        helper.make_node("DequantizeLinear", ["w_q", "s_w", "z_w"], ["w"], axis=0),
        helper.make_node("DequantizeLinear", ["b_q", "s_b", "z_b"], ["b"], axis=0),
        helper.make_node("Conv", ["xd", "w", "b"], ["c"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("QuantizeLinear", ["r", "s_c", "z_c"], ["rq"]),
        helper.make_node("DequantizeLinear", ["rq", "s_c", "z_c"], ["rd"]),
        helper.make_node("Reshape", ["rd", "shape"], ["flf"]),
        helper.make_node("QuantizeLinear", ["flf", "s_c", "z_c"], ["flq"]),
        helper.make_node("DequantizeLinear", ["flq", "s_c", "z_c"], ["fl"]),
        helper.make_node("DequantizeLinear", ["fc_q", "s_fc", "z_fc"], ["fcw"]),
        helper.make_node("Gemm", ["fl", "fcw"], ["g"], transB=1),
        helper.make_node("QuantizeLinear", ["g", "s_y", "z_y"], ["gq"]),
        helper.make_node("DequantizeLinear", ["gq", "s_y", "z_y"], ["y"]),
    ]
    return _onnx_bytes(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)


def tflite_small(rng) -> bytes:
    """int8 CONV_2D(relu) -> DEPTHWISE_CONV_2D -> AVERAGE_POOL_2D -> RESHAPE -> FULLY_CONNECTED -> SOFTMAX."""
    import tflite_builder as tb
    b = tb.ModelBuilder()
    x = b.tensor((1, 8, 8, 2), scale=0.05, zp=-3)
    w1 = b.tensor((4, 3, 3, 2), scale=np.full(4, 0.01), zp=0, axis=0,
                  data=rng.integers(-127, 128, (4, 3, 3, 2)))
    b1 = b.tensor((4,), "int32", scale=np.full(4, 0.0005), zp=0, axis=0, data=rng.integers(-300, 300, 4))
    c1 = b.tensor((1, 8, 8, 4), scale=0.04, zp=-128)
    b.op(tb.OP.CONV_2D, [x, w1, b1], [c1], **tb.conv_opts(act="relu"))
    w2 = b.tensor((1, 3, 3, 4), scale=np.full(4, 0.02), zp=0, axis=3, data=rng.integers(-127, 128, (1, 3, 3, 4)))
    b2 = b.tensor((4,), "int32", scale=np.full(4, 0.0008), zp=0, axis=0, data=rng.integers(-300, 300, 4))
    c2 = b.tensor((1, 4, 4, 4), scale=0.06, zp=5)
    b.op(tb.OP.DEPTHWISE_CONV_2D, [c1, w2, b2], [c2], **tb.conv_opts(stride=(2, 2), depth_multiplier=1))
    p = b.tensor((1, 2, 2, 4), scale=0.06, zp=5)
    b.op(tb.OP.AVERAGE_POOL_2D, [c2], [p], **tb.pool_opts((2, 2), (2, 2)))
    r = b.tensor((1, 16), scale=0.06, zp=5)
    b.op(tb.OP.RESHAPE, [p], [r])
    w3 = b.tensor((3, 16), scale=np.full(3, 0.015), zp=0, axis=0, data=rng.integers(-127, 128, (3, 16)))
    b3 = b.tensor((3,), "int32", scale=np.full(3, 0.0009), zp=0, axis=0, data=rng.integers(-300, 300, 3))
    f = b.tensor((1, 3), scale=0.1, zp=2)
    b.op(tb.OP.FULLY_CONNECTED, [r, w3, b3], [f])
    y = b.tensor((1, 3), scale=1 / 256, zp=-128)
    b.op(tb.OP.SOFTMAX, [f], [y], **tb.softmax_opts())
    return b.build([x], [y])


def small_seeds(seed: int = 0) -> list[Seed]:
    rng = np.random.default_rng(seed)
    return [Seed("onnx_cnn", ".onnx", onnx_cnn(rng), (1, 1, 8, 8)),
            Seed("onnx_mlp", ".onnx", onnx_mlp(rng), (1, 8)),
            Seed("onnx_qdq", ".onnx", onnx_qdq(rng)),
            Seed("tflite_small", ".tflite", tflite_small(rng))]


def mlperf_seeds() -> list[Seed]:
    """The MLPerf Tiny int8 models that are present (none if the external folder is missing)."""
    from mlperf_data import INT8_MODELS, mlperf_dir
    out = []
    for name in INT8_MODELS:
        p = mlperf_dir() / f"{name}.tflite"
        if p.is_file():
            out.append(Seed(name, ".tflite", p.read_bytes()))
    return out
