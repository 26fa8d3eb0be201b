"""The golden training step: runs a training Graph (train/build.py) in numpy, forward with the
inference ops' own float / int8 semantics, backward and updates with the training ops' float32
semantics, and keeps the state tensors (trained params, masters, momenta) between steps. The C
training step must equal it bit for bit in int8 mode (docs/training.md)."""
from __future__ import annotations

import numpy as np

from ..ir.graph import Graph
from ..ir.ops import get_op
from ..reference.executor import is_integer_node


class TrainState:
    def __init__(self, g: Graph):
        if "train" not in g.meta:
            raise ValueError(f"graph {g.name} is not a training graph")
        self.g = g
        self.meta = g.meta["train"]
        self.order = g.topo_order()
        self.params = {}
        for n in self.order:
            op = get_op(n.op)
            if getattr(op, "train", False) or is_integer_node(g, n):
                self.params[n.name] = op.int8_params(n, g)
        self.state = {name: g.tensors[name].data.copy() for name in self.meta["state"]}
        self.updates = set(self.meta["update_nodes"])
        self.forward = [n for n in self.order if n.name in set(self.meta["forward_nodes"])]
        self.last_grads: dict[str, np.ndarray] = {}

    def _value(self, env, name):
        if not name:
            return None
        if name in env:
            return env[name]
        if name in self.state:
            return self.state[name]
        t = self.g.tensors[name]
        if t.data is None:
            raise KeyError(f"tensor {name} has no value")
        return t.data

    def _run(self, nodes, env):
        g = self.g
        for node in nodes:
            xs = [self._value(env, t) for t in node.inputs]
            op = get_op(node.op)
            if node.name in self.params:
                ys = op.run_int8(node, xs, self.params[node.name])
            else:
                ys = op.run_float(node, xs)
            for name, y in zip(node.outputs, ys):
                env[name] = np.asarray(y).astype(g.tensors[name].np_dtype)
        return env

    def _feeds(self, x, label):
        g = self.g
        xt = g.tensors[g.inputs[0]]
        x = np.asarray(x)
        if x.shape != xt.shape:
            x = x.reshape(xt.shape)
        env = {g.inputs[0]: x.astype(xt.np_dtype)}
        lt = g.tensors[g.inputs[1]]
        env[g.inputs[1]] = np.asarray(label).astype(lt.np_dtype).reshape(lt.shape)
        return env

    def step(self, x, label) -> float:
        """One training step on one sample (model layout, int8 in int8 mode); returns the loss
        and applies every update to the state."""
        env = self._run(self.order, self._feeds(x, label))
        self.last_grads = {}
        for n in self.order:
            if n.name in self.updates:
                self.last_grads[n.inputs[4]] = env[n.inputs[0]]
                for out, dst in zip(n.outputs, n.attrs["inplace_of"]):
                    self.state[dst] = env[out]
        return float(env[self.g.outputs[0]][0])

    def gradients(self, x, label) -> tuple[float, dict[str, np.ndarray]]:
        """Loss and the gradient of every trained tensor (rows trained, our layout, real units)
        without changing the state."""
        env = self._run([n for n in self.order if n.name not in self.updates], self._feeds(x, label))
        grads = {n.inputs[4]: env[n.inputs[0]] for n in self.order if n.name in self.updates}
        return float(env[self.g.outputs[0]][0]), grads

    def predict(self, x) -> np.ndarray:
        """The model output (logits) with the current parameters."""
        g = self.g
        xt = g.tensors[g.inputs[0]]
        env = {g.inputs[0]: np.asarray(x).reshape(xt.shape).astype(xt.np_dtype)}
        env = self._run(self.forward, env)
        logits = self.g.node(next(n for n in self.order if n.op in ("softmax_xent", "mse_loss")).name).inputs[0]
        return env[logits]
