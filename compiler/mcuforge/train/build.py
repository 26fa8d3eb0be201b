"""build_training_graph: the entry point of the training path (docs/training.md)."""
from __future__ import annotations

import numpy as np

from ..errors import McuforgeError
from ..ir.graph import Graph, Node
from ..ir.ops import infer_node, infer_shapes
from ..ir.tensor import Tensor
from .sparse import Trained, canonical_spec, parse_spec

QUANTS = ("int8", "float32")
LOSSES = ("xent", "mse")


def float_forward(model, input_shapes=None, example_inputs=None) -> Graph:
    """The canonical float forward graph of a model (file, onnx proto, torch module or Graph)."""
    from ..api import prepare_graph
    if isinstance(model, Graph) and model.meta.get("quant") == "int8":
        raise McuforgeError("training needs the float model (ONNX or torch), not an int8 one: "
                            "int8 training quantizes it itself from --calib samples")
    g, _ = prepare_graph(model, quant="float32", input_shapes=input_shapes, quiet=True,
                         example_inputs=example_inputs)
    if g.meta.get("quant") == "int8":
        raise McuforgeError("training needs the float model (ONNX or torch), not an int8 one")
    return g


def quantize_forward(f: Graph, calib) -> Graph:
    from ..api import load_samples
    from ..quant.calibrate import calibrate
    from ..quant.int8 import quantize_int8
    samples = load_samples(calib, f) if calib is not None else None
    if not samples:
        raise McuforgeError("int8 training needs calibration samples: pass --calib SAMPLES.npy "
                            "(or train with --quant float32)")
    q = quantize_int8(f, calibrate(f, samples, "minmax"))
    infer_shapes(q)
    from ..quant.range_check import check_int8_ranges
    check_int8_ranges(q)        # the forward's accumulators, as for inference
    return q


def build_training_graph(model, update="auto", quant: str = "int8", calib=None, loss: str = "xent",
                         sram_budget: int | None = None, lr: float = 0.01, momentum: float = 0.9,
                         qas: bool = True, example_inputs=None, input_shapes=None,
                         auto_options: dict | None = None, master: bool = True, fuse: bool = True) -> Graph:
    if quant not in QUANTS:
        raise McuforgeError(f"training quant must be one of {', '.join(QUANTS)}, not {quant!r}")
    if loss not in LOSSES:
        raise McuforgeError(f"loss must be one of {', '.join(LOSSES)}, not {loss!r}")
    f = model if (isinstance(model, Graph) and model.meta.get("canonical_float")) else \
        float_forward(model, input_shapes, example_inputs)
    f.meta["canonical_float"] = True
    q = quantize_forward(f, calib) if quant == "int8" else None
    if update == "auto" or update is None:
        from .auto import choose_scheme
        trained = choose_scheme(f, q, quant=quant, calib=calib, loss=loss, sram_budget=sram_budget, lr=lr,
                                momentum=momentum, qas=qas, master=master, **(auto_options or {}))
    elif isinstance(update, (list, tuple)) and all(isinstance(t, Trained) for t in update):
        trained = list(update)
    elif isinstance(update, dict):
        trained = parse_spec(",".join(f"{k}:{v}" for k, v in update.items()), f)
    else:
        trained = parse_spec(str(update), f)
    g = assemble(f, q, trained, quant=quant, loss=loss, lr=lr, momentum=momentum, qas=qas, master=master,
                 fuse=fuse)
    if sram_budget is not None and update not in ("auto", None):
        from .memory import training_sram
        need = training_sram(g)["total"]
        if need > sram_budget:
            raise McuforgeError(f"the training step needs {need} bytes of SRAM (arena + state), "
                                f"{need - sram_budget} bytes over the budget of {sram_budget}")
    return g


def assemble(f: Graph, q: Graph | None, trained: list[Trained], quant: str = "int8", loss: str = "xent",
             lr: float = 0.01, momentum: float = 0.9, qas: bool = True, master: bool = True,
             fuse: bool = True) -> Graph:
    """Relax adjoint of f for `trained`, lowered onto the forward (q for int8, else f). With
    fuse, a head's mean / mask / 1x1-conv backward runs as one node (train/fuse_backward.py)."""
    from .lower import AdjointLowering, logits_adjoint_name
    from .relax_import import build_relax
    fwd = q if q is not None else f
    g = fwd.copy()
    fwd_nodes = {n.name: n for n in g.nodes.values()}
    forward_names = [n.name for n in g.topo_order()]
    idx = {"weight": 1, "bias": 2}
    float_params = [f.node(t.layer).inputs[idx[t.kind]] for t in trained]
    br = build_relax(f, float_params, loss)
    param_map = {}
    for n in f.nodes.values():
        if n.op in ("conv2d", "dense"):
            for i in (1, 2):
                if len(n.inputs) > i and n.inputs[i]:
                    param_map[n.inputs[i]] = g.node(n.name).inputs[i]

    x = g.inputs[0]
    logits = g.outputs[0]
    if loss == "xent":
        label = g.add_tensor(Tensor(g.unique("label"), (1,), "int32")).name
        loss_op = "softmax_xent"
    else:
        label = g.add_tensor(Tensor(g.unique("target"), g.tensors[logits].shape, "float32")).name
        loss_op = "mse_loss"
    lw = AdjointLowering(g, br, param_map, fwd_nodes)
    loss_t, dlogits = lw.emit(loss_op, [logits, label], {}, "loss", n_out=2)
    g.tensors[loss_t].meta["role"] = "loss"
    lw.memo[logits_adjoint_name(br)] = dlogits

    # parameter gradients in the order Relax produces them (backward order), each update
    # emitted right after its gradient so the schedule applies and frees it at once
    pos = {name: i for i, name in enumerate(lw.order)}
    items = []
    for t, p in zip(trained, float_params):
        var = br.params[p].name
        items.append((pos.get(var + "_adjoint", len(pos)), t, p, var))
    items.sort(key=lambda it: it[0])
    meta_trained, updates = [], []
    for _, t, p, var in items:
        grad = lw.param_grad(var, t.rows)
        node = fwd_nodes[t.layer]
        param = param_map[p]
        pt = g.tensors[param]
        pt.meta["trainable"] = True
        keep_master = master or pt.dtype == "float32"     # float32 params are their own master
        mst = None
        if keep_master and pt.dtype != "float32":
            mst = g.const(f"{param}_master", pt.data[:t.rows].astype(np.float32), "float32")
            mst.meta["state"] = "master"
        mom = None
        if momentum:
            mom = g.const(f"{param}_momentum", np.zeros((t.rows,) + pt.shape[1:], np.float32), "float32")
            mom.meta["state"] = "momentum"
        scale = np.ones(t.rows, np.float64)
        clamp = None
        if pt.dtype in ("int8", "int32"):
            s = np.broadcast_to(pt.quant.scale, (t.channels,))[:t.rows].astype(np.float64)
            scale = 1.0 / s if qas else s
            clamp = (-127, 127) if pt.dtype == "int8" else (-(2 ** 31 - 1), 2 ** 31 - 1)
        gs = g.const(f"{param}_grad_scale", scale.astype(np.float32), "float32")
        ins = [grad, mst.name if mst else "", mom.name if mom else "", gs.name, param]
        inplace = ([mst.name] if mst else []) + ([mom.name] if mom else []) + [param]
        outs = lw.emit("sgd_update", ins, {"lr": float(lr), "momentum": float(momentum), "rows": t.rows,
                                          "inplace_of": inplace, "clamp": clamp, "after": []},
                       f"{node.name}_{t.kind}_update", n_out=len(inplace))
        updates.append(lw.new_nodes[-1])
        meta_trained.append({"param": param, "master": mst.name if mst else None, "momentum": mom.name if mom else None,
                             "kind": t.kind, "layer": t.layer, "rows": t.rows, "channels": t.channels})

    # every reader of a parameter's old value runs before its update (control edges)
    for u in updates:
        un = g.node(u)
        param = un.inputs[4]
        readers = [c.name for c in g.consumers(param) if c.name != u]
        un.attrs["after"] = readers
        for r in readers:
            g.nx.add_edge(r, u)
    backward = [n for n in lw.new_nodes if n not in updates]
    if fuse:
        from .fuse_backward import fuse_head_backward
        g, renamed = fuse_head_backward(g)
        backward = [renamed.get(n, n) for n in backward if renamed.get(n, n)]
    g.inputs = [x, label]
    g.outputs = [loss_t]
    g.prune_tensors()
    infer_shapes(g)
    saved = sorted({t for n in backward for t in g.node(n).inputs
                    if t and t in g.tensors and not g.tensors[t].is_const and t != label
                    and (g.producer(t) is None or g.producer(t).name in fwd_nodes)})
    g.meta["train"] = {
        "quant": quant, "loss": loss, "qas": bool(qas) if quant == "int8" else False,
        "optimizer": {"kind": "sgd", "lr": float(lr), "momentum": float(momentum)},
        "update_spec": canonical_spec(trained, f),
        "trained": meta_trained,
        "saved": saved,
        "state": [s for tr in meta_trained for s in (tr["param"], tr["master"], tr["momentum"]) if s],
        "forward_nodes": forward_names,
        "backward_nodes": backward,
        "update_nodes": updates,
    }
    g.name = fwd.name
    return g
