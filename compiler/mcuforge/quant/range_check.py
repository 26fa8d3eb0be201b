"""Compile-time range proofs of the int8 integer layers (issue 15, item 2).

For every layer whose C kernel accumulates and requantizes in int32, bound the accumulator from
the actual weights, biases and zero points, and check that
  - the accumulator (bias + sum of (x - in_zp) * w) stays within int32,
  - the requantization's left shift (shift > 0) cannot wrap: |acc| * 2^shift < 2^31,
  - adding the output zero point to the requantized value cannot overflow int32,
so that no C expression in the kernels (reference, tuned, DSP, MVE) overflows. A layer outside
these bounds is refused, naming it: TFLite's reference arithmetic is undefined there (signed
overflow) and its ADD / SUB refuse an output multiplier >= 1 at prepare time, as we do.

Inputs are any int8 value (-128..127) minus the input zero point, so |x - in_zp| <= 128 + |in_zp|."""
from __future__ import annotations

import numpy as np

from ..errors import McuforgeError
from ..ir.graph import Graph
from ..ir.ops import get_op

LIMIT = (1 << 31) - 1 - 256   # |requantized| + |out_zp| (and a rounding step) must stay in int32


def _span(zp: int) -> int:
    return 128 + abs(int(zp))


def _check(node, what: str, bound, shift, extra: str = ""):
    bound = np.asarray(bound, dtype=object)   # Python ints: exact, no numpy overflow
    shift = np.broadcast_to(np.asarray(shift, np.int64), bound.shape)
    for c, (b, s) in enumerate(zip(bound.reshape(-1), shift.reshape(-1))):
        b = int(b)
        if b > (1 << 31) - 1:
            raise McuforgeError(f"{node.op} node {node.name!r}: {what} can reach {b} (channel {c}), beyond int32"
                                f"{extra}; the quantization parameters or weights are out of range")
        scaled = b << max(int(s), 0)
        if scaled > LIMIT:
            raise McuforgeError(f"{node.op} node {node.name!r}: requantization scale 2^{int(s)} (channel {c}) "
                                f"overflows int32 for {what} up to {b}{extra}; the effective scale "
                                f"(input scale * weight scale / output scale) is out of the range TFLite supports")


def check_int8_ranges(g: Graph) -> Graph:
    from ..ir.ops.int16 import is_int16_node
    for node in g.topo_order():
        op = get_op(node.op)
        if is_int16_node(g, node):
            check_int16_node(g, node)
            continue
        if node.op != "lut" and any(g.tensors[t].dtype == "int8" for t in node.outputs):
            try:
                op.int8_params(node, g)
            except (ValueError, ZeroDivisionError, OverflowError, AssertionError, AttributeError, TypeError) as e:
                raise McuforgeError(f"{node.op} node {node.name!r}: its int8 parameters cannot be derived "
                                    f"({e or type(e).__name__})") from None
        if node.op in ("conv2d", "dense", "conv_transpose2d"):  # weights [cout, ...]: one bound per channel
            x, w = g.tensors[node.inputs[0]], g.tensors[node.inputs[1]]
            if x.dtype != "int8" or x.quant is None or w.quant is None:
                continue
            p = op.int8_params(node, g)
            cout = w.shape[0]
            if w.data is not None:
                sabs = np.abs(w.data.astype(np.int64)).reshape(cout, -1).sum(axis=1)
            else:
                sabs = np.full(cout, 128 * int(np.prod(w.shape[1:])), np.int64)
            bound = [int(s) * _span(p["in_zp"]) for s in sabs]
            if len(node.inputs) > 2 and node.inputs[2] and g.tensors[node.inputs[2]].data is not None:
                b = np.abs(g.tensors[node.inputs[2]].data.astype(np.int64)).reshape(-1)
                b = np.broadcast_to(b, (cout,))
                bound = [s + int(bb) for s, bb in zip(bound, b)]
            _check(node, "the accumulator", bound, p["shift"])
        elif node.op in ("add", "sub"):
            p = op.int8_params(node, g)
            if p["out_shift"] > 0 or (p["out_shift"] == 0 and p["out_mult"] >= (1 << 31) - 1):
                raise McuforgeError(f"{node.op} node {node.name!r}: output scale {g.tensors[node.outputs[0]].quant.s:g} "
                                    f"is more than 2^{p['left_shift']} / 2 times finer than the inputs' "
                                    f"(output multiplier >= 1); TFLite refuses such an ADD / SUB too")
        elif node.op == "matmul" and g.tensors[node.inputs[0]].dtype == "int8":
            p = op.int8_params(node, g)
            k = g.tensors[node.inputs[0]].shape[-1]
            _check(node, "the accumulator", k * _span(p["a_zp"]) * _span(p["b_zp"]), p["shift"])
        elif node.op in ("max", "min", "squared_difference") and g.tensors[node.inputs[0]].dtype == "int8":
            p = op.int8_params(node, g)  # each input is shifted left, then rescaled to a common grid
            if not p.get("raw"):
                for i in (1, 2):
                    _check(node, f"input {i}", _span(p[f"in{i}_zp"]) << p["left_shift"], p[f"in{i}_shift"])
        elif node.op == "prelu" and g.tensors[node.inputs[0]].dtype == "int8":
            p = op.int8_params(node, g)
            _check(node, "the input", _span(p["in_zp"]), p["shift_pos"])
            _check(node, "the product", _span(p["in_zp"]) * _span(p["alpha_zp"]), p["shift_neg"])
        elif node.op == "l2_normalize" and g.tensors[node.inputs[0]].dtype == "int8":
            p = op.int8_params(node, g)  # int32 sum of squares along the axis
            axis_len = g.tensors[node.inputs[0]].shape[node.attrs["axis"]]
            _check(node, "the sum of squares", axis_len * _span(p["in_zp"]) ** 2, 0)
        elif node.op == "layernorm" and g.tensors[node.inputs[0]].dtype == "int8":
            p = op.int8_params(node, g)  # normalized value |q| <= 2^30, then one requantization
            _check(node, "the normalized value", np.full(len(p["shift"]), 1 << 30, dtype=object), p["shift"])
            if np.abs(p["bias"]).max(initial=0) + 256 > LIMIT:
                raise McuforgeError(f"layernorm node {node.name!r}: bias beyond int32")
        elif node.op == "mul":
            p = op.int8_params(node, g)
            _check(node, "the product", _span(p["in1_zp"]) * _span(p["in2_zp"]), p["shift"])
        elif node.op == "mean":
            p = op.int8_params(node, g)
            _check(node, "the sum", 255 * p["count"] + abs(p["in_zp"]) * p["count"], p["shift"])
        elif node.op == "requantize":
            from ..reference import arith
            iq = g.tensors[node.inputs[0]].quant
            oq = g.tensors[node.outputs[0]].quant
            _, s = arith.quantize_multiplier(iq.s / oq.s)
            _check(node, "the input", _span(iq.zp), s)
    return g


# -- TFLite's 16x8 scheme -----------------------------------------------------------------------
ACC64_LIMIT = 1 << 47   # TFLite's int64 requantization asserts |acc| < 2^47 (and so do we)
SPAN16 = 1 << 15        # |x - 0| for an int16 value with zero point 0


def check_int16_node(g: Graph, node):
    """Proofs for a node on int16 activations (zero points 0, so |x| <= 2^15):
    - conv2d / dense / conv_transpose2d with an int64 bias: |acc| = sum |w| * 2^15 + |bias| < 2^47,
      so x * reduced_multiplier (< 2^15) stays below 2^62 and the C int64 arithmetic is exact;
      the requantized value must fit int32 (|acc| * reduced >> (15 - shift) < 2^31);
      with an int32 bias the accumulator must stay in int32 (TFLite accumulates in int32);
    - mul: |x1 * x2| <= 2^30, then the Q31 requantization's left shift must not wrap;
    - mean: the int32 sum of count values <= 2^15 each; softmax: the int32 sum of exps;
    - requantize (int8 <-> int16): |x - zp| shifted left must not wrap;
    - add / sub: inputs shifted left by 15 (<= 2^30) and rescaled by multipliers < 1; the output
      multiplier must be < 1, as for int8."""
    from ..ir.ops.int16 import int16_semantics
    try:
        p = int16_semantics(node).params(node, g)
    except (ValueError, ZeroDivisionError, OverflowError, AssertionError, AttributeError, TypeError) as e:
        raise McuforgeError(f"{node.op} node {node.name!r}: its int16 parameters cannot be derived "
                            f"({e or type(e).__name__})") from None
    if node.op in ("conv2d", "dense", "conv_transpose2d"):
        w = g.tensors[node.inputs[1]]
        cout = w.shape[0]
        sabs = np.abs(w.data.astype(np.int64)).reshape(cout, -1).sum(axis=1) if w.data is not None else \
            np.full(cout, 128 * int(np.prod(w.shape[1:])), np.int64)
        bound = [int(v) * SPAN16 for v in sabs]
        if len(node.inputs) > 2 and node.inputs[2] and g.tensors[node.inputs[2]].data is not None:
            b = np.broadcast_to(np.abs(g.tensors[node.inputs[2]].data.astype(np.int64)).reshape(-1), (cout,))
            bound = [v + int(bb) for v, bb in zip(bound, b)]
        if not p["acc64"]:
            _check(node, "the int32 accumulator", bound, p["shift"])
            return
        from ..reference.int16_arith import reduced_multiplier
        reduced = reduced_multiplier(np.broadcast_to(p["mult"], (cout,)))
        shifts = np.broadcast_to(p["shift"], (cout,))
        for c, (b, r, s) in enumerate(zip(bound, reduced, shifts)):
            if b >= ACC64_LIMIT:
                raise McuforgeError(f"{node.op} node {node.name!r}: the int64 accumulator can reach {b} (channel "
                                    f"{c}), beyond the 2^47 TFLite's 16x8 requantization allows")
            if int(s) > 7 or (b * int(r)) >> (15 - int(s)) > LIMIT:
                raise McuforgeError(f"{node.op} node {node.name!r}: requantization scale 2^{int(s)} (channel {c}) "
                                    f"overflows int32 for the accumulator up to {b}")
    elif node.op == "mul":
        _check(node, "the product", (SPAN16 + abs(p["in1_zp"])) * (SPAN16 + abs(p["in2_zp"])), p["shift"])
    elif node.op == "mean":
        _check(node, "the sum", SPAN16 * p["count"], p["shift"])
    elif node.op == "softmax":
        axis_len = g.tensors[node.inputs[0]].shape[node.attrs["axis"]]
        _check(node, "the sum of exponentials", 32767 * axis_len, 0)
    elif node.op == "requantize":
        _check(node, "the input", SPAN16 + abs(p["in_zp"]), p["shift"])
    elif node.op in ("add", "sub"):
        if p["out_shift"] > 0 or (p["out_shift"] == 0 and p["out_mult"] >= (1 << 31) - 1):
            raise McuforgeError(f"{node.op} node {node.name!r}: output scale {g.tensors[node.outputs[0]].quant.s:g} "
                                f"is more than 2^15 / 2 times finer than the inputs' (output multiplier >= 1); "
                                "TFLite refuses such an ADD / SUB too")
