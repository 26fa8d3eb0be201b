"""QuantMCU layers (ir/ops/quantmcu.py): the patch's outlier check, and each layer of its branch
built twice with the usual int8 builders - once on the tensors' 8-bit grids, once on their
low-bit grids (a view of the graph) - and emitted as `if (flag) 8-bit kernel else low-bit kernel`
over the same buffers. The low path uses the same (optimized) int8 kernels: its values are int8
codes on a narrower grid, its requantization clamps to the narrow range."""
import dataclasses

import numpy as np

from ....ir.ops import get_op
from ....ir.ops.quantmcu import LowView, inner_nodes
from .base import BUILDERS, Layer, builder


@builder("qm_check", "int8")
def qm_check(ctx, node, cid):
    g = ctx.g
    op = get_op("qm_check")
    p = op.int8_params(node, g)
    params = dict(p, size=g.tensors[node.inputs[0]].size)
    # the low-grid requantization of all 256 codes, by the golden model's own rule (no outlier)
    codes = np.arange(-128, 128, dtype=np.int8)
    table = op.run_int8(node, [codes], dict(p, lo=-128, hi=127))[0]
    return Layer(node, "qm_check", "mcf_qm_check_s8", ["mcf_qm_check_s8.c"], [ctx.refs[node.inputs[0]]],
                 [ctx.refs[t] for t in node.outputs], params, [ctx.array(cid, "table", "int8_t", table)])


@builder("qm_dual", "int8")
def qm_dual(ctx, node, cid):
    hi_node, lo_node = inner_nodes(node)
    op = get_op(hi_node.op)
    op.check_attrs(hi_node)
    op.check_attrs(lo_node)
    build = BUILDERS[(hi_node.op, "int8")]
    hi = build(ctx, hi_node, cid + "h")
    hi.cid = cid + "h"
    lo = build(dataclasses.replace(ctx, g=LowView(ctx.g, node.attrs["low_q"])), lo_node, cid + "l")
    lo.cid = cid + "l"
    flag = ctx.refs[node.inputs[int(node.attrs["n_in"])]]
    bits = {t: int(q[2]) for t, q in node.attrs["low_q"].items()}
    params = {"hi": hi, "lo": lo, "flag": flag,
              "bits_desc": ", ".join(f"{t}: {b} bits" for t, b in bits.items()) or "8-bit grids",
              "scratch_bytes": max(hi.params.get("scratch_bytes", 0), lo.params.get("scratch_bytes", 0)),
              "inplace_safe": hi.params.get("inplace_safe", True) and lo.params.get("inplace_safe", True),
              "inplace_exact": hi.params.get("inplace_exact", False) or lo.params.get("inplace_exact", False)}
    return Layer(node, "qm_dual", hi.kernel, sorted(set(hi.sources) | set(lo.sources)), hi.inputs + [flag],
                 hi.outputs, params, hi.arrays + lo.arrays, macs=hi.macs)
