"""A small training graph built by hand after docs/training.md (float32), for the C backend's
tests: conv2d(relu) -> mean(H, W) -> dense -> softmax_xent; trained: the dense weight and bias
(full) and the conv bias plus the first 2 of 4 conv weight rows. The golden step is the
reference executor plus the in-place write-back of the update outputs."""
from __future__ import annotations

import numpy as np

from mcuforge.ir.graph import Graph, Node
from mcuforge.ir.tensor import Tensor
from mcuforge.reference.executor import Executor

F = np.float32


def tiny_cnn_train_graph(rng, lr=0.05, momentum=0.9, h=6, cin=2, cout=4, classes=3) -> Graph:
    g = Graph("tiny_train")
    g.add_tensor(Tensor("x", (1, h, h, cin), "float32"))
    g.add_tensor(Tensor("label", (1,), "int32"))
    cw = g.const("conv_w", (rng.standard_normal((cout, 3, 3, cin)) * 0.4).astype(F))
    cb = g.const("conv_b", (rng.standard_normal(cout) * 0.1).astype(F))
    dw = g.const("fc_w", (rng.standard_normal((classes, cout)) * 0.5).astype(F))
    db = g.const("fc_b", np.zeros(classes, F))
    for t in (cw, cb, dw, db):
        t.meta["trainable"] = True
    shapes = {}

    def node(name, op, ins, outs, shapes_out, dtypes=None, **attrs):
        for i, (o, s) in enumerate(zip(outs, shapes_out)):
            if o not in g.tensors:
                g.add_tensor(Tensor(o, s, (dtypes or ["float32"] * len(outs))[i]))
        g.add_node(Node(name, op, ins, outs, attrs))

    conv = dict(strides=(1, 1), dilations=(1, 1), pads=(1, 1, 1, 1), groups=1)
    node("conv", "conv2d", ["x", "conv_w", "conv_b"], ["y1"], [(1, h, h, cout)], act_min=0.0, **conv)
    node("pool", "mean", ["y1"], ["p"], [(1, cout)], axes=[1, 2], keepdims=0)
    node("fc", "dense", ["p", "fc_w", "fc_b"], ["z"], [(1, classes)])
    node("loss", "softmax_xent", ["z", "label"], ["loss", "dz"], [(1,), (1, classes)])
    node("fc_dw", "dense_grad_weight", ["p", "dz"], ["g_fc_w"], [(classes, cout)], rows=classes)
    node("fc_db", "grad_sum", ["dz"], ["g_fc_b"], [(classes,)], rows=classes)
    node("fc_dx", "dense_grad_input", ["dz", "fc_w"], ["dp"], [(1, cout)])
    node("pool_dx", "mean_grad", ["dp"], ["dy1"], [(1, h, h, cout)], axes=[1, 2], in_shape=(1, h, h, cout))
    node("relu_dx", "act_grad", ["y1", "dy1"], ["dz1"], [(1, h, h, cout)], act_min=0.0, act_max=None)
    node("conv_dw", "conv2d_grad_weight", ["x", "dz1"], ["g_conv_w"], [(2, 3, 3, cin)], kernel=(3, 3), rows=2,
         **conv)
    node("conv_db", "grad_sum", ["dz1"], ["g_conv_b"], [(cout,)], rows=cout)
    trained = []
    for param, grad, rows in (("fc_w", "g_fc_w", classes), ("fc_b", "g_fc_b", classes),
                              ("conv_w", "g_conv_w", 2), ("conv_b", "g_conv_b", cout)):
        p = g.tensors[param]
        master = g.const(f"{param}_master", p.data[:rows].astype(F))
        master.meta["state"] = "master"
        mom = g.const(f"{param}_mom", np.zeros((rows,) + p.shape[1:], F))
        mom.meta["state"] = "momentum"
        scale = g.const(f"{param}_gscale", np.ones(rows, F))
        outs = [f"{param}_master_new", f"{param}_mom_new", f"{param}_new"]
        node(f"upd_{param}", "sgd_update", [grad, master.name, mom.name, scale.name, param], outs,
             [master.shape, mom.shape, p.shape], lr=lr, momentum=momentum, rows=rows,
             inplace_of=[master.name, mom.name, param])
        trained.append({"param": param, "master": master.name, "momentum": mom.name, "rows": rows,
                        "channels": p.shape[0], "kind": "bias" if p.data.ndim == 1 else "weight", "layer": ""})
    g.inputs, g.outputs = ["x", "label"], ["loss"]
    g.meta["quant"] = "float32"
    g.meta["train"] = {"quant": "float32", "loss": "xent", "qas": False, "trained": trained,
                       "optimizer": {"kind": "sgd", "lr": lr, "momentum": momentum},
                       "saved": ["x", "y1", "p"], "state": [], "backward_nodes": [
                           "fc_dw", "fc_db", "fc_dx", "pool_dx", "relu_dx", "conv_dw", "conv_db"]}
    return g


def golden_steps(g: Graph, xs, labels) -> list[np.float32]:
    """Run the training step on each sample in turn, writing the update outputs back into the
    state tensors (on a copy of g); returns the losses."""
    g = g.copy()
    ex = Executor(g)
    losses = []
    for x, y in zip(xs, labels):
        env = ex.run({"x": x[None], "label": np.array([y], np.int32)}, keep_all=True)
        for n in g.nodes.values():
            if n.op == "sgd_update":
                for o, s in zip(n.outputs, n.attrs["inplace_of"]):
                    g.tensors[s].data = env[o].astype(g.tensors[s].np_dtype)
        losses.append(F(env["loss"][0]))
    return losses
