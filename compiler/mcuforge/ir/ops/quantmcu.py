"""QuantMCU (value-driven mixed precision for patch-based inference, schedule/quantmcu.py): the
run-time outlier check of a patch and the dual-precision layers that follow it.

    y, flag = qm_check(x, lo=, hi=, bits=, out_scale=, out_zp=)
        flag = 1 when some x < lo or x > hi (int8 codes of x's grid: the patch holds outliers),
        and y = x (the branch runs at 8 bits); else flag = 0 and y = x requantized to the
        b-bit grid (out_scale, out_zp), values in [-2^(b-1), 2^(b-1) - 1] stored in int8.
    y = qm_dual(<inputs of the inner op>, flag, <extra low-path constants>, op=, inner=, n_in=,
                low_inputs=, low_attrs=, low_q=)
        flag != 0: the inner op on its inputs with the tensors' own (8-bit) quantization;
        flag == 0: the inner op on inputs[low_inputs] with the low grids `low_q` ({tensor:
        [scale, zero point, bits]}, tensors not named keep their 8-bit grid) and low_attrs (the
        fused clamp narrowed to the output's b-bit range: the requantization clamps to it).

Sub-8-bit activations are int8 tensors whose values lie on a narrower grid: the integer rules
are int8's (TFLite's requantization), with other scales, zero points and clamp bounds, so every
int8 kernel computes a low-bit layer exactly; the C backend emits both kernels and branches on
the flag (codegen/c/layers/quantmcu.py), over one set of patch buffers."""
from __future__ import annotations

from collections import ChainMap

import numpy as np

from ...reference import arith
from ..graph import Node
from ..tensor import QuantParams
from .base import REQUIRED, OpDef, get_op, register


def qrange(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def check_params(x_quant, node: Node) -> dict:
    """The 8-bit -> b-bit requantization of qm_check (identity at 8 bits)."""
    bits = int(node.attrs["bits"])
    lo, hi = qrange(bits)
    if bits == 8:
        return {"in_zp": 0, "out_zp": 0, "mult": 1 << 30, "shift": 1, "act_min": lo, "act_max": hi, "identity": 1}
    m, s = arith.quantize_multiplier(x_quant.s / float(node.attrs["out_scale"]))
    return {"in_zp": x_quant.zp, "out_zp": int(node.attrs["out_zp"]), "mult": m, "shift": s,
            "act_min": lo, "act_max": hi, "identity": 0}


@register
class QmCheck(OpDef):
    name = "qm_check"
    attrs = {"lo": REQUIRED, "hi": REQUIRED, "bits": REQUIRED, "out_scale": 1.0, "out_zp": 0}

    def infer(self, node, ins):
        return [(ins[0].shape, ins[0].dtype), ((1,), "int8")]

    def run_float(self, node, xs):
        raise NotImplementedError("qm_check is an int8 op")

    def int8_params(self, node, g):
        return dict(check_params(g.tensors[node.inputs[0]].quant, node), lo=int(node.attrs["lo"]),
                    hi=int(node.attrs["hi"]))

    def run_int8(self, node, xs, p):
        x = xs[0].astype(np.int64)
        outlier = bool(np.any((x < p["lo"]) | (x > p["hi"])))
        if outlier or p["identity"]:
            y = x
        else:
            y = arith.saturate(arith.multiply_by_quantized_multiplier(x - p["in_zp"], p["mult"], p["shift"])
                               + p["out_zp"], p["act_min"], p["act_max"])
        return [y.astype(np.int8), np.array([1 if outlier else 0], np.int8)]


class LowView:
    """g seen by the low path: the tensors of `low_q` on their b-bit grids, the rest as in g."""

    def __init__(self, g, low_q: dict):
        self._g = g
        swaps = {}
        for name, (scale, zp, _bits) in low_q.items():
            if name in g.tensors:
                t = g.tensors[name]
                c = type(t)(t.name, t.shape, t.dtype, t.data, QuantParams(float(scale), int(zp)), dict(t.meta))
                swaps[name] = c
        self.tensors = ChainMap(swaps, g.tensors)

    def __getattr__(self, item):
        return getattr(self._g, item)


def inner_nodes(node: Node) -> tuple[Node, Node]:
    """(8-bit node, low-bit node) of a qm_dual: the inner op on its own inputs."""
    n = int(node.attrs["n_in"])
    inner = dict(node.attrs["inner"])
    hi = Node(node.name, node.attrs["op"], list(node.inputs[:n]), list(node.outputs), dict(inner))
    low_attrs = dict(inner)
    low_attrs.update(node.attrs.get("low_attrs", {}))
    lo = Node(node.name, node.attrs["op"], [node.inputs[i] for i in node.attrs["low_inputs"]],
              list(node.outputs), low_attrs)
    return hi, lo


def flag_input(node: Node) -> str:
    return node.inputs[int(node.attrs["n_in"])]


@register
class QmDual(OpDef):
    name = "qm_dual"
    attrs = {"op": REQUIRED, "inner": REQUIRED, "n_in": REQUIRED, "low_inputs": REQUIRED,
             "low_attrs": {}, "low_q": {}}

    def infer(self, node, ins):
        hi, _ = inner_nodes(node)
        op = get_op(hi.op)
        op.check_attrs(hi)
        return op.infer(hi, ins[:int(node.attrs["n_in"])])

    def run_float(self, node, xs):
        raise NotImplementedError("qm_dual is an int8 op")

    def int8_params(self, node, g):
        hi, lo = inner_nodes(node)
        op = get_op(hi.op)
        for n in (hi, lo):
            op.check_attrs(n)
        return {"hi": op.int8_params(hi, g), "lo": op.int8_params(lo, LowView(g, node.attrs["low_q"])),
                "hi_node": hi, "lo_node": lo}

    def run_int8(self, node, xs, p):
        op = get_op(node.attrs["op"])
        n = int(node.attrs["n_in"])
        if int(np.asarray(xs[n]).reshape(-1)[0]):
            return op.run_int8(p["hi_node"], xs[:n], p["hi"])
        return op.run_int8(p["lo_node"], [xs[i] for i in node.attrs["low_inputs"]], p["lo"])

    def macs(self, node, g):
        hi, _ = inner_nodes(node)
        return get_op(hi.op).macs(hi, g)
