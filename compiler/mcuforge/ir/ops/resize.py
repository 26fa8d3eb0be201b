"""Spatial resize of an NHWC tensor: nearest neighbour and bilinear (ONNX Resize / Upsample,
TFLite RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR).

Every output row and column reads fixed input rows and columns with fixed weights, so the whole
resize is described by per-axis tables computed here at compile time (the one place that knows
the coordinate rules); the golden model and the C kernels only apply them:
  - nearest: index[o] per axis (the input row / column that output o copies);
  - linear:  lo[o], hi[o] and a weight w[o] of hi (1 - w of lo) per axis.

Coordinate rules (attrs["coord"]): ONNX's coordinate_transformation_mode names, computed in
float32 as onnxruntime does, or "tflite" (align_corners / half_pixel_centers flags, TFLite
Micro's formulas). int8: nearest copies bytes (the quantization is kept); bilinear interpolates
the raw int8 values with weights in units of 1/1024 and rounds the 2^20-scaled sum half away
from zero, exactly TFLite Micro's ResizeBilinearInteger. For TFLite models the 1/1024 weights come
from TFLM's integer scale (scale_10); for other models they are the float weights rounded to
1/1024 (so int8 ONNX results stay within 1 LSB of a float resize)."""
from __future__ import annotations

import numpy as np

from .base import REQUIRED, OpDef, register

ONE = 1 << 10          # bilinear int8 weights are in units of 1/1024
ONNX_COORDS = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn",
               "half_pixel_symmetric")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple")

f32 = np.float32


def _onnx_coords(coord: str, out_size: int, in_size: int, scale) -> np.ndarray:
    """onnxruntime's original coordinate of each output index, as the float32 it rounds. The scale is
    a float32 (given scales) or, for given sizes, the float64 ratio out / in. Measured against
    onnxruntime 1.32 on every size pair up to 11 -> 24 and on 13 scales for inputs up to 11: with
    sizes its asymmetric and tf_half_pixel_for_nn indices equal evaluating in float64 (then
    rounding to float32), everything else float32. Known differences left, all at coordinates a
    float rounding away from an exact .5 or integer: half_pixel_symmetric with floor, and
    tf_half_pixel_for_nn with round_prefer_ceil at scale 0.6 (inputs 9 to 11)."""
    dt = np.float64 if coord in ("asymmetric", "tf_half_pixel_for_nn") and isinstance(scale, np.float64) else f32
    scale = dt(scale)
    x = np.arange(out_size, dtype=dt)
    s, h = scale, dt(0.5)
    if coord == "half_pixel":
        v = (x + h) / s - h
    elif coord == "pytorch_half_pixel":
        v = (x + h) / s - h if out_size > 1 else np.zeros(out_size, dt)
    elif coord == "align_corners":
        v = np.zeros(out_size, f32) if out_size == 1 else x.astype(f32) * f32(in_size - 1) / f32(out_size - 1)
    elif coord == "asymmetric":
        v = x / s
    elif coord == "tf_half_pixel_for_nn":
        v = (x + h) / s
    elif coord == "half_pixel_symmetric":
        adjustment = f32(out_size) / (s * f32(in_size))
        offset = f32(in_size) / f32(2) * (f32(1) - adjustment)
        v = offset + (x + h) / s - h
    else:
        raise ValueError(f"coordinate transformation {coord!r}")
    return np.asarray(v).astype(f32)


def _round_nearest(x: np.ndarray, mode: str, down: bool) -> np.ndarray:
    x = x.astype(f32)
    if mode == "floor":
        return np.floor(x)
    if mode == "ceil":
        return np.ceil(x)
    if mode == "simple":  # onnxruntime's rule for Upsample and Resize-10
        return np.ceil(x) if down else np.trunc(x)
    tie = x == np.trunc(x) + f32(0.5)
    away = np.where(x >= 0, np.floor(x + f32(0.5)), np.ceil(x - f32(0.5)))  # std::round
    if mode == "round_prefer_floor":
        return np.where(tie, np.floor(x), away)
    if mode == "round_prefer_ceil":
        return np.where(tie, np.ceil(x), away)
    raise ValueError(f"nearest mode {mode!r}")


def nearest_table(a: dict, axis: int, in_size: int, out_size: int) -> np.ndarray:
    """Input index copied by each output index along one spatial axis (0 = H, 1 = W)."""
    if a["coord"] == "tflite":
        align, half = a["align_corners"], a["half_pixel_centers"]
        scale = f32(in_size - 1) / f32(out_size - 1) if align and out_size > 1 else f32(in_size) / f32(out_size)
        v = (np.arange(out_size, dtype=f32) + f32(0.5 if half else 0.0)) * scale
        idx = np.where(v >= 0, np.floor(v + f32(0.5)), np.ceil(v - f32(0.5))) if align else np.floor(v)
        idx = np.minimum(idx.astype(np.int64), in_size - 1)
        return np.maximum(idx, 0) if half else idx
    scale = _scale(a, axis, in_size, out_size)
    if scale == 1:  # onnxruntime maps an unscaled axis one to one, whatever the coordinate rule
        return np.arange(out_size, dtype=np.int64)
    x = _onnx_coords(a["coord"], out_size, in_size, scale)
    idx = _round_nearest(x, a["nearest_mode"], scale < 1).astype(np.int64)
    return np.clip(idx, 0, in_size - 1)


def _scale(a: dict, axis: int, in_size: int, out_size: int) -> float:
    scales = a.get("scales")
    if scales is not None:
        return f32(scales[axis])
    return np.float64(out_size) / np.float64(in_size)


def linear_table(a: dict, axis: int, in_size: int, out_size: int):
    """(lo, hi, w) per output index: out = (1 - w) * x[lo] + w * x[hi], w as float64."""
    if a["coord"] == "tflite":
        align, half = a["align_corners"], a["half_pixel_centers"]
        scale = f32(in_size - 1) / f32(out_size - 1) if align and out_size > 1 else f32(in_size) / f32(out_size)
        x = np.arange(out_size, dtype=f32)
        v = (x + f32(0.5)) * scale - f32(0.5) if half else x * scale
        lo = np.maximum(np.floor(v).astype(np.int64), 0)
        hi = np.minimum(np.ceil(v).astype(np.int64), in_size - 1)
        return lo, hi, v.astype(np.float64) - lo
    scale = _scale(a, axis, in_size, out_size)
    v = np.clip(_onnx_coords(a["coord"], out_size, in_size, scale), f32(0), f32(in_size - 1))
    lo = np.minimum(v.astype(np.int64), in_size - 1)
    hi = np.minimum(lo + 1, in_size - 1)
    return lo, hi, v.astype(np.float64) - lo


def linear_table_int(a: dict, axis: int, in_size: int, out_size: int):
    """(lo, hi, w) with w an integer weight of hi in units of 1/1024 (may lie outside [0, 1024]
    for TFLite's clamped half-pixel rows: TFLM's weights are used as they are)."""
    if a["coord"] == "tflite":
        align, half = a["align_corners"], a["half_pixel_centers"]
        if align and out_size > 1:
            scale_10 = (ONE * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
        else:
            scale_10 = (ONE * in_size + out_size // 2) // out_size
        o = np.arange(out_size, dtype=np.int64)
        v = o * scale_10 + (scale_10 // 2 - (1 << 9) if half else 0)
        lo = np.maximum(_cdiv(v, ONE), 0)
        hi = np.minimum(_cdiv(v + ONE - 1, ONE), in_size - 1)
        return lo, hi, v - ONE * lo
    lo, hi, w = linear_table(a, axis, in_size, out_size)
    return lo, hi, np.floor(w * ONE + 0.5).astype(np.int64)


def _cdiv(a: np.ndarray, b: int) -> np.ndarray:
    """C's integer division (truncation toward zero)."""
    q = np.abs(a) // b
    return np.where(a < 0, -q, q)


def tflm_round_shift20(acc: np.ndarray) -> np.ndarray:
    """TFLM's (acc + sign * 2^19) / 2^20 with C division: round half away from zero."""
    return np.sign(acc) * ((np.abs(acc) + (1 << 19)) >> 20)


@register
class Resize(OpDef):
    name = "resize"
    attrs = {"mode": "nearest", "size": REQUIRED, "coord": "half_pixel", "nearest_mode": "round_prefer_floor",
             "scales": None, "align_corners": 0, "half_pixel_centers": 0}
    keeps_quant = True

    def check_attrs(self, node):
        super().check_attrs(node)
        a = node.attrs
        if a["mode"] not in ("nearest", "linear"):
            raise ValueError(f"resize {node.name}: mode {a['mode']!r} (nearest or linear)")
        if a["coord"] not in ONNX_COORDS + ("tflite",):
            raise ValueError(f"resize {node.name}: coordinate transformation {a['coord']!r}")
        if a["nearest_mode"] not in NEAREST_MODES:
            raise ValueError(f"resize {node.name}: nearest mode {a['nearest_mode']!r}")

    def infer(self, node, ins):
        x = ins[0]
        if len(x.shape) != 4:
            raise ValueError(f"resize {node.name}: input must be NHWC, got shape {x.shape}")
        oh, ow = (int(d) for d in node.attrs["size"])
        if oh <= 0 or ow <= 0:
            raise ValueError(f"resize {node.name}: output size {(oh, ow)}")
        return [((x.shape[0], oh, ow, x.shape[3]), x.dtype)]

    # -- tables ----------------------------------------------------------------------------
    @staticmethod
    def tables(node, in_hw, integer: bool = False) -> dict:
        a, out_hw = node.attrs, tuple(node.attrs["size"])
        if a["coord"] != "tflite" and out_hw == tuple(in_hw):
            # onnxruntime copies a tensor whose shape the resize keeps, whatever the scales say
            iy, ix = np.arange(out_hw[0]), np.arange(out_hw[1])
            if a["mode"] == "nearest":
                return {"iy": iy, "ix": ix}
            zy, zx = np.zeros(out_hw[0], np.int64), np.zeros(out_hw[1], np.int64)
            return {"y0": iy, "y1": iy, "wy": zy, "x0": ix, "x1": ix, "wx": zx}
        if a["mode"] == "nearest":
            return {"iy": nearest_table(a, 0, in_hw[0], out_hw[0]), "ix": nearest_table(a, 1, in_hw[1], out_hw[1])}
        fn = linear_table_int if integer else linear_table
        y0, y1, wy = fn(a, 0, in_hw[0], out_hw[0])
        x0, x1, wx = fn(a, 1, in_hw[1], out_hw[1])
        return {"y0": y0, "y1": y1, "wy": wy, "x0": x0, "x1": x1, "wx": wx}

    def _gather(self, node, x):
        t = self.tables(node, x.shape[1:3])
        return x[:, t["iy"]][:, :, t["ix"]]

    def run_float(self, node, xs):
        x = xs[0]
        if node.attrs["mode"] == "nearest":
            return [self._gather(node, x)]
        t = self.tables(node, x.shape[1:3])
        xf = x.astype(np.float64)
        wy = t["wy"][None, :, None, None]
        wx = t["wx"][None, None, :, None]
        r0, r1 = xf[:, t["y0"]], xf[:, t["y1"]]
        y = (r0[:, :, t["x0"]] * (1 - wy) * (1 - wx) + r1[:, :, t["x0"]] * wy * (1 - wx)
             + r0[:, :, t["x1"]] * (1 - wy) * wx + r1[:, :, t["x1"]] * wy * wx)
        return [y.astype(np.float32)]

    def run_int8(self, node, xs, p):
        x = xs[0]
        if node.attrs["mode"] == "nearest":
            return [self._gather(node, x)]
        if node.attrs.get("float_rule") == "ort":   # requant="ort": onnxruntime's float32 resize
            from ...reference.ort_float import resize_bilinear_f32
            return [resize_bilinear_f32(node, x, p)]
        t = self.tables(node, x.shape[1:3], integer=True)
        xi = x.astype(np.int64)
        wy = t["wy"][None, :, None, None]
        wx = t["wx"][None, None, :, None]
        r0, r1 = xi[:, t["y0"]], xi[:, t["y1"]]
        acc = (r0[:, :, t["x0"]] * (ONE - wy) * (ONE - wx) + r1[:, :, t["x0"]] * wy * (ONE - wx)
               + r0[:, :, t["x1"]] * (ONE - wy) * wx + r1[:, :, t["x1"]] * wy * wx)
        return [np.clip(tflm_round_shift20(acc), -128, 127).astype(np.int8)]

    def int8_params(self, node, g):
        if node.attrs.get("float_rule") == "ort":   # requant="ort": any output grid (a float32 resize)
            from ...reference.ort_float import resize_params
            return resize_params(node, g)
        qi, qo = g.tensors[node.inputs[0]].quant, g.tensors[node.outputs[0]].quant
        if qi is not None and qo is not None and not qi.same_as(qo):
            raise ValueError(f"resize {node.name}: int8 input and output must share one quantization")
        return {}

    def macs(self, node, g):
        return g.tensors[node.outputs[0]].size * (4 if node.attrs["mode"] == "linear" else 0)
