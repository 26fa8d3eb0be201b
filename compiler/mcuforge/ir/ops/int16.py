"""The 16x8 contract (TFLite's int16 activations, int8 weights, int64 or int32 bias): what each op
that supports it computes on int16 tensors, for the golden model and the C backend.

An op's int16 semantics are a (params, run) pair registered here by op name, next to its int8
ones (the op classes); a node runs them when its first input or its output is int16 (see
is_int16_node). Zero points of int16 activations are 0 (TFLite's symmetric int16 rule), checked
once in `require_symmetric`. Arithmetic rules: reference/int16_arith.py."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...reference import arith
from ...reference import int16_arith as a16
from .base import act_range_int8, get_op, per_channel_requant_params
from .conv2d import window_sum
from .conv_transpose import scatter_sum
from .mean import reduced_axes
from .pool import windows

QMIN, QMAX = a16.INT16_MIN, a16.INT16_MAX


@dataclass(frozen=True)
class Int16Semantics:
    params: callable    # (node, g) -> dict
    run: callable       # (node, xs, p) -> [np.ndarray]


INT16: dict[str, Int16Semantics] = {}


def int16_op(*names):
    def deco(cls):
        for n in names:
            INT16[n] = Int16Semantics(cls.params, cls.run)
        return cls
    return deco


def is_int16_node(g, node) -> bool:
    first = g.tensors[node.inputs[0]] if node.inputs and node.inputs[0] else None
    return (first is not None and first.dtype == "int16") or g.tensors[node.outputs[0]].dtype == "int16"


def int16_semantics(node) -> Int16Semantics:
    s = INT16.get(node.op)
    if s is None:
        from ...errors import UnsupportedOpError
        raise UnsupportedOpError(node.op, node.name, "no int16 (16x8) semantics; TFLite Micro's int16 ops "
                                 f"mcuforge runs: {', '.join(sorted(INT16))}")
    return s


def require_symmetric(g, node, names):
    for t in names:
        q = g.tensors[t].quant
        if g.tensors[t].dtype == "int16" and (q is None or np.any(q.zero_point != 0)):
            raise ValueError(f"{node.op} {node.name}: int16 tensor {t!r} must be quantized with zero point 0")


def _out(y, p):
    return [np.clip(y, p["act_min"], p["act_max"]).astype(np.int16)]


def _requant_acc(acc, p):
    """The accumulator (int64 with an int64 bias, int32 otherwise) requantized per channel."""
    if p["acc64"]:
        return a16.multiply_by_quantized_multiplier_64(acc, p["mult"], p["shift"])
    return arith.multiply_by_quantized_multiplier(arith.wrap_int32(acc), p["mult"], p["shift"])


# -- conv2d (depthwise included), dense, conv_transpose2d: int64 accumulation ---------------------
class _Weighted:
    @staticmethod
    def params(node, g):
        require_symmetric(g, node, [node.inputs[0], node.outputs[0]])
        p = per_channel_requant_params(node, g, QMIN, QMAX)
        bias = g.tensors[node.inputs[2]] if len(node.inputs) > 2 and node.inputs[2] else None
        p["acc64"] = bias is None or bias.dtype == "int64"
        x = g.tensors[node.inputs[0]]
        depthwise = node.op == "conv2d" and node.attrs["groups"] == x.shape[-1] > 1
        if not p["acc64"] and (depthwise or node.op == "conv_transpose2d"):
            # TFLite Micro reads these biases as int64 whatever their type (checked: it then
            # computes garbage), and TensorFlow's converter writes int64 there
            raise ValueError(f"{node.op} {node.name}: a 16x8 {'depthwise' if depthwise else 'transposed'} "
                             "convolution needs an int64 bias (TFLite Micro reads it as int64)")
        return p


@int16_op("conv2d")
class Conv16(_Weighted):
    @staticmethod
    def run(node, xs, p):
        conv = get_op("conv2d")
        acc = window_sum(conv._pad(node, xs[0].astype(np.int64), 0), xs[1].astype(np.int64),
                         node.attrs["strides"], node.attrs["dilations"], node.attrs["groups"],
                         conv.out_hw(node, xs[0].shape, xs[1].shape))
        if len(xs) > 2 and xs[2] is not None:
            acc = acc + xs[2].astype(np.int64)
        return _out(_requant_acc(acc, p), p)


@int16_op("dense")
class Dense16(_Weighted):
    @staticmethod
    def run(node, xs, p):
        acc = xs[0].astype(np.int64) @ xs[1].astype(np.int64).T
        if len(xs) > 2 and xs[2] is not None:
            acc = acc + xs[2].astype(np.int64)
        return _out(_requant_acc(acc, p), p)


@int16_op("conv_transpose2d")
class ConvTranspose16(_Weighted):
    @staticmethod
    def run(node, xs, p):
        acc = scatter_sum(xs[0].astype(np.int64), xs[1].astype(np.int64), node)
        if len(xs) > 2 and xs[2] is not None:
            acc = acc + xs[2].astype(np.int64)
        return _out(_requant_acc(acc, p), p)


# -- elementwise binary ----------------------------------------------------------------------------
@int16_op("add", "sub")
class AddSub16:
    @staticmethod
    def params(node, g):
        require_symmetric(g, node, list(node.inputs[:2]) + [node.outputs[0]])
        return get_op(node.op).int8_params(node, g, left_shift=15, qmin=QMIN, qmax=QMAX)

    @staticmethod
    def run(node, xs, p):
        from .binary import rescaled_inputs
        x1, x2 = rescaled_inputs(xs, p)
        sign = -1 if node.op == "sub" else 1
        y = arith.multiply_by_quantized_multiplier(x1 + sign * x2, p["out_mult"], p["out_shift"]) + p["out_zp"]
        return _out(y, p)


@int16_op("mul")
class Mul16:
    @staticmethod
    def params(node, g):
        require_symmetric(g, node, list(node.inputs[:2]) + [node.outputs[0]])
        p = get_op("mul").int8_params(node, g)
        p["act_min"], p["act_max"] = act_range_int8(node, g.tensors[node.outputs[0]].quant, QMIN, QMAX)
        return p

    @staticmethod
    def run(node, xs, p):
        prod = (xs[0].astype(np.int64) - p["in1_zp"]) * (xs[1].astype(np.int64) - p["in2_zp"])
        y = arith.multiply_by_quantized_multiplier(prod, p["mult"], p["shift"]) + p["out_zp"]
        return _out(y, p)


# -- pooling ------------------------------------------------------------------------------------------
def _pool_params(node, g):
    require_symmetric(g, node, [node.inputs[0], node.outputs[0]])
    lo, hi = act_range_int8(node, g.tensors[node.outputs[0]].quant, QMIN, QMAX)
    return {"act_min": lo, "act_max": hi}


@int16_op("maxpool")
class MaxPool16:
    params = staticmethod(_pool_params)

    @staticmethod
    def run(node, xs, p):
        win, _ = windows(xs[0].astype(np.int64), node, -(1 << 40))
        return _out(win.max(axis=3), p)


@int16_op("avgpool")
class AvgPool16:
    params = staticmethod(_pool_params)

    @staticmethod
    def run(node, xs, p):
        win, mask = windows(xs[0].astype(np.int64), node, 0)
        acc = win.sum(axis=3)
        if node.attrs["count_include_pad"]:
            cnt = np.full(mask.shape[:2], mask.shape[2], np.int64)[None, :, :, None]
        else:
            cnt = mask.sum(axis=2).astype(np.int64)[None, :, :, None]
        y = np.where(acc > 0, (acc + cnt // 2) // cnt, -((-acc + cnt // 2) // cnt))
        return _out(y, p)


# -- activations ---------------------------------------------------------------------------------------
@int16_op("sigmoid", "tanh")
class SigmoidTanh16:
    @staticmethod
    def params(node, g):
        require_symmetric(g, node, [node.inputs[0], node.outputs[0]])
        xq, oq = g.tensors[node.inputs[0]].quant, g.tensors[node.outputs[0]].quant
        return a16.sigmoid_tanh_params(xq.s, oq.s, node.op)

    @staticmethod
    def run(node, xs, p):
        fn = a16.sigmoid_int16 if node.op == "sigmoid" else a16.tanh_int16
        return [fn(xs[0], p).astype(np.int16)]


@int16_op("softmax")
class Softmax16:
    @staticmethod
    def params(node, g):
        require_symmetric(g, node, [node.inputs[0], node.outputs[0]])
        xq, oq = g.tensors[node.inputs[0]].quant, g.tensors[node.outputs[0]].quant
        if abs(float(np.float32(oq.s)) * 32768 - 1) > 1e-3:
            raise ValueError(f"softmax {node.name}: int16 output must have scale 1/32768, zero point 0")
        real = float(np.float32(xq.s)) * float(np.float32(node.attrs["beta"])) / (10.0 / 65535.0)
        mult, shift = arith.quantize_multiplier(real)
        exp_lut, recip_lut = a16.softmax_luts()
        return {"mult": mult, "shift": shift, "exp_lut": exp_lut, "recip_lut": recip_lut}

    @staticmethod
    def run(node, xs, p):
        ax = node.attrs["axis"] % xs[0].ndim
        y = a16.softmax_int16(np.moveaxis(xs[0], ax, -1), p)
        return [np.moveaxis(y, -1, ax).astype(np.int16)]


# -- conversions ------------------------------------------------------------------------------------
@int16_op("requantize")
class Requantize16:
    """int8 <-> int16 <-> int16: TFLite's Requantize (Q31 multiplier s_in / s_out, zero points)."""
    @staticmethod
    def params(node, g):
        x, y = g.tensors[node.inputs[0]], g.tensors[node.outputs[0]]
        require_symmetric(g, node, [node.inputs[0], node.outputs[0]])
        mult, shift = arith.quantize_multiplier(x.quant.s / y.quant.s)
        lo, hi = (QMIN, QMAX) if y.dtype == "int16" else (-128, 127)
        return {"in_zp": x.quant.zp, "out_zp": y.quant.zp, "mult": mult, "shift": shift,
                "act_min": lo, "act_max": hi}

    @staticmethod
    def run(node, xs, p):
        y = arith.multiply_by_quantized_multiplier(xs[0].astype(np.int64) - p["in_zp"], p["mult"], p["shift"])
        return [np.clip(y + p["out_zp"], p["act_min"], p["act_max"])]


@int16_op("quantize")
class Quantize16:
    @staticmethod
    def params(node, g):
        require_symmetric(g, node, [node.outputs[0]])
        q = g.tensors[node.outputs[0]].quant
        return {"scale": q.s, "zp": q.zp}

    @staticmethod
    def run(node, xs, p):
        return [np.clip(arith.round_half_away(xs[0] / p["scale"]) + p["zp"], QMIN, QMAX).astype(np.int16)]


@int16_op("dequantize")
class Dequantize16:
    @staticmethod
    def params(node, g):
        return get_op("dequantize").int8_params(node, g)

    @staticmethod
    def run(node, xs, p):
        return get_op("dequantize").run_int8(node, xs, p)


# -- reductions ---------------------------------------------------------------------------------------
@int16_op("mean")
class Mean16:
    @staticmethod
    def params(node, g):
        require_symmetric(g, node, [node.inputs[0], node.outputs[0]])
        return get_op("mean").int8_params(node, g)

    @staticmethod
    def run(node, xs, p):
        s = xs[0].astype(np.int64).sum(axis=reduced_axes(node, xs[0].ndim), keepdims=bool(node.attrs["keepdims"]))
        y = arith.multiply_by_quantized_multiplier(arith.wrap_int32(s - p["in_zp"] * p["count"]),
                                                   p["mult"], p["shift"]) + p["out_zp"]
        return [np.clip(y, QMIN, QMAX).astype(np.int16)]


# -- data movement: the int8 semantics move values of any width ------------------------------------
@int16_op("reshape", "transpose", "concat", "slice", "gather", "broadcast_to", "tile")
class Move16:
    @staticmethod
    def params(node, g):
        return get_op(node.op).int8_params(node, g)

    @staticmethod
    def run(node, xs, p):
        return get_op(node.op).run_int8(node, xs, p)


@int16_op("pad")
class Pad16:
    @staticmethod
    def params(node, g):
        q = g.tensors[node.inputs[0]].quant
        fill = int(np.clip(arith.round_half_away(node.attrs["value"] / q.s) + q.zp, QMIN, QMAX))
        return {"fill": fill}

    @staticmethod
    def run(node, xs, p):
        return get_op("pad").run_int8(node, xs, p)
