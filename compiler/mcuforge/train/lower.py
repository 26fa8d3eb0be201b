"""Lower Relax's adjoint function (train/relax_import.py) into our IR: the forward stays the
ordinary inference graph (float or int8), the loss becomes one `softmax_xent` / `mse_loss` node,
and each backward Relax binding (or small pattern of them) becomes one training op
(ir/ops/train_*.py). Relax values are NCHW; ours are NHWC, so rank-4 values change layout on the
way and weight gradients come out in our [Cout, KH, KW, Cin/g] layout.

Lowering is demand driven from the gradients of the trained parameters, so anything Relax
computed that no trained tensor needs is never emitted."""
from __future__ import annotations

import numpy as np

from ..errors import McuforgeError, UnsupportedOpError
from ..ir.graph import Graph, Node
from ..ir.ops import infer_node
from ..ir.tensor import Tensor
from .relax_import import NHWC_TO_NCHW_AXIS, RelaxBridge

NCHW_TO_NHWC_AXIS = {v: k for k, v in NHWC_TO_NCHW_AXIS.items()}


def _nhwc(shape):
    shape = tuple(int(d) for d in shape)
    return (shape[0], shape[2], shape[3], shape[1]) if len(shape) == 4 else shape


def _shape(expr):
    return tuple(int(d) for d in expr.ty.shape)


def _const_value(expr):
    import tvm
    if isinstance(expr, tvm.ir.expr.Constant):
        return expr.value.numpy()
    return None


class AdjointLowering:
    def __init__(self, g: Graph, br: RelaxBridge, param_map: dict, fwd_nodes: dict):
        """g: the graph to extend (the forward, float or int8). param_map: the float graph's
        parameter name -> g's tensor of it. fwd_nodes: our forward node name -> Node in g."""
        from tvm import relax
        self.relax = relax
        self.g, self.br, self.param_map, self.fwd = g, br, param_map, fwd_nodes
        self.bind = {}
        self.order = []
        for block in br.adjoint.body.blocks:
            for b in block.bindings:
                self.bind[b.var.name] = b.value
                self.order.append(b.var.name)
        self.memo: dict[str, str] = {}
        self.new_nodes: list[str] = []
        self.params_by_var = {v.name: t for t, v in br.params.items()}

    # -- emission ---------------------------------------------------------------------------
    def emit(self, op: str, inputs: list[str], attrs: dict, base: str, n_out: int = 1) -> list[str]:
        g = self.g
        name = g.unique(base)
        outs = [g.unique(f"{name}_out{i}" if n_out > 1 else f"{name}_out") for i in range(n_out)]
        node = Node(name, op, list(inputs), outs, dict(attrs))
        g.add_node(node)
        infer_node(g, node)
        self.new_nodes.append(name)
        return outs

    # -- helpers ----------------------------------------------------------------------------
    def _var_name(self, e):
        if isinstance(e, self.relax.Var):
            return e.name
        raise UnsupportedOpError(type(e).__name__, "adjoint", "expected a variable")

    def _call(self, name):
        v = self.bind.get(name)
        while isinstance(v, self.relax.Var) and v.name in self.bind:
            v = self.bind[v.name]
        return v

    def _op(self, value) -> str:
        return value.op.name if isinstance(value, self.relax.Call) else type(value).__name__

    def forward_tensor(self, name: str) -> str:
        """The tensor of ours that a forward Relax value (through layout-only ops) stands for."""
        info = self.br.info.get(name)
        if info is not None:
            return info["tensor"]
        value = self.bind.get(name)
        if isinstance(value, self.relax.Var):
            return self.forward_tensor(value.name)
        if isinstance(value, self.relax.Call) and value.op.name in ("relax.reshape", "relax.permute_dims"):
            return self.forward_tensor(self._var_name(value.args[0]))
        raise UnsupportedOpError(self._op(value), name, "not a value of the forward graph")

    def param_tensor(self, var_name: str) -> str:
        float_name = self.params_by_var[var_name]
        return self.param_map[float_name]

    # -- the lowering -----------------------------------------------------------------------
    def lower(self, name: str) -> str:
        if name in self.memo:
            return self.memo[name]
        if name in self.br.info:
            return self.br.info[name]["tensor"]
        if name not in self.bind:
            raise McuforgeError(f"adjoint: {name} is neither a binding nor a forward value")
        value = self.bind[name]
        if isinstance(value, self.relax.Var):
            out = self.lower(value.name)
        elif isinstance(value, self.relax.Call):
            out = self.lower_call(name, value)
        else:
            raise UnsupportedOpError(type(value).__name__, name, "cannot lower this adjoint value")
        self.memo[name] = out
        return out

    def lower_call(self, name, c) -> str:
        op = c.op.name
        a = c.args
        if op == "relax.where":
            return self.lower_where(name, c)
        if op == "relax.add":
            x, y = self.lower(self._var_name(a[0])), self.lower(self._var_name(a[1]))
            return self.emit("grad_add", [x, y], {}, "grad_add")[0]
        if op == "relax.collapse_sum_to":
            target = tuple(int(d) for d in a[1].values)
            dy = self.lower(self._var_name(a[0]))
            c_out = self.g.tensors[dy].shape[-1]
            if int(np.prod(target)) != c_out:
                raise UnsupportedOpError(op, name, f"bias gradient of shape {target} for {c_out} channels")
            return self.emit("grad_sum", [dy], {"rows": c_out}, "grad_sum")[0]
        if op == "relax.reshape":
            src = self._call(self._var_name(a[0]))
            if isinstance(src, self.relax.Call) and src.op.name == "relax.collapse_sum_to":
                return self.lower(self._var_name(a[0]))             # (1,C,1,1) -> (C,): same values
            shape = tuple(int(d) for d in a[1].values)
            x = self.lower(self._var_name(a[0]))
            return self.emit("reshape", [x], {"shape": shape}, "grad_reshape")[0]
        if op == "relax.permute_dims":
            axes = [int(v) for v in c.attrs.axes] if c.attrs.axes is not None else None
            x = self.lower(self._var_name(a[0]))
            if axes == [0, 3, 1, 2] and len(self.g.tensors[x].shape) == 4:
                return x                                             # NHWC view -> NCHW: ours is NHWC
            raise UnsupportedOpError(op, name, f"permutation {axes} in the backward")
        if op == "relax.broadcast_to":
            return self.lower_mean_grad(name, c)
        if op == "relax.grad.avg_pool2d_backward":
            at = c.attrs
            dy = self.lower(self._var_name(a[0]))
            x = self.forward_tensor(self._var_name(a[1]))
            pad = [int(p) for p in at.padding]
            return self.emit("avgpool_grad", [dy], {
                "kernel": tuple(int(k) for k in at.pool_size), "strides": tuple(int(s) for s in at.strides),
                "pads": (pad[0], pad[1], pad[2], pad[3]), "dilations": tuple(int(d) for d in at.dilation),
                "count_include_pad": int(bool(at.count_include_pad)),
                "in_shape": self.g.tensors[x].shape}, "avgpool_grad")[0]
        if op == "relax.nn.conv2d_transpose":
            at = c.attrs
            if at.data_layout != "NCHW" or at.kernel_layout not in ("IOHW", "OIHW"):
                raise UnsupportedOpError(op, name, f"layouts {at.data_layout}/{at.kernel_layout}")
            dy = self.lower(self._var_name(a[0]))
            w = self.param_tensor(self._var_name(a[1]))
            pad = [int(p) for p in at.padding]
            return self.emit("conv2d_grad_input", [dy, w], {
                "strides": tuple(int(s) for s in at.strides), "dilations": tuple(int(d) for d in at.dilation),
                "pads": tuple(pad), "groups": int(at.groups), "in_shape": _nhwc(_shape(c))}, "conv_grad_in")[0]
        if op == "relax.matmul":
            an, bn = self._var_name(a[0]), self._var_name(a[1])
            if bn in self.params_by_var:
                dy = self.lower(an)
                return self.emit("dense_grad_input", [dy, self.param_tensor(bn)], {}, "dense_grad_in")[0]
        raise UnsupportedOpError(op, name, "no lowering of this backward op to mcuforge IR")

    def lower_where(self, name, c) -> str:
        cond = self._call(self._var_name(c.args[0]))
        zero = _const_value(c.args[1])
        if zero is None or np.any(zero != 0) or not isinstance(cond, self.relax.Call):
            raise UnsupportedOpError("relax.where", name, "only activation masks where(cond, 0, dy)")
        ref = self._var_name(cond.args[0])
        bound = _const_value(cond.args[1])
        info = self.br.info.get(ref)
        if info is None or bound is None:
            raise UnsupportedOpError("relax.where", name, "mask not on a forward activation")
        if cond.op.name == "relax.less" and info["role"] == "pre" and float(bound) == 0.0:
            attrs = {"act_min": 0.0}
        elif cond.op.name == "relax.greater_equal" and info["role"] == "relu":
            attrs = {"act_max": float(bound)}
        else:
            raise UnsupportedOpError(cond.op.name, name, f"mask on a {info['role']} value")
        y = info["tensor"]
        dy = self.lower(self._var_name(c.args[2]))
        prod = self.g.producer(dy)
        if prod is not None and prod.op == "act_grad" and prod.inputs[0] == y and prod.name in self.new_nodes:
            prod.attrs.update(attrs)        # relu6: one mask with both bounds
            return dy
        return self.emit("act_grad", [y, dy], {"act_min": attrs.get("act_min"),
                                               "act_max": attrs.get("act_max")}, "act_grad")[0]

    def lower_mean_grad(self, name, c) -> str:
        in_shape = _shape(c)
        src = self._call(self._var_name(c.args[0]))
        axes = None
        if isinstance(src, self.relax.Call) and src.op.name == "relax.expand_dims":
            axes = [int(v) % len(in_shape) for v in src.attrs.axis]
            src = self._call(self._var_name(src.args[0]))
        if not (isinstance(src, self.relax.Call) and src.op.name == "relax.divide"):
            raise UnsupportedOpError("relax.broadcast_to", name, "only the backward of a mean")
        count = _const_value(src.args[1])
        if axes is None:    # keepdims: the reduced axes are those of size 1
            kept = _shape(src)
            axes = [i for i, (k, d) in enumerate(zip(kept, in_shape)) if k == 1 and d != 1]
        if count is None or int(np.prod([in_shape[a] for a in axes])) != int(count):
            raise UnsupportedOpError("relax.broadcast_to", name, "mean backward with an unexpected count")
        dy = self.lower(self._var_name(src.args[0]))
        ours = sorted(NCHW_TO_NHWC_AXIS[a] for a in axes) if len(in_shape) == 4 else axes
        return self.emit("mean_grad", [dy], {"axes": tuple(ours), "in_shape": _nhwc(in_shape)}, "mean_grad")[0]

    # -- parameter gradients ----------------------------------------------------------------
    def param_grad(self, var_name: str, rows: int) -> str:
        """The gradient of one trained parameter, its first `rows` rows (weights), in our layout."""
        node_name, kind, _ = self.br.param_of[var_name]
        node = self.fwd[node_name]
        adj = self._call(var_name + "_adjoint")
        if adj is None:
            raise McuforgeError(f"Relax computed no gradient for {var_name}")
        if kind == "bias":
            return self.lower(var_name + "_adjoint")
        if node.op == "conv2d":
            if isinstance(adj, self.relax.Call) and adj.op.name == "relax.strided_slice":
                adj = self._call(self._var_name(adj.args[0]))
            if not (isinstance(adj, self.relax.Call) and adj.op.name == "relax.nn.conv2d"
                    and adj.attrs.data_layout == "CNHW"):
                raise UnsupportedOpError(self._op(adj), var_name, "unexpected conv2d weight gradient")
            x = self.forward_tensor(self._var_name(adj.args[0]))
            if x != node.inputs[0]:
                raise McuforgeError(f"conv2d weight gradient of {node.name} reads {x}, not {node.inputs[0]}")
            dy = self.lower(self._var_name(adj.args[1]))
            kh, kw = self.g.tensors[node.inputs[1]].shape[1:3]
            return self.emit("conv2d_grad_weight", [x, dy], {
                "strides": node.attrs["strides"], "dilations": node.attrs["dilations"], "pads": node.attrs["pads"],
                "groups": node.attrs["groups"], "kernel": (kh, kw), "rows": rows}, f"{node.name}_grad_w")[0]
        if node.op == "dense":
            if not (isinstance(adj, self.relax.Call) and adj.op.name == "relax.matmul"):
                raise UnsupportedOpError(self._op(adj), var_name, "unexpected dense weight gradient")
            perm = self._call(self._var_name(adj.args[0]))
            if not (isinstance(perm, self.relax.Call) and perm.op.name == "relax.permute_dims"):
                raise UnsupportedOpError(self._op(perm), var_name, "unexpected dense weight gradient")
            x = self.forward_tensor(self._var_name(adj.args[1]))
            dy = self.lower(self._var_name(perm.args[0]))
            return self.emit("dense_grad_weight", [x, dy], {"rows": rows}, f"{node.name}_grad_w")[0]
        raise UnsupportedOpError(node.op, node.name, "no parameter gradient for this op")


def logits_adjoint_name(br: RelaxBridge) -> str:
    return br.logits.name + "_adjoint"
