"""C layer of the requant="ort" int8 add / sub (onnxruntime's float32 QDQ arithmetic in integers:
kernel runtime_c/kernels/mcf_add_s8_ort.c, rule and tables reference/ort_float.py). Portable C
only: the kernel is table look-ups and compares, the same on every core."""
import numpy as np

from ....ir.ops import get_op
from ....reference import ort_float


def add_sub_ort(ctx, node, cid):
    from .elementwise import broadcast_layer
    p = get_op(node.op).int8_params(node, ctx.g)
    t = ort_float.tables(node, p, -1 if node.op == "sub" else 1)
    steps = int(p["act_max"] - p["act_min"])
    thresholds = t["thresholds"] if steps else np.zeros(1, np.int64)   # C has no empty arrays
    params = {"out_zp": int(p["out_zp"]), "act_min": int(p["act_min"]), "steps": steps,
              "est_shift": t["est_shift"], "est_mult": t["est_mult"], "est_n": t["est_n"],
              "est_round": 1 << (t["est_n"] - 1)}
    layer = broadcast_layer(ctx, node, "mcf_add_s8_ort", "add_s8_ort", t=params)
    layer.arrays += [ctx.array(cid, "da", "int64_t", t["da"]), ctx.array(cid, "db", "int64_t", t["db"]),
                     ctx.array(cid, "thresholds", "int64_t", thresholds)]
    return layer
