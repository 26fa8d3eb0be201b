"""TFLite RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR and TRANSPOSE_CONV -> resize / conv_transpose2d.

Output sizes come from the output tensor's static shape in the file (checked against the size /
output_shape input when that is a constant), so a converter's SHAPE chain feeding them needs no
evaluation here. TRANSPOSE_CONV pads as TFLite Micro does: ComputePaddingHeightWidth on the
output size, the output window starting at total // 2."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from . import tflite_schema as fb


def _resize_options(op) -> SimpleNamespace:
    from tflite.BuiltinOptions import BuiltinOptions
    from tflite.ResizeBilinearOptions import ResizeBilinearOptions
    from tflite.ResizeNearestNeighborOptions import ResizeNearestNeighborOptions
    cls = ResizeBilinearOptions if op.BuiltinOptionsType() == BuiltinOptions.ResizeBilinearOptions \
        else ResizeNearestNeighborOptions
    o = fb._options(op, cls)
    if o is None:
        return SimpleNamespace(align_corners=0, half_pixel_centers=0)
    return SimpleNamespace(align_corners=int(bool(o.AlignCorners())),
                           half_pixel_centers=int(bool(o.HalfPixelCenters())))


def _transpose_conv_options(op) -> SimpleNamespace:
    from tflite.TransposeConvOptions import TransposeConvOptions
    o = fb._options(op, TransposeConvOptions)
    if o is None:
        return SimpleNamespace(padding=0, stride_h=1, stride_w=1, activation=0)
    return SimpleNamespace(padding=o.Padding(), stride_h=o.StrideH(), stride_w=o.StrideW(),
                           activation=o.FusedActivationFunction())


def tflm_transpose_pad(out_size: int, k: int, stride: int, same: bool) -> int:
    """TFLM's padding of a transposed convolution: ComputePaddingHeightWidth with the output size
    in the role of the input size (dilation 1); the output starts total // 2 into the full result."""
    conv_out = (out_size + stride - 1) // stride if same else (out_size - k + stride) // stride
    total = max((conv_out - 1) * stride + k - out_size, 0)
    return total // 2


class TfliteResizeOps:
    def _check_size_input(self, i: int, want: tuple, what: str):
        c = self.data(i) if i >= 0 else None
        if c is not None and tuple(int(v) for v in np.asarray(c).reshape(-1)) != tuple(want):
            raise self.error(f"{what} {tuple(np.asarray(c).reshape(-1))} disagrees with the output shape {want}")

    def _resize(self, mode: str, op, ins, outs):
        o = _resize_options(op)
        out_shape = self.tinfo(outs[0]).shape
        if len(out_shape) != 4:
            raise self.error(f"resize output of rank {len(out_shape)} (NHWC only)")
        if len(ins) > 1:
            self._check_size_input(ins[1], tuple(out_shape[1:3]), "size")
        self.check_same_quant(ins[0], outs[0])
        attrs = {"mode": mode, "size": tuple(out_shape[1:3]), "coord": "tflite",
                 "align_corners": o.align_corners, "half_pixel_centers": o.half_pixel_centers}
        self.emit("resize", [self.value(ins[0])], outs[0], attrs)

    def op_RESIZE_NEAREST_NEIGHBOR(self, op, ins, outs):
        self._resize("nearest", op, ins, outs)

    def op_RESIZE_BILINEAR(self, op, ins, outs):
        self._resize("linear", op, ins, outs)

    def op_TRANSPOSE_CONV(self, op, ins, outs):
        o = _transpose_conv_options(op)
        out_shape = tuple(self.tinfo(outs[0]).shape)
        self._check_size_input(ins[0], out_shape, "output_shape")
        w = self.tinfo(ins[1])
        if w.data is None:
            raise self.error("transposed convolution weights must be constant")
        cout, kh, kw, cin = w.shape
        x_shape = self.tinfo(ins[2]).shape
        if x_shape[3] != cin:
            raise self.error(f"input channels {x_shape[3]} do not match the filter's {cin}")
        wq = self.weights_quant_axis0(ins[1], 0)
        wname = self.g.const(f"{self.node_base}_w", w.data, self.dtype(ins[1]), wq).name
        same = o.padding != 1
        pads = (tflm_transpose_pad(out_shape[1], kh, o.stride_h, same),
                tflm_transpose_pad(out_shape[2], kw, o.stride_w, same))
        attrs = {"strides": (o.stride_h, o.stride_w), "dilations": (1, 1), "pads": pads,
                 "size": out_shape[1:3], "groups": 1}
        attrs.update(self.act_attrs(o.activation, outs[0]))
        bias = [self.value(ins[3])] if len(ins) > 3 and ins[3] >= 0 else []
        self.emit("conv_transpose2d", [self.value(ins[2]), wname] + bias, outs[0], attrs)
