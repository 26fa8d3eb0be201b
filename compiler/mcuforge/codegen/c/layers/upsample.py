"""Resize (nearest, bilinear) and transposed convolution layers.

Resize layers carry the op's per-axis tables as constant arrays; transposed convolution uses
conv2d's argument struct, templates and int8 requantization (its window's pads say where the
output starts inside the full result)."""
import numpy as np

from ....errors import McuforgeError
from ....ir.ops import get_op
from ....ir.ops.resize import ONE, Resize
from .base import Layer, builder
from .conv import _f32_weighted, _int8_weighted, _conv_geometry

ACC_LIMIT = (1 << 31) - 1


def _geometry(ctx, node) -> dict:
    x, y = ctx.g.tensors[node.inputs[0]], ctx.g.tensors[node.outputs[0]]
    n, h, w, c = x.shape
    return {"batch": n, "in_h": h, "in_w": w, "out_h": y.shape[1], "out_w": y.shape[2], "channels": c}


def _nearest(ctx, node, cid, dtype):
    x = ctx.g.tensors[node.inputs[0]]
    if dtype == "int8":
        get_op("resize").int8_params(node, ctx.g)  # one quantization in and out
    geo = _geometry(ctx, node)
    t = Resize.tables(node, x.shape[1:3])
    params = dict(geo, pixel_bytes=geo["channels"] * np.dtype(x.np_dtype).itemsize)
    kernel, sources = ctx.select.pick("mcf_resize_nearest", params)
    arrays = [ctx.array(cid, k, "int32_t", t[k].astype(np.int32)) for k in ("iy", "ix")]
    return Layer(node, "resize_nearest", kernel, sources, [ctx.refs[node.inputs[0]]], [ctx.refs[node.outputs[0]]],
                 params, arrays)


def _bilinear(ctx, node, cid, dtype):
    if dtype == "int8" and node.attrs.get("float_rule") == "ort":   # requant="ort": onnxruntime's float32
        from .ort_float import resize_bilinear_ort
        return resize_bilinear_ort(ctx, node, cid)
    x = ctx.g.tensors[node.inputs[0]]
    geo = _geometry(ctx, node)
    if dtype == "int8":
        get_op("resize").int8_params(node, ctx.g)
        t = Resize.tables(node, x.shape[1:3], integer=True)
        # |sum of the four weight products| * 128 must fit the int32 accumulator
        wy = np.abs(ONE - t["wy"]) + np.abs(t["wy"])
        wx = np.abs(ONE - t["wx"]) + np.abs(t["wx"])
        if int(wy.max()) * int(wx.max()) * 128 > ACC_LIMIT:
            raise McuforgeError(f"node {node.name}: bilinear weights could overflow the int32 accumulator")
        wtype, kernel, args = "int32_t", "mcf_resize_bilinear_s8", "mcf_resize_bilinear_s8_args"
    else:
        t = Resize.tables(node, x.shape[1:3])
        wtype, kernel, args = "float", "mcf_resize_bilinear_f32", "mcf_resize_bilinear_f32_args"
    params = dict(geo, args_type=args)
    function, sources = ctx.select.pick(kernel, params)
    arrays = [ctx.array(cid, k, "int32_t", t[k].astype(np.int32)) for k in ("y0", "y1", "x0", "x1")]
    np_w = np.int32 if wtype == "int32_t" else np.float32
    arrays += [ctx.array(cid, k, wtype, t[k].astype(np_w)) for k in ("wy", "wx")]
    return Layer(node, "resize_bilinear", function, sources, [ctx.refs[node.inputs[0]]],
                 [ctx.refs[node.outputs[0]]], params, arrays, macs=get_op("resize").macs(node, ctx.g))


def _resize(dtype):
    def build(ctx, node, cid):
        if node.attrs["mode"] == "nearest":
            return _nearest(ctx, node, cid, dtype)
        return _bilinear(ctx, node, cid, dtype)
    return build


for _dtype in ("int8", "float32"):
    builder("resize", _dtype)(_resize(_dtype))


@builder("conv_transpose2d", "int8")
def conv_transpose2d_s8(ctx, node, cid):
    return _int8_weighted(ctx, node, cid, "conv2d_s8", "mcf_conv_transpose2d_s8", _conv_geometry(ctx, node))


@builder("conv_transpose2d", "float32")
def conv_transpose2d_f32(ctx, node, cid):
    return _f32_weighted(ctx, node, cid, "conv2d_f32", "mcf_conv_transpose2d_f32", _conv_geometry(ctx, node))
