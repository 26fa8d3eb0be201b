"""The training kernels (runtime_c/kernels/ + include/mcf_train.h) against the golden models of
the training ops (ir/ops/train_*.py, train/fmath.py) bit for bit, on the host and on QEMU's
Cortex-M4, and the golden models against PyTorch autograd (the outside oracle) within float
tolerance.

All cases run in one generated C program per board: the cases' data are static arrays, each
case writes its outputs to out_<case>_<name>.bin."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from mcuforge import resources
from mcuforge.ir.graph import Node
from mcuforge.ir.ops import get_op
from mcuforge.ir.ops.train_base import dequant
from mcuforge.train.fmath import exp_f, log_f

F = np.float32
KERNELS = ["mcf_conv2d_wgrad.c", "mcf_conv2d_igrad.c", "mcf_avgpool_backward.c", "mcf_act_backward.c",
           "mcf_reduce_sum_f32.c", "mcf_grad_add_f32.c", "mcf_softmax_xent.c", "mcf_mse.c", "mcf_sgd.c",
           "mcf_mean_pw_grad.c", "mcf_wgrad_update.c"]


def golden(op, xs, **attrs):
    """Outputs of one training op's golden model on float32 inputs."""
    node = Node("n", op, [f"i{k}" if x is not None else "" for k, x in enumerate(xs)], ["o"], dict(attrs))
    get_op(op).check_attrs(node)
    return get_op(op).run_train(node, xs, {})


def deq(q, zp, scale, axis=None):
    s = np.atleast_1d(np.asarray(scale, F))
    return dequant(q, {"scale": s, "zp": np.full(s.size, zp, np.int64), "axis": axis})
CTYPES = {np.dtype(F): "float", np.dtype(np.int8): "int8_t", np.dtype(np.int32): "int32_t"}


def c_array(name, arr, const=True):
    arr = np.ascontiguousarray(arr).reshape(-1)
    ct = CTYPES[arr.dtype]
    vals = ", ".join((f"{float(v).hex()}f" if ct == "float" else str(int(v))) for v in arr)
    return f"static {'const ' if const else ''}{ct} {name}[{max(arr.size, 1)}] = {{{vals}}};"


class Case:
    def __init__(self, name):
        self.name, self.decls, self.body, self.outs = name, [], [], []

    def arr(self, what, a, const=True):
        cname = f"{self.name}_{what}"
        self.decls.append(c_array(cname, a, const))
        return cname

    def out(self, what, n, ctype="float"):
        cname = f"{self.name}_out_{what}"
        self.decls.append(f"static {ctype} {cname}[{n}];")
        self.outs.append((what, cname, ctype))
        return cname

    def fsrc(self, what, a, zp=0, scale=None, scale_dim=0):
        """An mcf_fsrc over float data, or int8 data with zp and per-tensor/per-channel scale."""
        data = self.arr(what, a)
        if a.dtype == F:
            return f"(mcf_fsrc){{ .f32 = {data} }}"
        sc = self.arr(what + "_scale", np.atleast_1d(np.asarray(scale, F)))
        n = np.atleast_1d(scale).size
        return (f"(mcf_fsrc){{ .f32 = NULL, .s8 = {data}, .zp = {zp}, .scale = {sc}, .scale_dim = {scale_dim},"
                f" .scale_len = {n} }}")


def window(x_shape, y_shape, k, s=(1, 1), d=(1, 1), pads=(0, 0, 0, 0)):
    n, h, w, c = x_shape
    _, oh, ow, oc = y_shape
    return (f"{{ .batch = {n}, .in_h = {h}, .in_w = {w}, .in_c = {c}, .out_h = {oh}, .out_w = {ow}, .out_c = {oc},"
            f" .k_h = {k[0]}, .k_w = {k[1]}, .stride_h = {s[0]}, .stride_w = {s[1]}, .dil_h = {d[0]}, .dil_w = {d[1]},"
            f" .pad_top = {pads[0]}, .pad_left = {pads[1]} }}")


def torch_conv(x, w, s, d, pads, groups):
    xt = torch.tensor(x, dtype=torch.float64).permute(0, 3, 1, 2).requires_grad_()
    wt = torch.tensor(w, dtype=torch.float64).permute(0, 3, 1, 2).requires_grad_()
    t, l, b, r = pads
    y = torch.nn.functional.conv2d(torch.nn.functional.pad(xt, (l, r, t, b)), wt, stride=s, dilation=d,
                                   groups=groups)
    return xt, wt, y


def build_cases(rng):
    """[(Case, {output name: golden array}, {output name: torch oracle array or None})]."""
    cases = []

    def conv_case(name, x_shape, cout, k, s, d, pads, groups, x_int8=False, w_int8=False, rows=None):
        cg = x_shape[3] // groups
        w = rng.standard_normal((cout, k[0], k[1], cg)).astype(F)
        x = rng.standard_normal(x_shape).astype(F)
        xq = wq = None
        if x_int8:
            xq = rng.integers(-128, 128, x_shape).astype(np.int8)
            x = deq(xq, -3, 0.05)
        if w_int8:
            wq = rng.integers(-127, 128, w.shape).astype(np.int8)
            ws = (rng.random(cout) * 0.02 + 0.01).astype(F)
            w = deq(wq, 0, ws, axis=0)
        xt, wt, y = torch_conv(x, w, s, d, pads, groups)
        dy = rng.standard_normal(tuple(y.shape[i] for i in (0, 2, 3, 1))).astype(F)
        y.backward(torch.tensor(dy, dtype=torch.float64).permute(0, 3, 1, 2))
        rows = cout if rows is None else rows
        geo = dict(strides=s, dilations=d, pads=pads, groups=groups)
        dw_ref = golden("conv2d_grad_weight", [x, dy], kernel=k, rows=rows, **geo)[0]
        dx_ref = golden("conv2d_grad_input", [dy, w], in_shape=x.shape, **geo)[0]
        c = Case(name)
        xs = c.fsrc("x", xq, -3, 0.05) if x_int8 else c.fsrc("x", x)
        ws_src = c.fsrc("w", wq, 0, ws, int(np.prod(w.shape[1:]))) if w_int8 else c.fsrc("w", w)
        dyn = c.arr("dy", dy)
        dw = c.out("dw", dw_ref.size)
        dx = c.out("dx", dx_ref.size)
        c.body += [f"const mcf_conv_grad_args a = {{ .win = {window(x.shape, dy.shape, k, s, d, pads)}, "
                   f".groups = {groups}, .out_rows = {rows} }};",
                   f"const mcf_fsrc xs = {xs}; const mcf_fsrc ws = {ws_src};",
                   f"mcf_conv2d_wgrad(&a, &xs, {dyn}, {dw});", f"mcf_conv2d_igrad(&a, {dyn}, &ws, {dx});"]
        torch_dw = wt.grad.permute(0, 2, 3, 1).numpy()[:rows]
        torch_dx = xt.grad.permute(0, 2, 3, 1).numpy()
        cases.append((c, {"dw": dw_ref, "dx": dx_ref}, {"dw": torch_dw, "dx": torch_dx}))

    conv_case("conv_s2", (2, 7, 6, 3), 4, (3, 3), (2, 2), (1, 1), (1, 1, 1, 0), 1)
    conv_case("conv_q_rows", (1, 6, 6, 4), 6, (3, 2), (1, 1), (2, 1), (2, 1, 0, 1), 2, x_int8=True, w_int8=True,
              rows=3)
    conv_case("dw_s1", (1, 5, 5, 4), 8, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 4, w_int8=True)
    conv_case("dw_s2", (1, 8, 8, 3), 3, (3, 3), (2, 2), (1, 1), (0, 0, 1, 1), 3, x_int8=True, rows=2)
    conv_case("pw", (2, 4, 4, 5), 3, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 1, x_int8=True)
    conv_case("dense", (3, 1, 1, 7), 4, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 1, w_int8=True, rows=2)

    def pool_case(name, x_shape, k, s, pads, include_pad):
        xt = torch.zeros(x_shape, dtype=torch.float64).permute(0, 3, 1, 2).requires_grad_()
        t, l, b, r = pads
        assert t == b and l == r, "symmetric pads only in the oracle"
        y = torch.nn.functional.avg_pool2d(xt, k, s, (t, l), count_include_pad=include_pad)
        dy = rng.standard_normal(tuple(y.shape[i] for i in (0, 2, 3, 1))).astype(F)
        y.backward(torch.tensor(dy, dtype=torch.float64).permute(0, 3, 1, 2))
        ref = golden("avgpool_grad", [dy], kernel=k, strides=s, pads=pads, count_include_pad=int(include_pad),
                     in_shape=x_shape)[0]
        c = Case(name)
        dyn, dx = c.arr("dy", dy), c.out("dx", ref.size)
        c.body += [f"const mcf_pool_grad_args a = {{ .win = {window(x_shape, dy.shape, k, s, (1, 1), pads)}, "
                   f".count_include_pad = {int(include_pad)} }};", f"mcf_avgpool_backward(&a, {dyn}, {dx});"]
        cases.append((c, {"dx": ref}, {"dx": xt.grad.permute(0, 2, 3, 1).numpy()}))

    pool_case("pool2", (2, 6, 4, 3), (2, 2), (2, 2), (0, 0, 0, 0), False)
    pool_case("pool3_pad", (1, 5, 5, 2), (3, 3), (1, 1), (1, 1, 1, 1), False)
    pool_case("pool3_incl", (1, 5, 5, 2), (3, 3), (2, 2), (1, 1, 1, 1), True)
    pool_case("gpool", (2, 4, 3, 5), (4, 3), (1, 1), (0, 0, 0, 0), False)

    # relu6 backward from float and from int8 saved outputs (bounds in y's units)
    y = rng.choice(np.array([0.0, 6.0, 0.5, 3.0, 5.99], F), 40)
    yq = rng.integers(-128, 128, 40).astype(np.int8)
    dy = rng.standard_normal(40).astype(F)
    c = Case("act")
    yn, yqn, dyn = c.arr("y", y), c.arr("yq", yq), c.arr("dy", dy)
    d1, d2, d3 = c.out("dxf", 40), c.out("dxq", 40), c.out("dxr", 40)
    c.body += ["const mcf_act_grad_args a = { .size = 40, .lo_f = 0.0f, .hi_f = 6.0f, .lo_q = -128, .hi_q = 60 };",
               "const mcf_act_grad_args r = { .size = 40, .lo_f = 0.5f, .hi_f = INFINITY, .lo_q = -129, .hi_q = 128 };",
               f"mcf_act_backward_f32(&a, {yn}, {dyn}, {d1});", f"mcf_act_backward_s8(&a, {yqn}, {dyn}, {d2});",
               f"mcf_act_backward_f32(&r, {yn}, {dyn}, {d3});"]
    node = Node("n", "act_grad", ["y", "dy"], ["dx"], {"act_min": 0.0, "act_max": 6.0})
    dxq = get_op("act_grad").run_int8(node, [yq, dy], {"deq": [None, None], "q_lo": -128, "q_hi": 60})[0]
    yt = torch.tensor(y, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.relu6(yt).backward(torch.tensor(dy, dtype=torch.float64))
    cases.append((c, {"dxf": golden("act_grad", [y, dy], act_min=0.0, act_max=6.0)[0], "dxq": dxq,
                      "dxr": golden("act_grad", [y, dy], act_min=0.5)[0]},
                  {"dxf": np.where(y == 0.0, 0.0, yt.grad.numpy()), "dxq": None, "dxr": None}))

    # bias gradient (all rows, first 4 rows), mean backward, gradient fan-in
    g = rng.standard_normal((3, 5, 4, 6)).astype(F)
    gm = rng.standard_normal((2, 7)).astype(F)
    g2 = rng.standard_normal((3, 5, 4, 6)).astype(F)
    c = Case("sum")
    gn, gmn, g2n = c.arr("g", g), c.arr("gm", gm), c.arr("g2", g2)
    s1, s2, b, ga = c.out("bias", 6), c.out("bias4", 4), c.out("mean", 2 * 5 * 7), c.out("add", g.size)
    c.body += ["const mcf_sum_args a = { .outer = 1, .mid = 60, .inner = 6, .keep = 6 };",
               f"mcf_reduce_sum_f32(&a, {gn}, {s1});",
               "const mcf_sum_args a4 = { .outer = 1, .mid = 60, .inner = 6, .keep = 4 };",
               f"mcf_reduce_sum_f32(&a4, {gn}, {s2});",
               "const mcf_sum_args am = { .outer = 2, .mid = 5, .inner = 7, .keep = 7 };",
               f"mcf_broadcast_div_f32(&am, 5.0f, {gmn}, {b});",
               f"mcf_grad_add_f32({g.size}, {gn}, {g2n}, {ga});"]
    gmt = torch.tensor(gm, dtype=torch.float64)
    cases.append((c, {"bias": golden("grad_sum", [g], rows=6)[0], "bias4": golden("grad_sum", [g], rows=4)[0],
                      "mean": golden("mean_grad", [gm], axes=[1], in_shape=(2, 5, 7))[0],
                      "add": golden("grad_add", [g, g2])[0]},
                  {"bias": g.astype(np.float64).sum((0, 1, 2)), "bias4": g.astype(np.float64).sum((0, 1, 2))[:4],
                   "mean": (gmt[:, None, :] / 5).expand(2, 5, 7).numpy(), "add": g.astype(np.float64) + g2}))

    # fused head backward (mean_pw_grad): global mean -> relu6 mask -> 1x1 conv's bias (5 of 6
    # rows), weight (3 rows) and input gradients; int8 y / w / x, then float operands without a mask
    n, h, w_, c, ci = 2, 3, 2, 6, 5
    dmean = rng.standard_normal((n, c)).astype(F)
    yq = rng.integers(-128, 128, (n, h, w_, c)).astype(np.int8)
    wq = rng.integers(-127, 128, (c, 1, 1, ci)).astype(np.int8)
    ws = (rng.random(c) * 0.02 + 0.01).astype(F)
    xq = rng.integers(-128, 128, (n, h, w_, ci)).astype(np.int8)
    wf, xf = deq(wq, 0, ws, axis=0), deq(xq, 4, 0.07)
    yf = rng.choice(np.array([0.0, 6.0, 0.5, 3.0], F), (n, h, w_, c))
    attrs = dict(in_shape=(n, h, w_, c), act_min=0.0, act_max=6.0, bias_rows=5, weight_rows=3, input_grad=1, in_c=ci)
    node = Node("n", "mean_pw_grad", ["dm", "y", "w", "x"], ["db", "dw", "dx"], attrs)
    op = get_op("mean_pw_grad")
    ref_q = op.run_int8(node, [dmean, yq, wq, xq], {"deq": [None, None, {"scale": ws, "zp": np.zeros(c, np.int64),
                                                                          "axis": 0},
                                                            {"scale": np.array([0.07], F), "zp": np.array([4]),
                                                             "axis": None}], "q_lo": -100, "q_hi": 90})
    ref_f = golden("mean_pw_grad", [dmean, None, wf, xf], **dict(attrs, act_min=None, act_max=None))
    ref_m = golden("mean_pw_grad", [dmean, yf, wf, None], **dict(attrs, weight_rows=0))
    c_ = Case("mpw")
    dmn, yqn, yfn = c_.arr("dm", dmean), c_.arr("yq", yq), c_.arr("yf", yf)
    wsq, xsq = c_.fsrc("wq", wq, 0, ws, ci), c_.fsrc("xq", xq, 4, 0.07)
    wsf, xsf = c_.fsrc("wf", wf), c_.fsrc("xf", xf)
    o = {k: c_.out(k, r.size) for k, r in zip(("dbq", "dwq", "dxq", "dbf", "dwf", "dxf", "dbm", "dxm"),
                                              list(ref_q) + list(ref_f) + list(ref_m))}
    c_.body += [f"const mcf_fsrc wq = {wsq}; const mcf_fsrc xq = {xsq}; const mcf_fsrc wf = {wsf}; "
                f"const mcf_fsrc xf = {xsf};",
                f"const mcf_mean_pw_grad_args a = {{ .batch = {n}, .pixels = {h * w_}, .channels = {c}, .in_c = {ci}, "
                ".bias_rows = 5, .weight_rows = 3, .lo_f = -INFINITY, .hi_f = INFINITY, .lo_q = -100, .hi_q = 90 };",
                f"const mcf_mean_pw_grad_args am = {{ .batch = {n}, .pixels = {h * w_}, .channels = {c}, .in_c = {ci}, "
                ".bias_rows = 5, .weight_rows = 0, .lo_f = 0.0f, .hi_f = 6.0f, .lo_q = -129, .hi_q = 128 };",
                f"mcf_mean_pw_grad(&a, {dmn}, NULL, {yqn}, &wq, &xq, {o['dbq']}, {o['dwq']}, {o['dxq']});",
                f"mcf_mean_pw_grad(&a, {dmn}, NULL, NULL, &wf, &xf, {o['dbf']}, {o['dwf']}, {o['dxf']});",
                f"mcf_mean_pw_grad(&am, {dmn}, {yfn}, NULL, &wf, NULL, {o['dbm']}, NULL, {o['dxm']});"]
    # oracle: PyTorch through mean, relu6 and the 1x1 conv (float operands, float mask)
    xt = torch.tensor(xf, dtype=torch.float64).permute(0, 3, 1, 2).requires_grad_()
    wt = torch.tensor(wf, dtype=torch.float64).permute(0, 3, 1, 2).requires_grad_()
    bt = torch.zeros(c, dtype=torch.float64, requires_grad=True)
    pre = torch.nn.functional.conv2d(xt, wt, bt)
    pre.retain_grad()
    pre.mean((2, 3)).backward(torch.tensor(dmean, dtype=torch.float64))
    cases.append((c_, dict(zip(("dbq", "dwq", "dxq", "dbf", "dwf", "dxf", "dbm", "dxm"),
                               list(ref_q) + list(ref_f) + list(ref_m))),
                  {"dbf": bt.grad.numpy()[:5], "dwf": wt.grad.permute(0, 2, 3, 1).numpy()[:3],
                   "dxf": xt.grad.permute(0, 2, 3, 1).numpy()}))

    # losses: softmax cross-entropy (float and int8 logits) and MSE
    z = (rng.standard_normal((1, 10)) * 4).astype(F)
    zq = rng.integers(-128, 128, (1, 5)).astype(np.int8)
    yv, tv = rng.standard_normal(12).astype(F), rng.standard_normal(12).astype(F)
    c = Case("loss")
    zs, zqs = c.fsrc("z", z), c.fsrc("zq", zq, 5, 0.125)
    ln, lqn = c.arr("lab", np.array([2], np.int32)), c.arr("labq", np.array([4], np.int32))
    dz, dzq, loss = c.out("dz", z.size), c.out("dzq", zq.size), c.out("loss", 3)
    ys, tn, dym = c.fsrc("y", yv), c.arr("t", tv), c.out("dy", 12)
    c.body += [f"const mcf_fsrc zs = {zs}; const mcf_fsrc zqs = {zqs}; const mcf_fsrc ys = {ys};",
               "const mcf_xent_args a = { .batch = 1, .classes = 10 };",
               "const mcf_xent_args aq = { .batch = 1, .classes = 5 };",
               f"{loss}[0] = mcf_softmax_xent(&a, &zs, {ln}, {dz});",
               f"{loss}[1] = mcf_softmax_xent(&aq, &zqs, {lqn}, {dzq});",
               f"{loss}[2] = mcf_mse(12, &ys, {tn}, {dym});"]
    zf = deq(zq, 5, 0.125)
    l1, g1 = golden("softmax_xent", [z, np.array([2], np.int32)])
    l2, g2 = golden("softmax_xent", [zf, np.array([4], np.int32)])
    l3, g3 = golden("mse_loss", [yv, tv])
    ora = {"loss": []}
    for key, zz, ll in (("dz", z, 2), ("dzq", zf, 4)):
        zt = torch.tensor(zz, dtype=torch.float64, requires_grad=True)
        lt = torch.nn.functional.cross_entropy(zt, torch.tensor([ll]))
        lt.backward()
        ora[key] = zt.grad.numpy()
        ora["loss"].append(lt.item())
    yt = torch.tensor(yv, dtype=torch.float64, requires_grad=True)
    lm = torch.nn.functional.mse_loss(yt, torch.tensor(tv, dtype=torch.float64))
    lm.backward()
    ora["loss"].append(lm.item())
    ora["dy"] = yt.grad.numpy()
    cases.append((c, {"dz": g1, "dzq": g2, "loss": np.concatenate([l1, l2, l3]), "dy": g3},
                  {k: np.array(v) for k, v in ora.items()}))

    # sgd_update over 3 steps: float32 param (vs torch.optim.SGD), int8 weight (3 of 4 rows,
    # per-row grad_scale, momentum), int32 bias without momentum
    p0 = rng.standard_normal((4, 3)).astype(F)
    grads = rng.standard_normal((3, 4, 3)).astype(F)
    pq0 = rng.integers(-127, 128, (4, 3)).astype(np.int8)
    pq0[0, 0], pq0[1, 1] = 127, -127
    gscale = np.array([10.0, 20.0, 5.0, 40.0], F)
    pb0 = rng.integers(-5000, 5000, 4).astype(np.int32)
    pb0[3] = 2 ** 31 - 1000
    grads[:, 1, 0] = -5.0              # drives pb[3] (flat element 3) over the int32 range
    ones = np.ones(4, F)
    c = Case("sgd")
    pf, mf, vf = c.arr("p", p0, False), c.arr("m", p0.copy(), False), c.arr("v", np.zeros(12, F), False)
    pqn, mq, vq = c.arr("pq", pq0, False), c.arr("mq", pq0[:3].astype(F), False), c.arr("vq", np.zeros(9, F), False)
    pbn, mb = c.arr("pb", pb0, False), c.arr("mb", pb0.astype(F), False)
    gn, gsn, onen = c.arr("g", grads), c.arr("gs", gscale), c.arr("one", ones)
    of, oq, ob = c.out("pf", 12), c.out("pq", 12, "int8_t"), c.out("pb", 4, "int32_t")
    om = c.out("mq", 9)
    c.body += [f"const mcf_sgd_args a = {{ .rows = 4, .row_size = 3, .lr = 0.1f, .momentum = 0.9f, "
               f".grad_scale = {onen}, .param_kind = MCF_PARAM_F32 }};",
               f"const mcf_sgd_args aq = {{ .rows = 3, .row_size = 3, .lr = 0.5f, .momentum = 0.9f, "
               f".grad_scale = {gsn}, .param_kind = MCF_PARAM_S8, .clamp_lo = -127, .clamp_hi = 127 }};",
               f"const mcf_sgd_args ab = {{ .rows = 4, .row_size = 1, .lr = 200.0f, .momentum = 0.0f, "
               f".grad_scale = {gsn}, .param_kind = MCF_PARAM_S32, .clamp_lo = -2147483647, "
               f".clamp_hi = 2147483647 }};",
               "for (int s = 0; s < 3; ++s) {",
               f"    mcf_sgd_update(&a, {gn} + 12 * s, {mf}, {vf}, {pf});",
               f"    mcf_sgd_update(&aq, {gn} + 12 * s, {mq}, {vq}, {pqn});",
               f"    mcf_sgd_update(&ab, {gn} + 12 * s, {mb}, NULL, {pbn});",
               "}",
               f"memcpy({of}, {pf}, sizeof({of})); memcpy({oq}, {pqn}, sizeof({oq})); "
               f"memcpy({ob}, {pbn}, sizeof({ob})); memcpy({om}, {mq}, sizeof({om}));"]
    st = {"f": [p0.copy(), np.zeros((4, 3), F), p0.copy()], "q": [pq0[:3].astype(F), np.zeros((3, 3), F), pq0.copy()],
          "b": [pb0.astype(F), None, pb0.copy()]}
    for s in range(3):
        m, v, p = st["f"]
        st["f"] = golden("sgd_update", [grads[s], m, v, ones, p], lr=0.1, momentum=0.9, rows=4, inplace_of=[])
        m, v, p = st["q"]
        st["q"] = golden("sgd_update", [grads[s][:3], m, v, gscale[:3], p], lr=0.5, momentum=0.9, rows=3,
                         inplace_of=[], clamp=(-127, 127))
        m, _, p = st["b"]
        mb_, pb_ = golden("sgd_update", [grads[s].reshape(-1)[:4], m, None, gscale, p], lr=200.0, rows=4,
                          inplace_of=[], clamp=(-(2 ** 31) + 1, 2 ** 31 - 1))
        st["b"] = [mb_, None, pb_]
    pt = torch.nn.Parameter(torch.tensor(p0, dtype=torch.float64))
    opt = torch.optim.SGD([pt], lr=0.1, momentum=0.9)
    for s in range(3):
        pt.grad = torch.tensor(grads[s], dtype=torch.float64)
        opt.step()
    cases.append((c, {"pf": st["f"][2], "pq": st["q"][2], "pb": st["b"][2], "mq": st["q"][0]},
                  {"pf": pt.detach().numpy(), "pq": None, "pb": None, "mq": None}))

    # a weight gradient applied row by row inside its update (wgrad_update): grouped 3x3 conv,
    # int8 x, 3 of 6 rows of an int8 weight with master and momentum, two steps
    x = rng.integers(-128, 128, (1, 6, 5, 4)).astype(np.int8)
    dys = rng.standard_normal((2, 1, 3, 2, 6)).astype(F)
    wq0 = rng.integers(-127, 128, (6, 3, 3, 2)).astype(np.int8)
    gsc = np.array([30.0, 50.0, 80.0], F)
    geo = dict(strides=(2, 2), dilations=(1, 1), pads=(1, 1, 1, 0), groups=2)
    c = Case("wgsgd")
    xs_, dyn = c.fsrc("x", x, -3, 0.05), c.arr("dy", dys)
    pw, mw, vw = c.arr("p", wq0, False), c.arr("m", wq0[:3].astype(F), False), c.arr("v", np.zeros(54, F), False)
    gsn = c.arr("gs", gsc)
    row = c.arr("row", np.zeros(18, F), False)
    op_, om_ = c.out("p", wq0.size, "int8_t"), c.out("m", 54)
    c.body += [f"const mcf_fsrc xs = {xs_};",
               f"const mcf_conv_grad_args ga = {{ .win = {window(x.shape, dys.shape[1:], (3, 3), (2, 2), (1, 1), (1, 1, 1, 0))}, "
               ".groups = 2, .out_rows = 3 };",
               f"const mcf_sgd_args u = {{ .rows = 3, .row_size = 18, .lr = 0.25f, .momentum = 0.9f, .grad_scale = {gsn}, "
               ".param_kind = MCF_PARAM_S8, .clamp_lo = -127, .clamp_hi = 127 };",
               f"for (int s = 0; s < 2; ++s) {{ mcf_wgrad_sgd_update(&ga, &u, &xs, {dyn} + 36 * s, {mw}, {vw}, {pw}, {row}); }}",
               f"memcpy({op_}, {pw}, sizeof({op_})); memcpy({om_}, {mw}, sizeof({om_}));"]
    m, v, p = wq0[:3].astype(F), np.zeros((3, 3, 3, 2), F), wq0.copy()
    for s_ in range(2):
        gw = golden("conv2d_grad_weight", [deq(x, -3, 0.05), dys[s_]], kernel=(3, 3), rows=3, **geo)[0]
        m, v, p = golden("sgd_update", [gw, m, v, gsc, p], lr=0.25, momentum=0.9, rows=3, inplace_of=[],
                         clamp=(-127, 127))
    assert not np.array_equal(p, wq0)
    cases.append((c, {"p": p, "m": m}, {"p": None, "m": None}))

    # exp / log on their own, over their domains
    xe = np.concatenate([np.linspace(-90, 0, 301), -np.abs(rng.standard_normal(50)) * 10]).astype(F)
    xl = np.concatenate([np.geomspace(1e-30, 1e30, 301), rng.random(50) * 3 + 0.5]).astype(F)
    c = Case("math")
    xen, xln = c.arr("xe", xe), c.arr("xl", xl)
    oe, ol = c.out("exp", xe.size), c.out("log", xl.size)
    c.body += [f"for (int i = 0; i < {xe.size}; ++i) {{ {oe}[i] = mcf_train_expf({xen}[i]); }}",
               f"for (int i = 0; i < {xl.size}; ++i) {{ {ol}[i] = mcf_train_logf({xln}[i]); }}"]
    cases.append((c, {"exp": exp_f(xe), "log": log_f(xl)},
                  {"exp": np.exp(np.maximum(xe.astype(np.float64), -80)), "log": np.log(xl.astype(np.float64))}))
    return cases


def write_program(cases, path):
    lines = ["#include <math.h>", "#include <string.h>", '#include "mcf_board.h"', '#include "mcf_train.h"',
             '#include "mcf_train_math.h"', ""]
    for c, _, _ in cases:
        lines += c.decls
    lines += ["", "int main(void)", "{", "    mcf_board_init();"]
    for c, _, _ in cases:
        lines += ["    {"] + [f"        {b}" for b in c.body]
        for what, cname, _ in c.outs:
            lines.append(f'        if (mcf_board_write_file("out_{c.name}_{what}.bin", {cname}, sizeof({cname}), 0)) '
                         "{ mcf_board_exit(MCF_BOARD_EXIT_IO); }")
        lines.append("    }")
    lines += ["    mcf_board_exit(0);", "}", ""]
    path.write_text("\n".join(lines))


def run_cases(board, tmp_path, cases):
    from mcuforge.sim.build import build_firmware
    from mcuforge.sim.qemu import run_firmware
    src = tmp_path / "train_kernels_main.c"
    write_program(cases, src)
    kdir = resources.runtime_c() / "kernels"
    exe = build_firmware(board, [src] + [kdir / k for k in KERNELS], [resources.runtime_c() / "include"],
                         tmp_path / board, opt="-O2", extra_cflags=["-ffp-contract=off"])
    run_dir = tmp_path / f"run_{board}"
    run_dir.mkdir()
    run_firmware(board, exe, run_dir, timeout=120).check()
    got = {}
    for c, _, _ in cases:
        for what, _, ctype in c.outs:
            dt = {"float": F, "int8_t": np.int8, "int32_t": np.int32}[ctype]
            got[(c.name, what)] = np.fromfile(run_dir / f"out_{c.name}_{what}.bin", dtype=dt)
    return got


@pytest.fixture(scope="module")
def cases():
    return build_cases(np.random.default_rng(11))


def _check_bits(cases, got, board):
    for c, want, _ in cases:
        for what, ref in want.items():
            ref = np.asarray(ref).reshape(-1)
            out = got[(c.name, what)]
            assert out.dtype == ref.dtype, (c.name, what)
            assert out.size == ref.size, (board, c.name, what)
            bad = int(np.sum(out.view(np.uint8).reshape(ref.size, -1) != ref.view(np.uint8).reshape(ref.size, -1)))
            assert bad == 0, f"{board} {c.name}.{what}: {bad} bytes differ from the golden model"


def test_golden_matches_torch(cases):
    """The numpy semantics are right: PyTorch autograd (float64) agrees within float32 rounding."""
    for c, want, oracle in cases:
        for what, ref in want.items():
            o = oracle.get(what)
            if o is None:
                continue
            np.testing.assert_allclose(np.asarray(ref, np.float64).reshape(-1), np.asarray(o).reshape(-1),
                                       rtol=2e-5, atol=2e-5, err_msg=f"{c.name}.{what}")


def test_int_updates_round_and_saturate(cases):
    """The int8 case reaches its clamp and keeps its untrained row; the int32 case saturates."""
    sgd = next(w for c, w, _ in cases if c.name == "sgd")
    assert sgd["pq"].dtype == np.int8 and {-127, 127} & set(sgd["pq"][:3].reshape(-1).tolist())
    assert sgd["pb"].dtype == np.int32 and sgd["pb"][3] == 2 ** 31 - 1


def test_host_c_equals_golden(cases, tmp_path):
    _check_bits(cases, run_cases("host", tmp_path, cases), "host")


def test_qemu_m4_equals_golden(cases, tmp_path):
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.fail("qemu-system-arm / arm-none-eabi-gcc missing: install them (see NOTES)")
    _check_bits(cases, run_cases("mps2-an386", tmp_path, cases), "mps2-an386")
