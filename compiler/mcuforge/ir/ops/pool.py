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

    def fixed_params(self, node, g):
        from ...reference import fixed_arith
        t = fixed_arith.tensor_type(g, node.outputs[0])
        lo, hi = fixed_arith.act_bounds(t, node.attrs.get("act_min"), node.attrs.get("act_max"))
        return {"out": t, "act_lo": lo, "act_hi": hi}

    def macs(self, node, g):
        kh, kw = node.attrs["kernel"]
        return g.tensors[node.outputs[0]].size * kh * kw


@register
class MaxPool(_Pool):
    name = "maxpool"

    def run_float(self, node, xs):
        win, _ = windows(xs[0], node, -np.inf)
        return [apply_act_float(node, win.max(axis=3).astype(np.float32))]

    def run_fixed(self, node, xs, p):
        win, _ = windows(xs[0].astype(np.int64), node, np.iinfo(np.int64).min)  # padding never wins
        return [np.clip(win.max(axis=3), p["act_lo"], p["act_hi"])]

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

    def fixed_params(self, node, g):
        # The divisor must be one power of two for every window, so the mean is a shift.
        from ...errors import McuforgeError
        from ...reference import fixed_arith
        p = super().fixed_params(node, g)
        _, mask = windows(np.zeros((1,) + g.tensors[node.inputs[0]].shape[1:], np.int64), node, 0)
        counts = np.unique(self._counts(node, mask))
        if counts.size != 1 or int(counts[0]) & (int(counts[0]) - 1):
            raise McuforgeError(f"avgpool {node.name}: window counts {counts.tolist()} are not one power "
                                "of two; the fixed-point backends divide by shifting")
        p["shift"] = int(counts[0]).bit_length() - 1
        t = fixed_arith.tensor_type(g, node.inputs[0])
        p["in_frac"] = t.frac
        p["acc_width"] = t.width + p["shift"]
        return p

    def run_fixed(self, node, xs, p):
        from ...reference import fixed_arith
        win, _ = windows(xs[0].astype(np.int64), node, 0)
        acc = win.sum(axis=3)
        y = fixed_arith.cast(acc, p["in_frac"] + p["shift"], p["out"])
        return [np.clip(y, p["act_lo"], p["act_hi"])]

    def run_int8(self, node, xs, p):
        # Padded cells hold the zero point, so counting them (count_include_pad) averages in zeros.
        win, mask = windows(xs[0].astype(np.int64), node, p["zp"])
        if not node.attrs["count_include_pad"]:
            # excluded from the count, so excluded from the sum too (as TFLite and the C kernel do)
            win = np.where(mask[None, :, :, :, None], win, 0)
        acc = win.sum(axis=3)
        cnt = self._counts(node, mask)[None, :, :, None]
        # TFLite: round half away from zero with C's truncating division.
        y = np.where(acc > 0, (acc + cnt // 2) // cnt, -((-acc + cnt // 2) // cnt))
        return [np.clip(y, p["act_min"], p["act_max"]).astype(np.int8)]
