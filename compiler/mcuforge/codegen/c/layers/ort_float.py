"""C layers of requant="ort" (onnxruntime's float32 QDQ arithmetic; rules in reference/ort_float.py):
int8 add / sub in integers (mcf_add_s8_ort.c: table look-ups and compares, the same on every core)
and int8 bilinear resize in float32 (mcf_resize_bilinear_s8_ort.c). Portable C only."""
import numpy as np

from ....ir.ops import get_op
from ....reference import ort_float


def add_sub_ort(ctx, node, cid):
    from .elementwise import broadcast_layer
    p = get_op(node.op).int8_params(node, ctx.g)
    t = ort_float.tables(node, p, -1 if node.op == "sub" else 1)
    steps = int(p["act_max"] - p["act_min"])
    thresholds = t["thresholds"] if steps else np.zeros(1, np.int64)   # C has no empty arrays
    params = {"act_min": int(p["act_min"]), "act_max": int(p["act_max"]), "unit_exp": t["unit_exp"]}
    layer = broadcast_layer(ctx, node, "mcf_add_s8_ort", "add_s8_ort", t=params)
    # tables indexed by the input byte read as uint8_t (x & 0xFF): the x + 128 order rolled by 128
    u8 = {k: np.roll(t[k], -128) for k in ("ea", "eb", "fa_bits", "fb_bits")}
    layer.arrays += [ctx.array(cid, "ea", "int32_t", u8["ea"].astype(np.int32)),
                     ctx.array(cid, "eb", "int32_t", u8["eb"].astype(np.int32)),
                     ctx.array(cid, "fa_bits", "uint32_t", u8["fa_bits"].astype(np.uint32)),
                     ctx.array(cid, "fb_bits", "uint32_t", u8["fb_bits"].astype(np.uint32)),
                     ctx.array(cid, "thresholds", "int64_t", thresholds)]
    return layer


def resize_bilinear_ort(ctx, node, cid):
    from .base import Layer
    from .upsample import _geometry
    x = ctx.g.tensors[node.inputs[0]]
    p = get_op("resize").int8_params(node, ctx.g)
    t = ort_float.bilinear_tables(node, x.shape[1:3])
    params = dict(_geometry(ctx, node), out_scale=p["out_s"], q_lo=float(-128 - p["out_zp"]),
                  q_hi=float(127 - p["out_zp"]), out_zp=p["out_zp"])
    kernel, sources = ctx.select.pick("mcf_resize_bilinear_s8_ort", params)
    arrays = [ctx.array(cid, k, "int32_t", t[k].astype(np.int32)) for k in ("y1", "y2", "x1", "x2")]
    arrays += [ctx.array(cid, k, "float", t[k].astype(np.float32)) for k in ("dy1", "dy2", "dx1", "dx2")]
    arrays.append(ctx.array(cid, "deq", "float", ort_float.dequantize_f32(np.arange(-128, 128), p["in_s"], p["in_zp"])))
    return Layer(node, "resize_bilinear_ort", kernel, sources, [ctx.refs[node.inputs[0]]],
                 [ctx.refs[node.outputs[0]]], params, arrays, macs=get_op("resize").macs(node, ctx.g))
