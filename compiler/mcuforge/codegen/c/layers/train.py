"""C layers of the training ops (backward and update nodes, docs/training.md): each node becomes
one call of a kernel in runtime_c/kernels/ declared in mcf_train.h. int8 operands (saved
activations, int8 weights) are read through an mcf_fsrc that dequantizes them exactly as the
golden model does (ir/ops/train_base.py)."""
from __future__ import annotations

import numpy as np

from ....errors import UnsupportedOpError
from ....ir.ops import get_op
from ....ir.ops.train_base import dequant_params
from ....train.memory import ram_rows
from .base import Layer, TensorRef, builder

TRAIN_HEADERS = ("mcf_train.h", "mcf_train_math.h")


def fsrc(ctx, cid: str, what: str, tensor: str) -> dict:
    """How a kernel reads `tensor` as float32: directly, or int8 with zero point and scales."""
    g = ctx.g
    t = g.tensors[tensor]
    ref = ctx.refs[tensor]
    if t.dtype == "float32":
        return {"ref": ref, "int8": False}
    if t.dtype != "int8":
        raise UnsupportedOpError("training", tensor, f"{t.dtype} operand of a backward op")
    d = dequant_params(g, tensor)
    scale = np.asarray(d["scale"], np.float32)
    zp = np.asarray(d["zp"]).reshape(-1)
    if np.any(zp != zp[0]):
        raise UnsupportedOpError("training", tensor, "per-channel zero points")
    axis = d["axis"]
    dim = int(np.prod(t.shape[axis + 1:])) if axis is not None else 0
    out = {"ref": ref, "int8": True, "zp": int(zp[0]), "scale": ctx.array(cid, f"{what}_scale", "float", scale),
           "scale_dim": dim, "scale_len": int(scale.size), "head_len": 0}
    rows = ram_rows(g).get(tensor) if "train" in g.meta else None
    if rows is not None:        # trained rows in RAM (ref), the frozen rest in flash (tail)
        out["head_len"] = rows * (t.size // t.shape[0])
        out["tail"] = split_tail_ref(tensor)
    return out


def split_tail_ref(tensor: str) -> TensorRef:
    """The flash array holding the frozen rows of a weight trained on its first rows only."""
    from ..emit import c_ident
    return TensorRef("const", "int8_t", f"tail_{c_ident(tensor)}")


def _layer(ctx, node, kind, kernel, sources, inputs, outputs, params, arrays=(), macs=0):
    params = dict(params, kind=kind)
    arrays = list(arrays) + [v["scale"] for v in params.values() if isinstance(v, dict) and v.get("int8")]
    return Layer(node, "train", kernel, list(sources), [ctx.refs[t] for t in inputs if t],
                 [ctx.refs[t] for t in outputs], params, arrays, macs=macs)


def _win(n, h, w, c, oh, ow, oc, kernel, strides, dilations, pads):
    return {"batch": n, "in_h": h, "in_w": w, "in_c": c, "out_h": oh, "out_w": ow, "out_c": oc,
            "k_h": kernel[0], "k_w": kernel[1], "stride_h": strides[0], "stride_w": strides[1],
            "dil_h": dilations[0], "dil_w": dilations[1], "pad_top": pads[0], "pad_left": pads[1]}


def _op_macs(node, g):
    try:
        return int(get_op(node.op).macs(node, g))
    except Exception:  # noqa: BLE001 - ops without a MAC count report 0
        return 0


def conv2d_grad_weight(ctx, node, cid):
    g, a = ctx.g, node.attrs
    x, dy = g.tensors[node.inputs[0]], g.tensors[node.inputs[1]]
    if node.op == "dense_grad_weight":
        (n, k), m = x.shape, dy.shape[-1]
        win = _win(n, 1, 1, k, 1, 1, m, (1, 1), (1, 1), (1, 1), (0, 0))
        groups = 1
    else:
        n, h, w, c = x.shape
        _, oh, ow, oc = dy.shape
        win = _win(n, h, w, c, oh, ow, oc, a["kernel"], a["strides"], a["dilations"], a["pads"])
        groups = a["groups"]
    params = {"win": win, "groups": groups, "rows": a["rows"], "x": fsrc(ctx, cid, "x", node.inputs[0])}
    return _layer(ctx, node, "wgrad", "mcf_conv2d_wgrad", ["mcf_conv2d_wgrad.c"], node.inputs, node.outputs,
                  params, macs=_op_macs(node, g))


def conv2d_grad_input(ctx, node, cid):
    g, a = ctx.g, node.attrs
    dy, wt = g.tensors[node.inputs[0]], g.tensors[node.inputs[1]]
    if node.op == "dense_grad_input":
        m, k = wt.shape
        n = dy.shape[0]
        win = _win(n, 1, 1, k, 1, 1, m, (1, 1), (1, 1), (1, 1), (0, 0))
        groups = 1
    else:
        n, h, w, c = a["in_shape"]
        _, oh, ow, oc = dy.shape
        win = _win(n, h, w, c, oh, ow, oc, wt.shape[1:3], a["strides"], a["dilations"], a["pads"])
        groups = a["groups"]
    params = {"win": win, "groups": groups, "rows": win["out_c"], "w": fsrc(ctx, cid, "w", node.inputs[1])}
    return _layer(ctx, node, "igrad", "mcf_conv2d_igrad", ["mcf_conv2d_igrad.c"], node.inputs, node.outputs,
                  params, macs=_op_macs(node, g))


def avgpool_grad(ctx, node, cid):
    a = node.attrs
    n, h, w, c = a["in_shape"]
    _, oh, ow, _ = ctx.g.tensors[node.inputs[0]].shape
    win = _win(n, h, w, c, oh, ow, c, a["kernel"], a["strides"], a["dilations"], a["pads"])
    return _layer(ctx, node, "pool", "mcf_avgpool_backward", ["mcf_avgpool_backward.c"], node.inputs,
                  node.outputs, {"win": win, "count_include_pad": int(a["count_include_pad"])})


def mean_grad(ctx, node, cid):
    shape = tuple(node.attrs["in_shape"])
    axes = sorted(a % len(shape) for a in node.attrs["axes"]) or list(range(len(shape)))
    if axes != list(range(axes[0], axes[-1] + 1)):
        raise UnsupportedOpError(node.op, node.name, f"axes {axes} are not adjacent")
    outer = int(np.prod(shape[:axes[0]]))
    mid = int(np.prod([shape[i] for i in axes]))
    inner = int(np.prod(shape[axes[-1] + 1:]))
    return _layer(ctx, node, "mean", "mcf_broadcast_div_f32", ["mcf_reduce_sum_f32.c"], node.inputs[:1],
                  node.outputs, {"outer": outer, "mid": mid, "inner": inner, "keep": inner, "count": mid})


def grad_sum(ctx, node, cid):
    t = ctx.g.tensors[node.inputs[0]]
    c = t.shape[-1]
    return _layer(ctx, node, "sum", "mcf_reduce_sum_f32", ["mcf_reduce_sum_f32.c"], node.inputs, node.outputs,
                  {"outer": 1, "mid": t.size // c, "inner": c, "keep": node.attrs["rows"]})


def grad_add(ctx, node, cid):
    return _layer(ctx, node, "add", "mcf_grad_add_f32", ["mcf_grad_add_f32.c"], node.inputs, node.outputs,
                  {"size": ctx.g.tensors[node.outputs[0]].size})


def act_grad(ctx, node, cid):
    g, a = ctx.g, node.attrs
    y = g.tensors[node.inputs[0]]
    params = {"size": y.size, "int8": y.dtype == "int8",
              "lo_f": "-INFINITY" if a["act_min"] is None else float(np.float32(a["act_min"])),
              "hi_f": "INFINITY" if a["act_max"] is None else float(np.float32(a["act_max"])),
              "lo_q": -129, "hi_q": 128}
    if y.dtype == "int8":
        p = get_op("act_grad").int8_params(node, g)
        params["lo_q"] = -129 if p["q_lo"] is None else int(p["q_lo"])
        params["hi_q"] = 128 if p["q_hi"] is None else int(p["q_hi"])
    elif y.dtype != "float32":
        raise UnsupportedOpError(node.op, node.name, f"{y.dtype} activation")
    kernel = "mcf_act_backward_s8" if y.dtype == "int8" else "mcf_act_backward_f32"
    return _layer(ctx, node, "act", kernel, ["mcf_act_backward.c"], node.inputs, node.outputs, params)


def mean_pw_grad(ctx, node, cid):
    """The fused head backward (ir/ops/train_fused.py): one kernel call, outputs db / dw / dx as
    the node has them."""
    g, a = ctx.g, node.attrs
    dmean, y, w, x = node.inputs
    n, h, wd, c = a["in_shape"]
    outs = dict(zip([k for k, on in (("db", a["bias_rows"]), ("dw", a["weight_rows"]), ("dx", a["input_grad"]))
                     if on], node.outputs))
    params = {"batch": n, "pixels": h * wd, "channels": c, "in_c": a["in_c"], "bias_rows": a["bias_rows"],
              "weight_rows": a["weight_rows"], "lo_f": "-INFINITY", "hi_f": "INFINITY", "lo_q": -129, "hi_q": 128,
              "y_kind": "none", "w": fsrc(ctx, cid, "w", w) if w else None, "x": fsrc(ctx, cid, "x", x) if x else None,
              "refs": {"dmean": ctx.refs[dmean], "y": ctx.refs[y] if y else None,
                       **{k: ctx.refs[outs[k]] if k in outs else None for k in ("db", "dw", "dx")}}}
    if y:
        yt = g.tensors[y]
        if yt.dtype == "int8":
            p = get_op(node.op).int8_params(node, g)
            params["y_kind"] = "s8"
            params["lo_q"] = -129 if p["q_lo"] is None else int(p["q_lo"])
            params["hi_q"] = 128 if p["q_hi"] is None else int(p["q_hi"])
        elif yt.dtype == "float32":
            params["y_kind"] = "f32"
            if a["act_min"] is not None:
                params["lo_f"] = float(np.float32(a["act_min"]))
            if a["act_max"] is not None:
                params["hi_f"] = float(np.float32(a["act_max"]))
        else:
            raise UnsupportedOpError(node.op, node.name, f"{yt.dtype} activation")
    return _layer(ctx, node, "mpw", "mcf_mean_pw_grad", ["mcf_mean_pw_grad.c"], node.inputs, node.outputs, params,
                  macs=_op_macs(node, g))


def softmax_xent(ctx, node, cid):
    z = ctx.g.tensors[node.inputs[0]]
    params = {"batch": z.shape[0], "classes": z.shape[1], "z": fsrc(ctx, cid, "z", node.inputs[0])}
    return _layer(ctx, node, "xent", "mcf_softmax_xent", ["mcf_softmax_xent.c"], node.inputs, node.outputs, params)


def mse_loss(ctx, node, cid):
    y = ctx.g.tensors[node.inputs[0]]
    params = {"size": y.size, "y": fsrc(ctx, cid, "y", node.inputs[0])}
    return _layer(ctx, node, "mse", "mcf_mse", ["mcf_mse.c"], node.inputs, node.outputs, params)


def sgd_update(ctx, node, cid):
    g, a = ctx.g, node.attrs
    grad, master, mom, scale, param = node.inputs
    p = g.tensors[param]
    rows = a["rows"]
    kind = {"float32": "MCF_PARAM_F32", "int8": "MCF_PARAM_S8", "int32": "MCF_PARAM_S32"}.get(p.dtype)
    if kind is None:
        raise UnsupportedOpError(node.op, node.name, f"{p.dtype} parameter")
    lo, hi = a["clamp"] if a.get("clamp") is not None else (0, 0)
    params = {"rows": rows, "row_size": g.tensors[grad].size // rows, "lr": float(np.float32(a["lr"])),
              "momentum": float(np.float32(a["momentum"])), "param_kind": kind, "clamp_lo": int(lo),
              "clamp_hi": int(hi), "has_momentum": bool(mom), "has_master": bool(master),
              "refs": {"grad": ctx.refs[grad], "master": ctx.refs.get(master), "momentum": ctx.refs.get(mom),
                       "scale": ctx.refs[scale], "param": ctx.refs[param]}}
    return Layer(node, "train", "mcf_sgd_update", ["mcf_sgd.c"], [ctx.refs[t] for t in node.inputs if t],
                 [ctx.refs[t] for t in node.outputs], dict(params, kind="sgd"))


def wgrad_update(ctx, node, cid):
    """A weight gradient run inside its update, row by row (codegen/c/fuse_train.py): the
    gradient's own tensor is not stored; a one-row scratch buffer holds each row in turn."""
    gn, un = node.attrs["grad"], node.attrs["update"]
    ctx.refs.setdefault(gn.outputs[0], TensorRef("sym", "float", "NULL"))
    lg = conv2d_grad_weight(ctx, gn, cid)
    lu = sgd_update(ctx, un, cid)
    params = dict(lu.params, kind="wgsgd", win=lg.params["win"], groups=lg.params["groups"],
                  grad_rows=lg.params["rows"], x=lg.params["x"], dy=ctx.refs[gn.inputs[1]],
                  scratch_bytes=4 * lu.params["row_size"])
    return Layer(node, "train", "mcf_wgrad_sgd_update", ["mcf_wgrad_update.c", "mcf_conv2d_wgrad.c", "mcf_sgd.c"],
                 [ctx.refs[t] for t in node.inputs if t], [ctx.refs[t] for t in node.outputs], params,
                 lg.arrays + lu.arrays, macs=lg.macs)


for _op, _fn in (("conv2d_grad_weight", conv2d_grad_weight), ("dense_grad_weight", conv2d_grad_weight),
                 ("conv2d_grad_input", conv2d_grad_input), ("dense_grad_input", conv2d_grad_input),
                 ("avgpool_grad", avgpool_grad), ("mean_grad", mean_grad), ("grad_sum", grad_sum),
                 ("grad_add", grad_add), ("act_grad", act_grad), ("softmax_xent", softmax_xent),
                 ("mse_loss", mse_loss), ("sgd_update", sgd_update), ("mean_pw_grad", mean_pw_grad),
                 ("wgrad_update", wgrad_update)):
    builder(_op, "int8")(_fn)
    builder(_op, "float32")(_fn)
