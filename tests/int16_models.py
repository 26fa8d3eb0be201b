"""Single-operator TFLite models in the 16x8 scheme (int16 activations with zero point 0, int8
weights, int64 or int32 bias), built offline with tests/tflite_builder.py, and int16 inputs."""
from __future__ import annotations

import numpy as np

from tflite_builder import (OP, ModelBuilder, add_opts, concat_opts, conv_opts, fb, fc_opts, mul_opts, pool_opts,
                            reducer_opts, softmax_opts)

S_IN = 0.0021  # a typical converter scale: max |x| / 32767


def int16_inputs(shape, n, seed=0, scale=1.0):
    """n random int16 tensors (scaled down by `scale`), then both extremes."""
    rng = np.random.default_rng(seed)
    hi = int(32767 * scale)
    xs = [rng.integers(-hi - 1, hi + 1, shape).astype(np.int16) for _ in range(n)]
    return xs + [np.full(shape, -32768, np.int16), np.full(shape, 32767, np.int16)]


def _weights(b, rng, shape, axis, cout):
    scales = rng.uniform(0.004, 0.02, cout)
    return b.tensor(shape, "int8", scale=scales, zp=0, axis=axis, data=rng.integers(-127, 128, shape)), scales


def conv(depthwise=False, act=None, bias="int64", stride=(1, 1), padding="SAME", seed=0, cin=3, multiplier=2):
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    cout = cin * multiplier if depthwise else 5
    x = b.tensor((1, 7, 6, cin), "int16", scale=S_IN, zp=0)
    if depthwise:
        w, ws = _weights(b, rng, (1, 3, 3, cout), 3, cout)
    else:
        w, ws = _weights(b, rng, (cout, 3, 3, cin), 0, cout)
    ins = [x, w]
    if bias:
        ins.append(b.tensor((cout,), bias, scale=S_IN * ws, zp=0, axis=0, data=rng.integers(-200000, 200000, cout)))
    oh = -(-7 // stride[0]) if padding == "SAME" else (7 - 3) // stride[0] + 1
    ow = -(-6 // stride[1]) if padding == "SAME" else (6 - 3) // stride[1] + 1
    y = b.tensor((1, oh, ow, cout), "int16", scale=0.009, zp=0)
    b.op(OP.DEPTHWISE_CONV_2D if depthwise else OP.CONV_2D, ins, [y],
         **conv_opts(stride=stride, padding=padding, act=act, depth_multiplier=multiplier if depthwise else None))
    return b.build([x], [y])


def fully_connected(act=None, bias="int64", seed=1):
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    x = b.tensor((2, 24), "int16", scale=S_IN, zp=0)
    ws = 0.011
    w = b.tensor((10, 24), "int8", scale=ws, zp=0, data=rng.integers(-127, 128, (10, 24)))
    ins = [x, w]
    if bias:
        ins.append(b.tensor((10,), bias, scale=S_IN * ws, zp=0, data=rng.integers(-300000, 300000, 10)))
    y = b.tensor((2, 10), "int16", scale=0.006, zp=0)
    b.op(OP.FULLY_CONNECTED, ins, [y], **fc_opts(act=act))
    return b.build([x], [y])


def binary(code, shape2=(1, 4, 5, 6), act=None, s1=S_IN, s2=0.0013, so=0.0034):
    b = ModelBuilder()
    x1 = b.tensor((1, 4, 5, 6), "int16", scale=s1, zp=0)
    x2 = b.tensor(shape2, "int16", scale=s2, zp=0)
    y = b.tensor((1, 4, 5, 6), "int16", scale=so, zp=0)
    opts = {OP.ADD: add_opts, OP.MUL: mul_opts}.get(code)
    b.op(code, [x1, x2], [y], **(opts(act=act) if opts else {}))
    return b.build([x1, x2], [y])


def pool(code, kernel=(3, 3), stride=(2, 2), padding="SAME", act=None):
    b = ModelBuilder()
    x = b.tensor((1, 7, 8, 4), "int16", scale=S_IN, zp=0)
    oh = -(-7 // stride[0]) if padding == "SAME" else (7 - kernel[0]) // stride[0] + 1
    ow = -(-8 // stride[1]) if padding == "SAME" else (8 - kernel[1]) // stride[1] + 1
    y = b.tensor((1, oh, ow, 4), "int16", scale=S_IN, zp=0)
    b.op(code, [x], [y], **pool_opts(kernel, stride, padding, act))
    return b.build([x], [y])


def unary(code, in_scale, out_scale=1 / 32768, shape=(1, 300), options=None):
    b = ModelBuilder()
    x = b.tensor(shape, "int16", scale=in_scale, zp=0)
    y = b.tensor(shape, "int16", scale=out_scale, zp=0)
    b.op(code, [x], [y], **(options or {}))
    return b.build([x], [y])


def quantize(src="int8", dst="int16"):
    b = ModelBuilder()
    x = b.tensor((1, 200), src, scale=0.037 if src == "int8" else S_IN, zp=-9 if src == "int8" else 0)
    y = b.tensor((1, 200), dst, scale=S_IN if dst == "int16" else 0.031, zp=0 if dst == "int16" else 4)
    b.op(OP.QUANTIZE, [x], [y])
    return b.build([x], [y])


def float_io():
    """float32 in -> QUANTIZE (int16) -> FULLY_CONNECTED (16x8) -> DEQUANTIZE -> float32 out."""
    rng = np.random.default_rng(4)
    b = ModelBuilder()
    xf = b.tensor((1, 16), "float32")
    x = b.tensor((1, 16), "int16", scale=S_IN, zp=0)
    b.op(OP.QUANTIZE, [xf], [x])
    w = b.tensor((5, 16), "int8", scale=0.01, zp=0, data=rng.integers(-127, 128, (5, 16)))
    bias = b.tensor((5,), "int64", scale=S_IN * 0.01, zp=0, data=rng.integers(-9000, 9000, 5))
    y = b.tensor((1, 5), "int16", scale=0.003, zp=0)
    b.op(OP.FULLY_CONNECTED, [x, w, bias], [y], **fc_opts())
    yf = b.tensor((1, 5), "float32")
    b.op(OP.DEQUANTIZE, [y], [yf])
    return b.build([xf], [yf])


def mean(axes=(1, 2), keep=True, out_scale=0.0017):
    shape = (1, 5, 7, 8)
    b = ModelBuilder()
    x = b.tensor(shape, "int16", scale=S_IN, zp=0)
    out = [1 if i in axes else d for i, d in enumerate(shape)] if keep else \
        [d for i, d in enumerate(shape) if i not in axes]
    y = b.tensor(out, "int16", scale=out_scale, zp=0)
    a = b.tensor((len(axes),), dtype="int32", data=np.array(axes))
    b.op(OP.MEAN, [x, a], [y], **reducer_opts(keep))
    return b.build([x], [y])


def reshape_concat_pad():
    """RESHAPE -> CONCATENATION (with a second input) -> PAD: the data-movement ops on int16."""
    b = ModelBuilder()
    x1 = b.tensor((1, 4, 6), "int16", scale=S_IN, zp=0)
    x2 = b.tensor((1, 2, 2, 2), "int16", scale=S_IN, zp=0)
    shp = b.tensor((4,), "int32", data=np.array([1, 2, 2, 6]))
    r = b.tensor((1, 2, 2, 6), "int16", scale=S_IN, zp=0)
    b.op(OP.RESHAPE, [x1, shp], [r])
    c = b.tensor((1, 2, 2, 8), "int16", scale=S_IN, zp=0)
    b.op(OP.CONCATENATION, [r, x2], [c], **concat_opts(3))
    pads = b.tensor((4, 2), "int32", data=np.array([[0, 0], [1, 2], [2, 0], [0, 0]]))
    y = b.tensor((1, 5, 4, 8), "int16", scale=S_IN, zp=0)
    b.op(OP.PAD, [c, pads], [y])
    return b.build([x1, x2], [y])


def transpose_conv(bias="int64", stride=(2, 2), seed=3):
    rng = np.random.default_rng(seed)
    cin, cout, k = 3, 4, (3, 3)
    b = ModelBuilder()
    x = b.tensor((1, 4, 5, cin), "int16", scale=S_IN, zp=0)
    out_hw = (4 * stride[0], 5 * stride[1])
    shape = b.tensor((4,), dtype="int32", data=np.array((1,) + out_hw + (cout,), np.int32))
    w, ws = _weights(b, rng, (cout, k[0], k[1], cin), 0, cout)
    ins = [shape, w, x]
    if bias:
        ins.append(b.tensor((cout,), bias, scale=S_IN * ws, zp=0, axis=0, data=rng.integers(-90000, 90000, cout)))
    y = b.tensor((1,) + out_hw + (cout,), "int16", scale=0.004, zp=0)
    o = fb.TransposeConvOptionsT()
    o.padding = fb.Padding.SAME
    o.strideH, o.strideW = stride
    b.op(OP.TRANSPOSE_CONV, ins, [y], options=o, options_type=fb.BuiltinOptions.TransposeConvOptions)
    return b.build([x], [y])


def softmax(beta=1.0, in_scale=0.0007):
    return unary(OP.SOFTMAX, in_scale, 1 / 32768, shape=(3, 37), options=softmax_opts(beta))


# name -> (model bytes factory, input scale factor for random inputs)
CASES = {
    "conv": (lambda: conv(), 1.0),
    "conv_relu_stride2_valid": (lambda: conv(act="relu", stride=(2, 2), padding="VALID"), 1.0),
    "conv_bias32": (lambda: conv(bias="int32", act="relu6"), 0.05),
    "conv_nobias": (lambda: conv(bias=None), 1.0),
    "depthwise": (lambda: conv(depthwise=True), 1.0),
    "depthwise_relu6_s2": (lambda: conv(depthwise=True, act="relu6", stride=(2, 2)), 1.0),
    "depthwise_m1_odd": (lambda: conv(depthwise=True, cin=5, multiplier=1, act="relu"), 1.0),
    "fully_connected": (lambda: fully_connected(), 1.0),
    "fully_connected_relu": (lambda: fully_connected(act="relu"), 1.0),
    "add": (lambda: binary(OP.ADD), 1.0),
    "add_broadcast_relu": (lambda: binary(OP.ADD, shape2=(1, 1, 1, 6), act="relu"), 1.0),
    "sub": (lambda: binary(OP.SUB), 1.0),
    "mul": (lambda: binary(OP.MUL, so=0.00007), 1.0),
    "mul_broadcast": (lambda: binary(OP.MUL, shape2=(1, 1, 1, 6), so=0.00005), 1.0),
    "avgpool": (lambda: pool(OP.AVERAGE_POOL_2D), 1.0),
    "avgpool_valid_relu": (lambda: pool(OP.AVERAGE_POOL_2D, (2, 2), (2, 2), "VALID", "relu"), 1.0),
    "maxpool": (lambda: pool(OP.MAX_POOL_2D), 1.0),
    "logistic": (lambda: unary(OP.LOGISTIC, 0.00031), 1.0),
    "logistic_pot": (lambda: unary(OP.LOGISTIC, 1 / 4096), 1.0),
    "tanh": (lambda: unary(OP.TANH, 0.00029), 1.0),
    "tanh_pot": (lambda: unary(OP.TANH, 1 / 8192), 1.0),
    "softmax": (lambda: softmax(), 1.0),
    "softmax_beta": (lambda: softmax(beta=0.5, in_scale=0.0003), 1.0),
    "quantize_s8_s16": (lambda: quantize("int8", "int16"), 1.0),
    "quantize_s16_s8": (lambda: quantize("int16", "int8"), 1.0),
    "float_io": (float_io, 1.0),
    "mean": (lambda: mean(), 1.0),
    "mean_w": (lambda: mean((2,), False), 1.0),
    "reshape_concat_pad": (reshape_concat_pad, 1.0),
    "transpose_conv": (lambda: transpose_conv(), 1.0),
    "transpose_conv_nobias": (lambda: transpose_conv(bias=None, stride=(1, 1)), 1.0),
}


def model_inputs(buf: bytes, n: int, scale: float = 1.0, seed: int = 0) -> list[tuple]:
    """Per sample a tuple of inputs, in the model's input order and dtype."""
    import tflite
    from mcuforge.frontend.tflite import DTYPES
    m = tflite.Model.GetRootAsModel(buf, 0)
    sg = m.Subgraphs(0)
    per_input = []
    for k in range(sg.InputsLength()):
        t = sg.Tensors(sg.Inputs(k))
        shape = tuple(t.ShapeAsNumpy())
        if DTYPES[t.Type()] == "int16":
            per_input.append(int16_inputs(shape, n, seed + k, scale))
        elif DTYPES[t.Type()] == "float32":
            rng = np.random.default_rng(seed + k)
            per_input.append([(rng.standard_normal(shape) * 40 * S_IN).astype(np.float32) for _ in range(n + 2)])
        else:
            rng = np.random.default_rng(seed + k)
            per_input.append([rng.integers(-128, 128, shape).astype(np.int8) for _ in range(n)]
                             + [np.full(shape, -128, np.int8), np.full(shape, 127, np.int8)])
    return list(zip(*per_input))
