"""2-D convolution, NHWC, weights [Cout, KH, KW, Cin/groups]; depthwise is groups == Cin."""
import numpy as np

from ...reference import arith
from .base import (OpDef, apply_act_float, check_grouped_weights, conv_out_size, per_channel_requant_params,
                   register)


def window_sum(xp, w, strides, dilations, groups, out_hw):
    """Sum over the kernel window of an already padded NHWC input xp with OHWI weights w.

    Works on any numeric dtype (float64 for float, int64 for the exact integer path).
    """
    n, _, _, cin = xp.shape
    cout, kh, kw, cg = w.shape
    oh, ow = out_hw
    sh, sw = strides
    dh, dw = dilations
    mg = cout // groups
    wg = w.reshape(groups, mg, kh, kw, cg)
    acc = np.zeros((n, oh, ow, groups, mg), dtype=np.result_type(xp.dtype, w.dtype))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i * dh: i * dh + (oh - 1) * sh + 1: sh, j * dw: j * dw + (ow - 1) * sw + 1: sw, :]
            patch = patch.reshape(n, oh, ow, groups, cg)
            acc += np.einsum("nhwgc,gmc->nhwgm", patch, wg[:, :, i, j, :])
    return acc.reshape(n, oh, ow, cout)


@register
class Conv2D(OpDef):
    name = "conv2d"
    attrs = {"strides": (1, 1), "dilations": (1, 1), "pads": (0, 0, 0, 0), "groups": 1,
             "act_min": None, "act_max": None}

    def infer(self, node, ins):
        x, w = ins[0], ins[1]
        n, h, wd, c, cout, kh, kw = check_grouped_weights(node, x.shape, w.shape)
        t, l, b, r = node.attrs["pads"]
        oh = conv_out_size(h, kh, node.attrs["strides"][0], node.attrs["dilations"][0], t, b)
        ow = conv_out_size(wd, kw, node.attrs["strides"][1], node.attrs["dilations"][1], l, r)
        if oh <= 0 or ow <= 0:
            raise ValueError(f"conv2d {node.name}: kernel larger than padded input")
        return [((n, oh, ow, cout), x.dtype)]

    @staticmethod
    def out_hw(node, x_shape, w_shape):
        t, l, b, r = node.attrs["pads"]
        return (conv_out_size(x_shape[1], w_shape[1], node.attrs["strides"][0], node.attrs["dilations"][0], t, b),
                conv_out_size(x_shape[2], w_shape[2], node.attrs["strides"][1], node.attrs["dilations"][1], l, r))

    def _pad(self, node, x, value):
        t, l, b, r = node.attrs["pads"]
        return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=value)

    def run_float(self, node, xs):
        x, w = xs[0], xs[1]
        acc = window_sum(self._pad(node, x.astype(np.float64), 0.0), w.astype(np.float64),
                         node.attrs["strides"], node.attrs["dilations"], node.attrs["groups"],
                         self.out_hw(node, x.shape, w.shape))
        if len(xs) > 2 and xs[2] is not None:
            acc = acc + xs[2].astype(np.float64)
        return [apply_act_float(node, acc.astype(np.float32))]

    def int8_params(self, node, g):
        return per_channel_requant_params(node, g)

    def run_int8(self, node, xs, p):
        x, w = xs[0].astype(np.int64) - p["in_zp"], xs[1].astype(np.int64)
        acc = window_sum(self._pad(node, x, 0), w, node.attrs["strides"], node.attrs["dilations"],
                         node.attrs["groups"], self.out_hw(node, xs[0].shape, xs[1].shape))
        if len(xs) > 2 and xs[2] is not None:
            acc = acc + xs[2].astype(np.int64)
        y = arith.multiply_by_quantized_multiplier(acc, p["mult"], p["shift"]) + p["out_zp"]
        return [arith.saturate(y, p["act_min"], p["act_max"]).astype(np.int8)]

    def fixed_params(self, node, g):
        from ...reference import fixed_arith
        _, kh, kw, cg = g.tensors[node.inputs[1]].shape
        return fixed_arith.mac_params(g, node, kh * kw * cg)

    def run_fixed(self, node, xs, p):
        from ...reference import fixed_arith
        x, w = xs[0].astype(np.int64), xs[1].astype(np.int64)
        acc = window_sum(self._pad(node, x, 0), w, node.attrs["strides"], node.attrs["dilations"],
                         node.attrs["groups"], self.out_hw(node, x.shape, w.shape))
        acc = fixed_arith.shift_products(acc, p)  # per-channel weight scales
        if len(xs) > 2 and xs[2] is not None:
            acc = acc + xs[2].astype(np.int64)
        return [fixed_arith.requantize(acc, p)]

    def macs(self, node, g):
        out = g.tensors[node.outputs[0]].shape
        w = g.tensors[node.inputs[1]].shape
        return int(np.prod(out)) * w[1] * w[2] * w[3]
