"""Transposed 2-D convolution (ONNX ConvTranspose, TFLite TRANSPOSE_CONV), NHWC.

Weights are stored like conv2d's: [Cout, KH, KW, Cin/groups] (TFLite's own layout; ONNX's
[Cin, Cout/groups, KH, KW] is rearranged by the frontend), so per-output-channel weight scales
and requantization are conv2d's. Input pixel (iy, ix) adds x * w[oc, ky, kx, ic] into the "full"
output at (iy * stride + ky * dilation, ix * stride + kx * dilation); the op's output is the
window of that full output starting at (pad_top, pad_left) with size attrs["size"] (ONNX pads,
output_padding, output_shape and auto_pad, and TFLite's padding all reduce to this; positions
past the full output, e.g. output_padding, receive only the bias). int8: int32 accumulation of
(x - in_zp) * w, plus bias, requantized per output channel (TFLite Micro's reference kernel)."""
import numpy as np

from ...reference import arith
from .base import REQUIRED, OpDef, apply_act_float, check_grouped_weights, per_channel_requant_params, register


def full_size(in_size: int, k: int, stride: int, dilation: int) -> int:
    return (in_size - 1) * stride + (k - 1) * dilation + 1


def scatter_sum(x, w, node):
    """sum_{ic in group} x[n, iy, ix, ic] * w[oc, ky, kx, ic] placed at the output window; any
    numeric dtype (float64 for float, int64 for the exact integer path)."""
    a = node.attrs
    n, h, wd, cin = x.shape
    cout, kh, kw, cg = w.shape
    groups = a["groups"]
    mg = cout // groups
    sh, sw = a["strides"]
    dh, dw = a["dilations"]
    pt, pl = a["pads"][:2]
    oh, ow = a["size"]
    fh = max(full_size(h, kh, sh, dh), pt + oh)
    fw = max(full_size(wd, kw, sw, dw), pl + ow)
    acc = np.zeros((n, fh, fw, groups, mg), dtype=np.result_type(x.dtype, w.dtype))
    xg = x.reshape(n, h, wd, groups, cg)
    wg = w.reshape(groups, mg, kh, kw, cg)
    for ky in range(kh):
        for kx in range(kw):
            contrib = np.einsum("nhwgc,gmc->nhwgm", xg, wg[:, :, ky, kx, :])
            acc[:, ky * dh: ky * dh + (h - 1) * sh + 1: sh, kx * dw: kx * dw + (wd - 1) * sw + 1: sw] += contrib
    return acc[:, pt: pt + oh, pl: pl + ow].reshape(n, oh, ow, cout)


@register
class ConvTranspose2D(OpDef):
    name = "conv_transpose2d"
    attrs = {"strides": (1, 1), "dilations": (1, 1), "pads": (0, 0), "size": REQUIRED, "groups": 1,
             "act_min": None, "act_max": None}

    def infer(self, node, ins):
        x, w = ins[0], ins[1]
        n, h, wd, c, cout, kh, kw = check_grouped_weights(node, x.shape, w.shape)
        pt, pl = node.attrs["pads"][:2]
        if pt < 0 or pl < 0:
            raise ValueError(f"conv_transpose2d {node.name}: negative pads {node.attrs['pads']}")
        oh, ow = (int(d) for d in node.attrs["size"])
        if oh <= 0 or ow <= 0:
            raise ValueError(f"conv_transpose2d {node.name}: output size {(oh, ow)}")
        return [((n, oh, ow, cout), x.dtype)]

    def run_float(self, node, xs):
        acc = scatter_sum(xs[0].astype(np.float64), xs[1].astype(np.float64), node)
        if len(xs) > 2 and xs[2] is not None:
            acc = acc + xs[2].astype(np.float64)
        return [apply_act_float(node, acc.astype(np.float32))]

    def int8_params(self, node, g):
        return per_channel_requant_params(node, g)

    def run_int8(self, node, xs, p):
        acc = scatter_sum(xs[0].astype(np.int64) - p["in_zp"], xs[1].astype(np.int64), node)
        if len(xs) > 2 and xs[2] is not None:
            acc = acc + xs[2].astype(np.int64)
        y = arith.multiply_by_quantized_multiplier(acc, p["mult"], p["shift"]) + p["out_zp"]
        return [arith.saturate(y, p["act_min"], p["act_max"]).astype(np.int8)]

    def macs(self, node, g):
        x = g.tensors[node.inputs[0]].shape
        w = g.tensors[node.inputs[1]].shape
        return int(np.prod(x[:3])) * w[0] * w[1] * w[2] * w[3]
