"""ONNX handlers of reductions, matrix products and layer normalization (a mixin of OnnxImporter):
ReduceMean / ReduceSum / ReduceMax / ReduceMin (axes as attribute or input, keepdims,
noop_with_empty_axes), MatMul (constant or variable operands, batched, broadcasting),
LayerNormalization, and the decomposed layer norm that exporters write for opset < 17
(ReduceMean -> Sub -> Pow -> ReduceMean -> Add -> Sqrt -> Div [-> Mul -> Add]), which
`fuse_decomposed_layernorm` rewrites into one LayerNormalization node before import."""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOpError

NCHW_AXIS_IN_NHWC = {0: 0, 1: 3, 2: 1, 3: 2}
TO_NHWC = (0, 2, 3, 1)
REDUCE_OPS = {"ReduceMean": "mean", "ReduceSum": "reduce_sum", "ReduceMax": "reduce_max",
              "ReduceMin": "reduce_min"}


class ReduceOps:
    # -- reductions ---------------------------------------------------------------------------
    def _reduce(self, op, node, a):
        ir, layout = self.vals[node.input[0]]
        shape = self._onnx_shape(node.input[0])
        rank = len(shape)
        keep = int(a.get("keepdims", 1))
        axes = a.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.require_const(node, 1, "axes").reshape(-1).tolist()
        if not axes:
            if a.get("noop_with_empty_axes", 0):
                self.vals[node.output[0]] = self.vals[node.input[0]]
                return
            axes = list(range(rank))
        for ax in axes:
            if not -rank <= int(ax) < rank:
                raise UnsupportedOpError(node.op_type, node.name, f"axis {ax} out of range for rank {rank}")
        axes = sorted({int(ax) % rank for ax in axes})
        if layout == "nhwc" and rank == 4:
            kept_onnx = [d for d in range(4) if d not in axes]
            kept_device = [d for d in TO_NHWC if d not in axes]
            if keep or kept_onnx == kept_device:
                # reduce in the device layout; without keepdims the kept dims are then in ONNX order
                self.unconsumed_inputs.discard(ir)
                out = self.add(op, [ir], None, {"axes": tuple(NCHW_AXIS_IN_NHWC[d] for d in axes),
                                                "keepdims": keep}, name=node.name)
                self.bind(node.output[0], out, "nhwc" if keep else None)
                return
        x = self.plain(node.input[0])
        self.bind(node.output[0], self.add(op, [x], None, {"axes": tuple(axes), "keepdims": keep},
                                           name=node.name), None)

    def op_ReduceMean(self, node, a):
        self._reduce("mean", node, a)

    def op_ReduceSum(self, node, a):
        self._reduce("reduce_sum", node, a)

    def op_ReduceMax(self, node, a):
        self._reduce("reduce_max", node, a)

    def op_ReduceMin(self, node, a):
        self._reduce("reduce_min", node, a)

    # -- matrix products ----------------------------------------------------------------------
    def op_MatMul(self, node, a):
        bmat = self.const_value(node.input[1])
        a_rank = len(self._onnx_shape(node.input[0]))
        if bmat is not None and bmat.ndim >= 2 and all(d == 1 for d in bmat.shape[:-2]) and a_rank >= bmat.ndim:
            # a constant [1, ..., K, N] operand is a fully connected layer's weights
            if bmat.ndim > 2:
                self._squeeze_const(node.input[1], bmat.shape[-2:])
            x = self.plain(node.input[0])
            w = self._dense_weight(node, node.input[1], transpose=True)
            self.bind(node.output[0], self.add("dense", [x, w], None, None, name=node.name), None)
            return
        for i in (0, 1):
            c = self.t(self.vals[node.input[i]][0])
            if c.data is not None and c.quant is not None and c.quant.per_channel:
                raise UnsupportedOpError("MatMul", node.name, f"constant operand {i} of shape {c.shape} is "
                                         "quantized per channel; a batched int8 product takes per-tensor "
                                         "scales (a 2-D constant right operand becomes a dense layer)")
        x = self.plain(node.input[0])
        y = self.plain(node.input[1])
        self.bind(node.output[0], self.add("matmul", [x, y], None, None, name=node.name), None)

    def _squeeze_const(self, onnx_name, shape):
        """Rebind a constant with leading 1-dims as its trailing 2-D matrix (QDQ data kept)."""
        t = self.t(self.vals[onnx_name][0])
        c = self.g.const(self.g.unique(t.name + "_2d"), t.data.reshape(shape), t.dtype, t.quant)
        if "q_int" in t.meta:
            c.meta["q_int"] = t.meta["q_int"].reshape(shape)
        if t.quant is not None and t.quant.axis is not None:
            c.quant = type(t.quant)(t.quant.scale, t.quant.zero_point, t.quant.axis - (t.data.ndim - 2))
        self.bind(onnx_name, c.name, None)

    # -- layer normalization ------------------------------------------------------------------
    def op_LayerNormalization(self, node, a):
        if any(o for o in node.output[1:]):
            raise UnsupportedOpError("LayerNormalization", node.name, "the Mean / InvStdDev outputs")
        if int(a.get("stash_type", 1)) != 1:
            raise UnsupportedOpError("LayerNormalization", node.name, f"stash_type {a['stash_type']}")
        shape = self._onnx_shape(node.input[0])
        axis = int(a.get("axis", -1)) % len(shape)
        n = int(np.prod(shape[axis:]))
        gamma = self.require_const(node, 1, "scale")
        beta = self.require_const(node, 2, "B") if len(node.input) > 2 and node.input[2] else None
        for what, v in (("scale", gamma), ("B", beta)):
            if v is not None and v.size not in (1, n):
                raise UnsupportedOpError("LayerNormalization", node.name,
                                         f"{what} of shape {v.shape} broadcast over the normalized "
                                         f"shape {tuple(shape[axis:])} (only per-element)")
        attrs = {"axis": axis, "epsilon": float(a.get("epsilon", 1e-5)),
                 "gamma": np.ascontiguousarray(gamma, np.float32).reshape(-1),
                 "beta": None if beta is None else np.ascontiguousarray(beta, np.float32).reshape(-1)}
        x = self.plain(node.input[0])
        self.bind(node.output[0], self.add("layernorm", [x], None, attrs, name=node.name), None)

    def fuse_decomposed_layernorm(self):
        fuse_decomposed_layernorm(self.model)


def _key(n):
    return n.op_type, tuple(n.output)


def _per_last_axis(v) -> bool:
    """A constant that broadcasts along the last axis only (a layer norm's scale or bias)."""
    return v is not None and all(d == 1 for d in v.shape[:-1])


def _scalar(consts, name):
    v = consts.get(name)
    return None if v is None or v.size != 1 else float(v.reshape(-1)[0])


def fuse_decomposed_layernorm(model) -> int:
    """Rewrite ReduceMean -> Sub -> Pow(2) -> ReduceMean -> Add(eps) -> Sqrt -> Div [-> Mul(gamma)
    [-> Add(beta)]] over the last axis into LayerNormalization (modifies `model` in place; returns
    how many). A chain that differs in any way is left alone for the elementwise handlers."""
    from onnx import helper, numpy_helper
    g = model.graph
    consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    for n in g.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    users: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    graph_outputs = {o.name for o in g.output}

    def only_user(value, op_type):
        us = users.get(value, [])
        if len(us) != 1 or us[0].op_type != op_type or value in graph_outputs:
            return None
        return us[0]

    def axes_of(n):
        for at in n.attribute:
            if at.name == "axes":
                return list(at.ints)
        if len(n.input) > 1 and n.input[1] in consts:
            return consts[n.input[1]].reshape(-1).tolist()
        return None

    def keepdims(n):
        return next((at.i for at in n.attribute if at.name == "keepdims"), 1)

    fused, remove, replace = 0, set(), {}
    for rm1 in list(g.node):
        if rm1.op_type != "ReduceMean" or axes_of(rm1) != [-1] or not keepdims(rm1):
            continue
        x = rm1.input[0]
        subs = [u for u in users.get(rm1.output[0], []) if u.op_type == "Sub" and list(u.input) == [x, rm1.output[0]]]
        if len(subs) != 1 or len(users.get(rm1.output[0], [])) != 1:
            continue
        sub = subs[0]
        d = sub.output[0]
        d_users = users.get(d, [])
        pows = [u for u in d_users if u.op_type == "Pow" and u.input[0] == d and _scalar(consts, u.input[1]) == 2.0]
        divs = [u for u in d_users if u.op_type == "Div" and u.input[0] == d]
        if len(d_users) != 2 or len(pows) != 1 or len(divs) != 1:
            continue
        rm2 = only_user(pows[0].output[0], "ReduceMean")
        if rm2 is None or axes_of(rm2) != [-1] or not keepdims(rm2):
            continue
        add = only_user(rm2.output[0], "Add")
        eps = _scalar(consts, add.input[1]) if add is not None else None
        if eps is None:
            continue
        sqrt = only_user(add.output[0], "Sqrt")
        if sqrt is None or divs[0].input[1] != sqrt.output[0] or len(users.get(sqrt.output[0], [])) != 1:
            continue
        chain, last = [rm1, sub, pows[0], rm2, add, sqrt, divs[0]], divs[0]
        gamma = beta = None
        mul = only_user(last.output[0], "Mul")
        if mul is not None and _per_last_axis(consts.get(mul.input[1])):
            gamma, last = consts[mul.input[1]], mul
            chain.append(mul)
            badd = only_user(last.output[0], "Add")
            if badd is not None and _per_last_axis(consts.get(badd.input[1])):
                beta, last = consts[badd.input[1]], badd
                chain.append(badd)
        width = gamma.size if gamma is not None else (beta.size if beta is not None else 1)
        gamma = np.ones(width, np.float32) if gamma is None else gamma.astype(np.float32)
        inputs = [x, rm1.name + "_ln_scale"]
        inits = [numpy_helper.from_array(gamma.reshape(-1), inputs[1])]
        if beta is not None:
            inputs.append(rm1.name + "_ln_bias")
            inits.append(numpy_helper.from_array(beta.astype(np.float32).reshape(-1), inputs[2]))
        ln = helper.make_node("LayerNormalization", inputs, [last.output[0]], name=rm1.name + "_layernorm",
                              axis=-1, epsilon=eps)
        g.initializer.extend(inits)
        remove.update(_key(n) for n in chain)
        replace[_key(last)] = ln  # the fused node takes the place of the chain's last node
        fused += 1
    if remove:
        nodes = [replace.get(_key(n), n) for n in g.node if _key(n) not in remove or _key(n) in replace]
        del g.node[:]
        g.node.extend(nodes)
    return fused
