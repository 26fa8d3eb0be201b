"""conv2d / depthwise / dense layers with int4 or ternary weights (attrs["weight_bits"] < 8).

The kernels (runtime_c/include/mcf_subbyte.h) take their own argument structs: packed weights
(quant/subbyte.py) and compact per-channel constants (int32 bias and multiplier, int8 shift).
An optimized variant's `prepare` may return replacements for these arrays by name (e.g. the
weights reordered into its block layout); it never adds wider copies."""
from __future__ import annotations

import numpy as np

from ....errors import McuforgeError
from ....ir.ops import get_op
from ....quant.subbyte import check_grid, pack_weights
from .base import Layer

TEMPLATES = {"conv2d_s8": "conv2d_sub", "dense_s8": "dense_sub"}


def subbyte_weighted(ctx, node, cid, template: str, kernel: str, geometry: dict, p: dict, bias) -> Layer:
    g = ctx.g
    w = g.tensors[node.inputs[1]]
    bits = int(node.attrs["weight_bits"])
    check_grid(w.data, bits, f"node {node.name}: ")
    shift = np.asarray(p["shift"], np.int64)
    if shift.size and (shift.min() < -31 or shift.max() > 31):
        raise McuforgeError(f"node {node.name}: requantization shift {int(shift.min())}..{int(shift.max())} "
                            f"outside -31..31")
    kernel = f"{kernel}_w{bits}"
    rq = {"in_zp": p["in_zp"], "out_zp": p["out_zp"], "act_min": p["act_min"], "act_max": p["act_max"]}
    params = dict(geometry, rq=rq, has_bias=bias is not None, weight_bits=bits)
    consts = {"weights": w.data, "bias": bias, "mult": p["mult"], "shift": p["shift"]}
    variant = ctx.select.choose(kernel, dict(params, consts=consts))
    arrays = {"weights": ("uint8_t", pack_weights(w.data, bits)),
              "mult": ("int32_t", p["mult"]), "shift": ("int8_t", p["shift"])}
    if bias is not None:
        arrays["bias"] = ("int32_t", bias)
    if variant.prepare is not None:
        for what, value in (variant.prepare(params, consts) or {}).items():
            if what not in arrays and what != "bias":
                raise ValueError(f"{variant.function}: prepare may only replace {sorted(arrays)}, not {what!r}")
            if value is None:           # dropped (a variant whose constants are all in `bias`)
                arrays.pop(what)
                continue
            arrays[what] = value
    return Layer(node, TEMPLATES[template], variant.function, list(variant.sources), [ctx.refs[node.inputs[0]]],
                 [ctx.refs[node.outputs[0]]], params,
                 [ctx.array(cid, what, ctype, np.asarray(values).reshape(-1)) for what, (ctype, values) in arrays.items()],
                 macs=get_op(node.op).macs(node, g))
