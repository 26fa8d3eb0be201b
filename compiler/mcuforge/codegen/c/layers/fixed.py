"""C layers of the `fixed` contract (mcuforge compile --quant fixed): power-of-two scales, so every
requantization is a shift with the tensor's rounding and overflow modes (runtime_c/include/
mcf_fixed.h), bit-exact with the golden model (reference/fixed_arith.py), HLS and Verilog.

Storage: activations int8 (W <= 8), weights int8, biases int32; each MAC layer's accumulator is
proved to fit 32 bits from the types (W_x + W_w + log2(terms + 1)), otherwise the layer is refused."""
from __future__ import annotations

import numpy as np

from ....errors import McuforgeError, UnsupportedOpError
from ....ir.ops import get_op
from ...fpga.khot import KhotCodes
from .base import Layer, builder, window
from .movement import reshape

ROUNDING_CODE = {"trn": 0, "rnd": 1, "rne": 2}
ACC_BITS = 32
# K-hot weights as shift-add products in C (mcf_fixed.h: mcf_fx_dot with codes): off, because on QEMU's Cortex-M4 the
# multiply-accumulate kernels execute fewer instructions (docs/qfx.md); benchmarks set it to compare
SHIFT_ADD_KHOT_MAX = 0


def _rq(p: dict, acc_frac: int) -> dict:
    out = p["out"]
    return {"shift": acc_frac - out.frac, "rounding": ROUNDING_CODE[out.rounding],
            "saturate": int(out.overflow == "sat"), "width": out.width,
            "act_lo": int(p["act_lo"]), "act_hi": int(p["act_hi"])}


def _acc_fits(node, width: int):
    if width > ACC_BITS:
        raise McuforgeError(f"{node.op} {node.name}: its fixed-point accumulator needs {width} bits; the C "
                            f"kernels accumulate in {ACC_BITS} (use narrower types)")


def _io(ctx, node, n_in: int = 1):
    return [ctx.refs[t] for t in node.inputs[:n_in]], [ctx.refs[node.outputs[0]]]


def _weighted(ctx, node, cid, template: str, kernel: str, geometry: dict) -> Layer:
    g = ctx.g
    p = get_op(node.op).fixed_params(node, g)
    _acc_fits(node, p["acc_width"])
    w = g.tensors[node.inputs[1]]
    has_bias = len(node.inputs) > 2 and bool(node.inputs[2])
    params = dict(geometry, rq=_rq(p, p["acc_frac"]), has_bias=has_bias, khot=0)
    wdata = np.asarray(w.data, np.int64)
    if node.attrs.get("weight_shift"):  # per-channel power-of-two scales: raw << s_c is the same weight
        wdata = wdata << np.asarray(node.attrs["weight_shift"], np.int64).reshape((-1,) + (1,) * (wdata.ndim - 1))
        if np.abs(wdata).max(initial=0) > 127:
            raise McuforgeError(f"{node.op} {node.name}: its per-channel shifted weights exceed int8")
    arrays = [ctx.array(cid, "weights", "int8_t", wdata.astype(np.int8).reshape(-1))]
    codes = KhotCodes.for_weights(wdata, SHIFT_ADD_KHOT_MAX)
    if codes:
        params["khot"] = codes.k
        arrays = [ctx.array(cid, "codes", "uint8_t", codes.c_bytes(wdata))]
    if has_bias:
        arrays.append(ctx.array(cid, "bias", "int32_t", g.tensors[node.inputs[2]].data.astype(np.int32)))
    function, sources = ctx.select.pick(kernel, params)
    ins, outs = _io(ctx, node)
    return Layer(node, template, function, sources, ins, outs, params, arrays, macs=get_op(node.op).macs(node, g))


@builder("conv2d", "fixed")
def conv2d_fx(ctx, node, cid):
    a = node.attrs
    w = ctx.g.tensors[node.inputs[1]]
    geo = {"win": window(ctx.g, node, node.inputs[0], node.outputs[0], w.shape[1:3], a["strides"], a["dilations"],
                         a["pads"]), "groups": a["groups"]}
    return _weighted(ctx, node, cid, "fx_conv2d", "mcf_fx_conv2d", geo)


@builder("dense", "fixed")
def dense_fx(ctx, node, cid):
    x, w = ctx.g.tensors[node.inputs[0]], ctx.g.tensors[node.inputs[1]]
    geo = {"rows": int(np.prod(x.shape[:-1])), "in_features": w.shape[1], "out_features": w.shape[0]}
    return _weighted(ctx, node, cid, "fx_dense", "mcf_fx_dense", geo)


def _add_sub(ctx, node, cid):
    g = ctx.g
    a, b = (g.tensors[t].shape for t in node.inputs)
    if a != b:
        raise UnsupportedOpError(node.op, node.name, f"broadcasting {a} with {b} is not in the fixed-point C kernels")
    p = get_op(node.op).fixed_params(node, g)
    _acc_fits(node, p["acc_width"])
    params = {"size": g.tensors[node.outputs[0]].size, "a_shift": p["acc_frac"] - p["a_frac"],
              "b_shift": p["acc_frac"] - p["b_frac"], "subtract": int(node.op == "sub"), "rq": _rq(p, p["acc_frac"])}
    function, sources = ctx.select.pick("mcf_fx_add", params)
    ins, outs = _io(ctx, node, 2)
    return Layer(node, "fx_add", function, sources, ins, outs, params)


builder("add", "fixed")(_add_sub)
builder("sub", "fixed")(_add_sub)
builder("reshape", "fixed")(reshape)


def _pool(ctx, node, cid):
    g, a = ctx.g, node.attrs
    p = get_op(node.op).fixed_params(node, g)
    params = {"win": window(g, node, node.inputs[0], node.outputs[0], a["kernel"], a["strides"],
                            a.get("dilations", (1, 1)), a["pads"]), "max": node.op == "maxpool",
              "act_lo": int(p["act_lo"]), "act_hi": int(p["act_hi"])}
    if node.op == "avgpool":
        _acc_fits(node, p["acc_width"])
        params["rq"] = _rq(p, p["in_frac"] + p["shift"])
    function, sources = ctx.select.pick("mcf_fx_maxpool" if node.op == "maxpool" else "mcf_fx_avgpool", params)
    ins, outs = _io(ctx, node)
    return Layer(node, "fx_pool", function, sources, ins, outs, params, macs=get_op(node.op).macs(node, g))


builder("maxpool", "fixed")(_pool)
builder("avgpool", "fixed")(_pool)


def _clamp(ctx, node, cid):
    p = get_op(node.op).fixed_params(node, ctx.g)
    params = {"size": ctx.g.tensors[node.outputs[0]].size, "act_lo": int(p["act_lo"]), "act_hi": int(p["act_hi"])}
    function, sources = ctx.select.pick("mcf_fx_clamp", params)
    ins, outs = _io(ctx, node)
    return Layer(node, "fx_clamp", function, sources, ins, outs, params)


builder("relu", "fixed")(_clamp)
builder("clip", "fixed")(_clamp)


def to_c_storage(g):
    """Give a `fixed` graph its C element types: activations and weights int8, biases int32 (raw
    values unchanged); anything wider is refused naming the tensor."""
    bias_of = {n.inputs[2] for n in g.nodes.values() if n.op in ("conv2d", "dense") and len(n.inputs) > 2 and n.inputs[2]}
    for name, t in g.tensors.items():
        ft = t.meta.get("fixed")
        if ft is None:
            continue
        limit, dtype = (32, "int32") if name in bias_of else (8, "int8")
        # a constant needs only the bits of its values (per-channel weights aligned to one binary
        # point can be typed wider than they are)
        bits = ft.width
        if t.is_const and t.data.size:
            lo, hi = int(t.data.min()), int(t.data.max())
            bits = max((-lo - 1).bit_length(), hi.bit_length()) + 1
        if min(ft.width, bits) > limit:
            what = "bias" if name in bias_of else ("weights" if t.is_const else "activation")
            raise McuforgeError(f"tensor {name}: {min(ft.width, bits)}-bit {what}; the fixed-point C backend stores "
                                f"{'biases in int32' if name in bias_of else 'activations and weights in int8'} "
                                "(use mcuforge hls/rtl for wider types)")
        t.dtype = dtype
        if t.is_const:
            t.data = np.asarray(t.data).astype(np.int8 if dtype == "int8" else np.int32)
    return g


@builder("hardswish", "fixed")
def hardswish_fx(ctx, node, cid):
    p = get_op(node.op).fixed_params(node, ctx.g)
    _acc_fits(node, p["n_width"])
    params = {"size": ctx.g.tensors[node.outputs[0]].size, "up": p["up"], "three": p["three"], "six": p["six"],
              "n_shift": p["n_shift"], "rq": _rq(p, p["z_frac"])}
    function, sources = ctx.select.pick("mcf_fx_hardswish", params)
    ins, outs = _io(ctx, node)
    return Layer(node, "fx_hardswish", function, sources, ins, outs, params)


@builder("concat", "fixed")
def concat_fx(ctx, node, cid):
    g = ctx.g
    p = get_op(node.op).fixed_params(node, g)
    out = g.tensors[node.outputs[0]]
    axis = node.attrs["axis"] % len(out.shape)
    outer = int(np.prod(out.shape[:axis]))
    chunks = [g.tensors[t].size // max(outer, 1) for t in node.inputs]
    params = {"outer": outer, "n_inputs": len(node.inputs), "rqs": [_rq(p, f) for f in p["in_fracs"]]}
    function, sources = ctx.select.pick("mcf_fx_concat", params)
    arrays = [ctx.array(cid, "chunk", "int32_t", np.array(chunks, np.int32))]
    return Layer(node, "fx_concat", function, sources, [ctx.refs[t] for t in node.inputs], [ctx.refs[node.outputs[0]]],
                 params, arrays)
