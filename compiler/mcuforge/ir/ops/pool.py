"""Max and average pooling over NHWC windows (same quantization in and out in int8)."""
import numpy as np

from ...reference import arith
from .base import REQUIRED, OpDef, act_range_int8, apply_act_float, conv_out_size, register


def windows(x, node, pad_value):
    """All pooling windows as an array [N, OH, OW, KH*KW, C] plus a validity mask [OH, OW, KH*KW]."""
    kh, kw = node.attrs["kernel"]
    sh, sw = node.attrs["strides"]
    dh, dw = node.attrs.get("dilations", (1, 1))
    t, l, b, r = node.attrs["pads"]
    n, h, w, c = x.shape
    oh = conv_out_size(h, kh, sh, dh, t, b)
    ow = conv_out_size(w, kw, sw, dw, l, r)
    xp = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=pad_value)
    valid = np.pad(np.ones((h, w), bool), ((t, b), (l, r)), constant_values=False)
    wins, masks = [], []
    for i in range(kh):
        for j in range(kw):
            rs = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
            cs = slice(j * dw, j * dw + (ow - 1) * sw + 1, sw)
            wins.append(xp[:, rs, cs, :])
            masks.append(valid[rs, cs])
    return np.stack(wins, axis=3), np.stack(masks, axis=2)


class _Pool(OpDef):
    attrs = {"kernel": REQUIRED, "strides": (1, 1), "pads": (0, 0, 0, 0), "dilations": (1, 1),
             "act_min": None, "act_max": None}
    keeps_quant = True

    def infer(self, node, ins):
        n, h, w, c = ins[0].shape
        kh, kw = node.attrs["kernel"]
        t, l, b, r = node.attrs["pads"]
        dh, dw = node.attrs["dilations"]
        oh = conv_out_size(h, kh, node.attrs["strides"][0], dh, t, b)
        ow = conv_out_size(w, kw, node.attrs["strides"][1], dw, l, r)
        return [((n, oh, ow, c), ins[0].dtype)]

    def int8_params(self, node, g):
        lo, hi = act_range_int8(node, g.tensors[node.outputs[0]].quant)
        return {"act_min": lo, "act_max": hi}

    def macs(self, node, g):
        kh, kw = node.attrs["kernel"]
        return g.tensors[node.outputs[0]].size * kh * kw


@register
class MaxPool(_Pool):
    name = "maxpool"

    def run_float(self, node, xs):
        win, _ = windows(xs[0], node, -np.inf)
        return [apply_act_float(node, win.max(axis=3).astype(np.float32))]

    def run_int8(self, node, xs, p):
        win, _ = windows(xs[0].astype(np.int64), node, -(1 << 20))
        return [np.clip(win.max(axis=3), p["act_min"], p["act_max"]).astype(np.int8)]


@register
class AvgPool(_Pool):
    """Average over the window; padding is excluded from the count unless count_include_pad."""
    name = "avgpool"
    attrs = dict(_Pool.attrs, count_include_pad=0)

    def _counts(self, node, mask):
        if node.attrs["count_include_pad"]:
            return np.full(mask.shape[:2], mask.shape[2], np.int64)
        return mask.sum(axis=2).astype(np.int64)

    def run_float(self, node, xs):
        win, mask = windows(xs[0].astype(np.float64), node, 0.0)
        y = win.sum(axis=3) / self._counts(node, mask)[None, :, :, None]
        return [apply_act_float(node, y.astype(np.float32))]

    def int8_params(self, node, g):
        p = super().int8_params(node, g)
        p["zp"] = g.tensors[node.inputs[0]].quant.zp
        return p

    def run_int8(self, node, xs, p):
        # Padded cells hold the zero point, so counting them (count_include_pad) averages in zeros.
        win, mask = windows(xs[0].astype(np.int64), node, p["zp"])
        acc = win.sum(axis=3)
        cnt = self._counts(node, mask)[None, :, :, None]
        # TFLite: round half away from zero with C's truncating division.
        y = np.where(acc > 0, (acc + cnt // 2) // cnt, -((-acc + cnt // 2) // cnt))
        return [np.clip(y, p["act_min"], p["act_max"]).astype(np.int8)]
