"""The `fixed` scheme: every tensor becomes <W bits, F fractional bits> with a power-of-two scale.

Widths are given (activations, weights); the binary point of each tensor is chosen from its
calibration range so that the largest magnitude fits with a sign bit: I = floor(log2 max|x|) + 2
integer bits, F = W - I. Ops that only move or compare values (pooling, reshape, relu) keep their
input's type, so they never requantize. Weights take their binary point from their own range;
biases are stored at the accumulator's binary point (Fx + Fw), so adding them is exact.

The result is a graph with g.meta["quant"] == "fixed" whose activations and constants hold raw
int64 values and carry tensor.meta["fixed"] (a FixedType); reference/executor.py runs it exactly.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import McuforgeError, UnsupportedOpError
from ..ir.graph import Graph
from ..ir.ops import get_op
from ..reference import fixed_arith
from ..reference.fixed_arith import MAX_WIDTH, FixedType

FIXED_OPS = {"dense", "conv2d", "add", "sub", "maxpool", "avgpool", "reshape", "relu", "clip", "hardswish", "concat"}
PASS_THROUGH = {"maxpool", "avgpool", "reshape", "relu", "clip"}  # output type = input type
MAC_OPS = {"dense", "conv2d"}
SUBBYTE_BITS = (4, 2)  # weight widths that mean the sub-byte grids: int4 [-7, 7], ternary {-1, 0, 1}


def int_bits_for(max_abs: float) -> int:
    """Integer bits (sign included) that hold +-max_abs."""
    if not max_abs > 0 or not math.isfinite(max_abs):
        return 1
    return math.floor(math.log2(max_abs)) + 2


def type_for_range(lo: float, hi: float, width: int, rounding: str, overflow: str) -> FixedType:
    return FixedType(width, width - int_bits_for(max(abs(lo), abs(hi))), rounding, overflow)


def check_width(width: int, what: str):
    if not 1 < width <= MAX_WIDTH:
        raise McuforgeError(f"{what} width {width} is outside 2..{MAX_WIDTH} bits (ap_fixed and the "
                            "golden model hold at most 64)")


def quantize_fixed(g: Graph, ranges: dict[str, tuple[float, float]], act_bits: int = 16,
                   weight_bits: int = 8, rounding: str = "rnd", overflow: str = "sat",
                   overrides: dict[str, FixedType] | None = None, ternary_method: str = "absmean",
                   per_channel: bool = True) -> Graph:
    """Float graph + calibration ranges -> fixed-point graph. `overrides` pins the type of any
    tensor by name (activation or constant), e.g. to try wrap/truncate modes on one layer.
    weight_bits 4 and 2 are the sub-byte grids (int4 [-7, 7], ternary {-1, 0, 1} with
    `ternary_method`'s scale; quant/subbyte.py: fixed_subbyte_weights) with a power-of-two scale
    per output channel (node attribute "weight_shift"; `per_channel=False`: one per layer), other
    widths plain fixed-point weights."""
    check_width(act_bits, "activation")
    check_width(weight_bits, "weight")
    if rounding not in fixed_arith.ROUNDING or overflow not in fixed_arith.OVERFLOW:
        raise McuforgeError(f"rounding must be one of {fixed_arith.ROUNDING} and overflow one of "
                            f"{fixed_arith.OVERFLOW}, not {rounding!r}/{overflow!r}")
    overrides = dict(overrides or {})
    for name, t in overrides.items():
        check_width(t.width, f"tensor {name}")
    g = g.copy()
    order = g.topo_order()
    for n in order:
        if n.op not in FIXED_OPS:
            raise UnsupportedOpError(n.op, n.name, "the fixed-point FPGA backends (HLS and RTL) support "
                                     + ", ".join(sorted(FIXED_OPS)))

    def act_type(name: str) -> FixedType:
        if name in overrides:
            return overrides[name]
        if name not in ranges:
            raise McuforgeError(f"tensor {name} has no calibration range")
        return type_for_range(*ranges[name], act_bits, rounding, overflow)

    for name in g.inputs:
        _set(g, name, act_type(name))
    for n in order:
        out = n.outputs[0]
        if n.op in PASS_THROUGH and not (n.op == "avgpool" and out in overrides):
            _set(g, out, g.tensors[n.inputs[0]].meta["fixed"])  # an average may have its own type (a cast)
        else:
            _set(g, out, act_type(out))
        if n.op in MAC_OPS:
            _quantize_weights(g, n, weight_bits, rounding, overrides, ternary_method, per_channel)
        elif any(g.tensors[t].is_const for t in n.inputs if t):
            raise UnsupportedOpError(n.op, n.name, "a constant operand is only supported as conv/dense weights")
    g.meta["quant"] = "fixed"
    g.meta["fixed_config"] = {"act_bits": act_bits, "weight_bits": weight_bits,
                              **({"ternary_method": ternary_method} if weight_bits == 2 else {}),
                              **({"per_channel": per_channel} if weight_bits in SUBBYTE_BITS else {}),
                              "rounding": rounding, "overflow": overflow}
    g.prune_tensors()
    return g


def _set(g: Graph, name: str, t: FixedType):
    tensor = g.tensors[name]
    tensor.meta["fixed"] = t
    tensor.dtype = "int64"


def _quantize_weights(g: Graph, n, weight_bits: int, rounding: str, overrides: dict,
                      ternary_method: str = "absmean", per_channel: bool = True):
    w = g.tensors[n.inputs[1]]
    bias = g.tensors[n.inputs[2]] if len(n.inputs) > 2 and n.inputs[2] else None
    shifts = sub = None
    if w.name in overrides:  # a QONNX weight on the int4 / ternary grid: the sub-byte layer, exactly
        from .qonnx import subbyte_weights
        sub = subbyte_weights(w, bias)
    elif weight_bits in SUBBYTE_BITS:
        from .subbyte import fixed_subbyte_weights
        sub = fixed_subbyte_weights(w.data, weight_bits, ternary_method, per_channel)
    if sub is not None:
        raw, wt, shifts = sub
        n.attrs["weight_bits"] = wt.width
        n.attrs.pop("weight_shift", None)
        if shifts.any():  # per-channel power-of-two scales (fixed_arith.mac_params)
            n.attrs["weight_shift"] = [int(v) for v in shifts]
    else:
        wt = overrides.get(w.name) or type_for_range(float(np.abs(w.data).max(initial=0.0)), 0.0,
                                                     weight_bits, rounding, "sat")
        raw = fixed_arith.from_float(w.data, wt)
    wq = g.const(w.name + "_fx", raw, "int64")
    wq.meta["fixed"] = wt
    g.set_inputs(n, [n.inputs[0], wq.name])
    acc = get_op(n.op).fixed_params(n, g)  # accumulator format; raises if wider than 64 bits
    if bias is not None:
        bt = FixedType(acc["acc_width"], acc["acc_frac"], "rnd", "sat")
        exact = fixed_arith.from_float(bias.data, FixedType(MAX_WIDTH, acc["acc_frac"]))
        if np.array_equal(fixed_arith.to_float(exact, bt), np.asarray(bias.data, np.float64)):
            # a bias already on the accumulator's grid (QONNX / QFX, e.g. a BatchNorm's shift) is
            # kept exactly: wider than the products' sum if it must be (mac_params widens the sum)
            need = max((-int(exact.min(initial=0)) - 1).bit_length(), int(exact.max(initial=0)).bit_length()) + 1
            bt = FixedType(max(bt.width, need), bt.frac, "rnd", "sat")
        braw = fixed_arith.from_float(bias.data, bt)
        if shifts is not None and shifts.any():
            # on channel c's own grid 2^-(acc_frac - s_c): the hardware starts the channel's sum
            # at bias >> s_c and shifts the whole sum left by s_c (exact: a multiple of 2^s_c)
            braw = fixed_arith.from_float(np.ldexp(np.asarray(bias.data, np.float64), -shifts),
                                          FixedType(bt.width, bt.frac)) << shifts
            braw = fixed_arith.overflow(braw, bt) >> shifts << shifts
        bq = g.const(bias.name + "_fx", braw, "int64")
        bq.meta["fixed"] = bt
        g.set_inputs(n, n.inputs + [bq.name])


def input_to_raw(g: Graph, name: str, x: np.ndarray) -> np.ndarray:
    """A real-valued graph input in its fixed-point type (raw int64)."""
    return fixed_arith.from_float(x, g.tensors[name].meta["fixed"])


def raw_to_real(g: Graph, name: str, raw: np.ndarray) -> np.ndarray:
    return fixed_arith.to_float(raw, g.tensors[name].meta["fixed"])
