"""Small .tflite files for tests, built offline with tflite-micro's pure-Python model editor
(no TensorFlow): one call per tensor and per operator, options as schema objects."""
from __future__ import annotations

import numpy as np
from tflite_micro.tensorflow.lite.micro.compression import model_editor as me
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

TYPES = {"int8": fb.TensorType.INT8, "float32": fb.TensorType.FLOAT32, "int32": fb.TensorType.INT32,
         "int16": fb.TensorType.INT16, "int64": fb.TensorType.INT64, "int4": fb.TensorType.INT4}
OP = fb.BuiltinOperator
ACT = {None: 0, "relu": 1, "relu_n1_to_1": 2, "relu6": 3, "tanh": 4}


class ModelBuilder:
    def __init__(self):
        self.model = me.Model()
        self.sg = self.model.add_subgraph()
        self.n = 0

    def tensor(self, shape, dtype="int8", scale=None, zp=0, data=None, axis=None, name=None):
        q = None
        if scale is not None:
            scales = [float(s) for s in np.atleast_1d(scale)]
            zps = [int(z) for z in np.broadcast_to(np.atleast_1d(zp), (len(scales),))]
            q = me.Quantization(scales if len(scales) > 1 else scales[0],
                                zps if len(zps) > 1 else zps[0], axis)
        if data is not None and dtype == "int4":  # TFLite's dense packing: two a byte, low nibble first
            flat = np.asarray(data, np.int64).reshape(-1)
            assert flat.size and flat.min() >= -8 and flat.max() <= 7, "int4 values in [-8, 7]"
            nib = np.zeros(-(-flat.size // 2) * 2, np.uint8)
            nib[:flat.size] = flat & 0xF
            data = (nib[0::2] | (nib[1::2] << 4)).astype(np.uint8)
        elif data is not None:
            data = np.ascontiguousarray(np.asarray(data).astype({"int8": np.int8, "int32": np.int32,
                                                                  "float32": np.float32, "int16": np.int16,
                                                                  "int64": np.int64}[dtype]))
        self.n += 1
        return self.sg.add_tensor(shape=tuple(shape), dtype=TYPES[dtype], quantization=q,
                                  data=data, name=name or f"t{self.n}")

    def op(self, code, inputs, outputs, options=None, options_type=None):
        o = self.sg.add_operator(opcode=code, inputs=list(inputs), outputs=list(outputs))
        if options is not None:
            o._fb.builtinOptionsType = options_type
            o._fb.builtinOptions = options
        return o

    def build(self, inputs, outputs) -> bytes:
        self.sg.inputs = list(inputs)
        self.sg.outputs = list(outputs)
        return bytes(self.model.build())


# -- options -----------------------------------------------------------------------------------
def conv_opts(stride=(1, 1), padding="SAME", act=None, dilation=(1, 1), depth_multiplier=None):
    if depth_multiplier is None:
        o, t = fb.Conv2DOptionsT(), fb.BuiltinOptions.Conv2DOptions
    else:
        o, t = fb.DepthwiseConv2DOptionsT(), fb.BuiltinOptions.DepthwiseConv2DOptions
        o.depthMultiplier = depth_multiplier
    o.padding = fb.Padding.SAME if padding == "SAME" else fb.Padding.VALID
    o.strideH, o.strideW = stride
    o.dilationHFactor, o.dilationWFactor = dilation
    o.fusedActivationFunction = ACT[act]
    return dict(options=o, options_type=t)


def pool_opts(kernel, stride, padding="VALID", act=None):
    o = fb.Pool2DOptionsT()
    o.padding = fb.Padding.SAME if padding == "SAME" else fb.Padding.VALID
    o.strideH, o.strideW = stride
    o.filterHeight, o.filterWidth = kernel
    o.fusedActivationFunction = ACT[act]
    return dict(options=o, options_type=fb.BuiltinOptions.Pool2DOptions)


def fc_opts(act=None, keep_num_dims=False):
    o = fb.FullyConnectedOptionsT()
    o.fusedActivationFunction = ACT[act]
    o.keepNumDims = keep_num_dims
    return dict(options=o, options_type=fb.BuiltinOptions.FullyConnectedOptions)


def add_opts(act=None):
    o = fb.AddOptionsT()
    o.fusedActivationFunction = ACT[act]
    return dict(options=o, options_type=fb.BuiltinOptions.AddOptions)


def mul_opts(act=None):
    o = fb.MulOptionsT()
    o.fusedActivationFunction = ACT[act]
    return dict(options=o, options_type=fb.BuiltinOptions.MulOptions)


def concat_opts(axis):
    o = fb.ConcatenationOptionsT()
    o.axis = axis
    return dict(options=o, options_type=fb.BuiltinOptions.ConcatenationOptions)


def reducer_opts(keep_dims):
    o = fb.ReducerOptionsT()
    o.keepDims = keep_dims
    return dict(options=o, options_type=fb.BuiltinOptions.ReducerOptions)


def softmax_opts(beta=1.0):
    o = fb.SoftmaxOptionsT()
    o.beta = beta
    return dict(options=o, options_type=fb.BuiltinOptions.SoftmaxOptions)


def unary_model(code, in_scale, in_zp, out_scale, out_zp, n=256) -> bytes:
    b = ModelBuilder()
    x = b.tensor((1, n), scale=in_scale, zp=in_zp)
    y = b.tensor((1, n), scale=out_scale, zp=out_zp)
    b.op(code, [x], [y])
    return b.build([x], [y])
