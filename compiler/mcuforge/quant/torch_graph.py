"""A differentiable PyTorch evaluator of a float mcuforge Graph (NHWC, after canonicalize), for the
sensitivity analysis (Hessian-vector products need double backprop) and layer-wise calibration.

It runs the graph batched: axis 0 of every activation is the batch (the IR's shapes have 1 there).
The weights of conv2d / dense layers are torch Parameters (float64 by default), so a model from
ONNX or .tflite gets the same analysis as a torch.nn.Module. torch is imported lazily: only this
module and its callers need it. An op without a torch rule fails with McuforgeError naming it."""
from __future__ import annotations

import numpy as np

from ..errors import McuforgeError
from ..ir.graph import Graph, Node

WEIGHT_OPS = ("conv2d", "dense")
# movement ops that follow the batch axis wherever a transpose put it (the others need it on axis 0)
_BATCH_MOVERS = ("transpose", "reshape", "gather")


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is an optional extra
        raise McuforgeError("sensitivity analysis and QAT need PyTorch: pip install torch") from None
    return torch


class TorchGraph:
    """forward(x) -> outputs for a float Graph; .weights / .biases are Parameters per layer name."""

    def __init__(self, g: Graph, dtype=None):
        torch = _torch()
        self.torch = torch
        self.g = g
        self.dtype = dtype or torch.float64
        self.order = g.topo_order()
        self.layers = [n.name for n in self.order if n.op in WEIGHT_OPS]
        self.weights, self.biases = {}, {}
        for n in self.order:
            if n.op not in WEIGHT_OPS:
                continue
            w = g.tensors[n.inputs[1]]
            if w.data is None or w.dtype != "float32":
                raise McuforgeError(f"node {n.name}: sensitivity needs float weights, got {w.dtype}")
            self.weights[n.name] = torch.nn.Parameter(torch.tensor(np.asarray(w.data), dtype=self.dtype))
            if len(n.inputs) > 2 and n.inputs[2]:
                b = g.tensors[n.inputs[2]].data
                self.biases[n.name] = torch.nn.Parameter(torch.tensor(np.asarray(b), dtype=self.dtype))
        for n in self.order:
            if not hasattr(self, "_op_" + n.op):
                raise McuforgeError(f"op {n.op} (node {n.name}) has no PyTorch rule for the sensitivity analysis")

    def params(self) -> list:
        return [self.weights[name] for name in self.layers]

    def const(self, name: str):
        t = self.g.tensors[name]
        return self.torch.tensor(np.asarray(t.data), dtype=self.dtype)

    def run(self, x, weights: dict | None = None, keep: bool = False):
        """x: a batch for the single input (N, *shape[1:]) or a dict input -> batch. weights
        overrides layer weights (name -> tensor). keep: return every tensor's value."""
        torch = self.torch
        if not isinstance(x, dict):
            if len(self.g.inputs) != 1:
                raise McuforgeError("the model has several inputs; pass a dict of batches")
            x = {self.g.inputs[0]: x}
        env = {k: v if isinstance(v, torch.Tensor) else torch.tensor(np.asarray(v), dtype=self.dtype)
               for k, v in x.items()}
        # the axis of each activation that carries the batch: the IR's shapes have 1 there, axis 0
        # unless a transpose moved it (attention's (q, k, v) split: (1, T, 3, H, D) -> (3, 1, H, T, D))
        self._bax = {k: 0 for k in env}
        for n in self.order:
            ins = []
            for name in n.inputs:
                if not name:
                    ins.append(None)
                elif name in env:
                    ins.append(env[name])
                else:
                    ins.append(self.const(name))
            self._in_bax = [self._bax.get(name) if name else None for name in n.inputs]
            self._out_bax = 0
            if n.op not in _BATCH_MOVERS and any(b not in (None, 0) for b in self._in_bax):
                raise McuforgeError(f"op {n.op} (node {n.name}): its input carries the batch on axis "
                                    f"{max(b for b in self._in_bax if b is not None)}, not 0 (no PyTorch rule)")
            y = getattr(self, "_op_" + n.op)(n, ins, weights)
            env[n.outputs[0]] = y
            self._bax[n.outputs[0]] = self._out_bax
        if keep:
            return env
        outs = [env[o] for o in self.g.outputs]
        return outs[0] if len(outs) == 1 else outs

    # -- helpers ----------------------------------------------------------------------------
    def _act(self, n: Node, y):
        lo, hi = n.attrs.get("act_min"), n.attrs.get("act_max")
        if lo is None and hi is None:
            return y
        return self.torch.clamp(y, min=lo, max=hi)

    def _wb(self, n: Node, weights):
        w = (weights or {}).get(n.name, self.weights[n.name])
        return w, self.biases.get(n.name)

    def _batch_shape(self, shape, x):
        shape = list(shape)
        if shape and shape[0] == 1:
            shape[0] = x.shape[0]
        return shape

    # -- op rules (float semantics of ir/ops) --------------------------------------------------
    def _op_conv2d(self, n, ins, weights):
        F = self.torch.nn.functional
        w, b = self._wb(n, weights)
        t, l, bo, r = n.attrs["pads"]
        x = F.pad(ins[0].permute(0, 3, 1, 2), (l, r, t, bo))
        y = F.conv2d(x, w.permute(0, 3, 1, 2), b, stride=tuple(n.attrs["strides"]),
                     dilation=tuple(n.attrs["dilations"]), groups=n.attrs["groups"])
        return self._act(n, y.permute(0, 2, 3, 1))

    def _op_dense(self, n, ins, weights):
        w, b = self._wb(n, weights)
        y = ins[0] @ w.T
        return self._act(n, y + b if b is not None else y)

    def _binary(self, n, ins, f):
        return self._act(n, f(ins[0], ins[1]))

    def _op_add(self, n, ins, _):
        return self._binary(n, ins, lambda a, b: a + b)

    def _op_sub(self, n, ins, _):
        return self._binary(n, ins, lambda a, b: a - b)

    def _op_mul(self, n, ins, _):
        return self._binary(n, ins, lambda a, b: a * b)

    def _op_relu(self, n, ins, _):
        return self.torch.relu(ins[0])

    def _op_clip(self, n, ins, _):
        lo, hi = n.attrs["min"], n.attrs["max"]
        return self.torch.clamp(ins[0], min=None if lo == -np.inf else lo, max=None if hi == np.inf else hi)

    def _op_relu_tflm(self, n, ins, _):
        lo, hi = n.attrs["min"], n.attrs["max"]
        return self.torch.clamp(ins[0], min=None if lo == -np.inf else lo, max=None if hi == np.inf else hi)

    def _op_sigmoid(self, n, ins, _):
        return self.torch.sigmoid(ins[0])

    def _op_tanh(self, n, ins, _):
        return self.torch.tanh(ins[0])

    def _op_hardswish(self, n, ins, _):
        return self.torch.nn.functional.hardswish(ins[0])

    def _op_silu(self, n, ins, _):
        return ins[0] * self.torch.sigmoid(ins[0])

    def _op_hardsigmoid(self, n, ins, _):
        return self.torch.clamp(n.attrs["alpha"] * ins[0] + n.attrs["beta"], 0.0, 1.0)

    def _op_leakyrelu(self, n, ins, _):
        return self.torch.where(ins[0] >= 0, ins[0], n.attrs["alpha"] * ins[0])

    def _op_elu(self, n, ins, _):
        return self.torch.nn.functional.elu(ins[0], alpha=n.attrs["alpha"])

    def _op_erf(self, n, ins, _):
        return self.torch.erf(ins[0])

    def _op_gelu(self, n, ins, _):
        return self.torch.nn.functional.gelu(ins[0], approximate="tanh" if n.attrs["approximate"] == "tanh" else "none")

    def _op_pow(self, n, ins, _):
        return self.torch.pow(ins[0], n.attrs["exponent"])

    def _op_layernorm(self, n, ins, _):
        x = ins[0]
        axis = n.attrs["axis"] % x.dim()
        if axis == 0:
            raise McuforgeError(f"op layernorm (node {n.name}) normalizes over the batch axis")
        dims = tuple(range(axis, x.dim()))
        mean = x.mean(dim=dims, keepdim=True)
        var = ((x - mean) ** 2).mean(dim=dims, keepdim=True)
        shape = x.shape[axis:]
        gam = self.torch.tensor(np.broadcast_to(np.asarray(n.attrs["gamma"], np.float64).reshape(-1),
                                                (int(np.prod(shape)),)), dtype=self.dtype).reshape(shape)
        y = (x - mean) / self.torch.sqrt(var + n.attrs["epsilon"]) * gam
        if n.attrs["beta"] is not None:
            y = y + self.torch.tensor(np.broadcast_to(np.asarray(n.attrs["beta"], np.float64).reshape(-1),
                                                      (int(np.prod(shape)),)), dtype=self.dtype).reshape(shape)
        return y

    def _op_gather(self, n, ins, _):
        ax = n.attrs["axis"]
        self._out_bax = self._in_bax[0]
        if ax == self._in_bax[0]:
            raise McuforgeError(f"op gather (node {n.name}) indexes the batch axis")
        return self.torch.index_select(ins[0], ax, self.torch.tensor(list(n.attrs["indices"]), dtype=self.torch.long))

    def _op_matmul(self, n, ins, _):
        return self._act(n, self.torch.matmul(ins[0], ins[1]))

    def _op_resize(self, n, ins, _):
        from ..ir.ops.resize import Resize
        x = ins[0]
        t = Resize.tables(n, tuple(x.shape[1:3]))
        idx = lambda a: self.torch.as_tensor(np.asarray(a, np.int64))  # noqa: E731
        if n.attrs["mode"] == "nearest":
            return x[:, idx(t["iy"])][:, :, idx(t["ix"])]
        wy = self.torch.tensor(np.asarray(t["wy"], np.float64), dtype=self.dtype)[None, :, None, None]
        wx = self.torch.tensor(np.asarray(t["wx"], np.float64), dtype=self.dtype)[None, None, :, None]
        r0, r1 = x[:, idx(t["y0"])], x[:, idx(t["y1"])]
        x0, x1 = idx(t["x0"]), idx(t["x1"])
        return (r0[:, :, x0] * (1 - wy) * (1 - wx) + r1[:, :, x0] * wy * (1 - wx)
                + r0[:, :, x1] * (1 - wy) * wx + r1[:, :, x1] * wy * wx)

    def _op_conv_transpose2d(self, n, ins, _):
        """Constant weights [Cout][KH][KW][Cin / groups] (no sensitivity of its own: no sub-byte
        kernel): torch's full transposed convolution, then the IR's window (pads, size)."""
        F = self.torch.nn.functional
        x, w = ins[0], ins[1]
        groups = n.attrs["groups"]
        cout, kh, kw, cin_g = w.shape
        tw = w.reshape(groups, cout // groups, kh, kw, cin_g).permute(0, 4, 1, 2, 3).reshape(groups * cin_g,
                                                                                        cout // groups, kh, kw)
        full = F.conv_transpose2d(x.permute(0, 3, 1, 2), tw, None, stride=tuple(n.attrs["strides"]),
                                  dilation=tuple(n.attrs["dilations"]), groups=groups)
        pt, pl = n.attrs["pads"][:2]
        oh, ow = (int(d) for d in n.attrs["size"])
        full = F.pad(full, (0, max(0, pl + ow - full.shape[3]), 0, max(0, pt + oh - full.shape[2])))
        y = full[:, :, pt:pt + oh, pl:pl + ow].permute(0, 2, 3, 1)
        if len(ins) > 2 and ins[2] is not None:
            y = y + ins[2]
        return self._act(n, y)

    def _op_softmax(self, n, ins, _):
        return self.torch.softmax(ins[0] * n.attrs["beta"], dim=n.attrs["axis"])

    def _pool(self, n, x, kind):
        F = self.torch.nn.functional
        t, l, b, r = n.attrs["pads"]
        if tuple(n.attrs["dilations"]) != (1, 1):
            raise McuforgeError(f"op {n.op} (node {n.name}): dilated pooling has no PyTorch rule")
        xc = x.permute(0, 3, 1, 2)
        if kind == "max":
            y = F.max_pool2d(F.pad(xc, (l, r, t, b), value=-np.inf), tuple(n.attrs["kernel"]),
                             tuple(n.attrs["strides"]))
        else:
            ones = self.torch.ones_like(xc[:1, :1])
            s = F.avg_pool2d(F.pad(xc, (l, r, t, b)), tuple(n.attrs["kernel"]), tuple(n.attrs["strides"]),
                             divisor_override=1)
            if n.attrs.get("count_include_pad"):
                cnt = float(np.prod(n.attrs["kernel"]))
            else:
                cnt = F.avg_pool2d(F.pad(ones, (l, r, t, b)), tuple(n.attrs["kernel"]), tuple(n.attrs["strides"]),
                                   divisor_override=1)
            y = s / cnt
        return self._act(n, y.permute(0, 2, 3, 1))

    def _op_maxpool(self, n, ins, _):
        return self._pool(n, ins[0], "max")

    def _op_avgpool(self, n, ins, _):
        return self._pool(n, ins[0], "avg")

    def _op_mean(self, n, ins, _):
        axes = tuple(a for a in n.attrs["axes"])
        if 0 in axes:
            raise McuforgeError(f"op mean (node {n.name}) reduces the batch axis")
        return ins[0].mean(dim=axes, keepdim=bool(n.attrs["keepdims"]))

    def _op_reshape(self, n, ins, _):
        x, b = ins[0], self._in_bax[0]
        out = self.g.tensors[n.outputs[0]].shape
        if b:
            # the batch may come back to axis 0 where only axes of size 1 precede it (it is then the
            # outermost in memory order) and the output's axis 0 is 1
            if int(np.prod(self.g.tensors[n.inputs[0]].shape[:b])) != 1 or not out or out[0] != 1:
                raise McuforgeError(f"op reshape (node {n.name}) mixes the batch axis {b} with others")
            x = x.movedim(b, 0)
        return x.reshape(self._batch_shape(out, x))

    def _op_transpose(self, n, ins, _):
        perm = tuple(n.attrs["perm"])
        self._out_bax = None if self._in_bax[0] is None else perm.index(self._in_bax[0])
        return ins[0].permute(perm)

    def _op_concat(self, n, ins, _):
        ax = n.attrs["axis"]
        if ax == 0:
            raise McuforgeError(f"op concat (node {n.name}) concatenates along the batch axis")
        return self.torch.cat([v if v.shape[0] == ins[0].shape[0] else v.expand((ins[0].shape[0],) + tuple(v.shape[1:]))
                               for v in ins], dim=ax)

    def _op_slice(self, n, ins, _):
        x = ins[0]
        idx = [slice(None)]
        for s, st, sz in list(zip(n.attrs["starts"], n.attrs["steps"], n.attrs["sizes"]))[1:]:
            idx.append(slice(s, s + st * (sz - 1) + 1 if st > 0 else None, st))
        return x[tuple(idx)]

    def _op_pad(self, n, ins, _):
        pads = [tuple(p) for p in n.attrs["pads"]]
        if n.attrs.get("mode", "constant") != "constant" or any(pads[0]):
            raise McuforgeError(f"op pad (node {n.name}): only constant padding of non-batch axes has a PyTorch rule")
        tp = [v for a, b in reversed(pads) for v in (a, b)]
        return self.torch.nn.functional.pad(ins[0], tp, value=n.attrs.get("value", 0.0))
