"""Our canonical float graph -> a Relax function (NCHW, as Relax's conv2d gradient requires) with
the loss appended, and its adjoint from `relax.transform.Gradient` for exactly the trained
parameters.

Why the Relax function is built from our IR rather than from `relax.frontend.onnx.from_onnx`:
our importer already handles ONNX, torch modules and TFLite, folds BatchNorm and fuses
activations, so the Relax forward is node for node the forward the device runs, and every Relax
value has a known tensor of ours to lower back to. (Checked on TVM 0.27: from_onnx imports Clip,
i.e. ReLU6, as `call_tir` to a TIR maximum/minimum, which Gradient cannot differentiate, and
`relax.clip` has no registered gradient either; relu6 here is `minimum(relu(x), 6)`.)

TVM is imported inside the functions: only this training path needs it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import McuforgeError, UnsupportedOpError
from ..ir.graph import Graph

NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}


def import_tvm():
    try:
        import tvm  # noqa: F401
        from tvm import relax  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise McuforgeError("training graphs need TVM: pip install 'mcuforge[train]' "
                            f"(apache-tvm==0.27.0.post1): {e}") from None
    return tvm


@dataclass
class RelaxBridge:
    """The Relax module and what each Relax value stands for in our graph."""
    mod: object = None                      # IRModule with "main" and "main_adjoint"
    adjoint: object = None                  # the adjoint relax.Function
    # Relax var name -> info: tensor (ours), role, node (ours)
    info: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)     # our param tensor name -> relax Var
    param_of: dict = field(default_factory=dict)   # relax var name -> (our node, "weight"|"bias", our tensor)
    logits: object = None                   # relax Var of the model output
    trained_vars: list = field(default_factory=list)


def _act(bb, relax, y, node, info, out_tensor):
    lo, hi = node.attrs.get("act_min"), node.attrs.get("act_max")
    if lo is None and hi is None:
        return y
    if lo != 0.0 or hi not in (None, 6.0):
        raise UnsupportedOpError(node.op, node.name, f"training supports ReLU and ReLU6 activations, not "
                                 f"clamp [{lo}, {hi}]")
    info[y.name] = {"tensor": out_tensor, "role": "pre", "node": node.name}
    y = bb.emit(relax.op.nn.relu(y), name_hint=_nm(out_tensor) + "_relu")
    if hi is not None:
        info[y.name] = {"tensor": out_tensor, "role": "relu", "node": node.name, "max": hi}
        y = bb.emit(relax.op.minimum(y, relax.const(np.float32(hi))), name_hint=_nm(out_tensor) + "_relu6")
    return y


def _nm(name: str) -> str:
    return "v_" + "".join(c if c.isalnum() else "_" for c in name)


def build_relax(g: Graph, trained: list[str], loss: str = "xent") -> RelaxBridge:
    """g: our float, canonicalized forward graph (one input, one output). trained: our parameter
    tensor names (weights in our OHWI / [M, K] layout, biases) to differentiate."""
    import_tvm()
    from tvm import relax
    T = relax.TensorType
    br = RelaxBridge()
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise McuforgeError(f"training needs a model with one input and one output, not "
                            f"{len(g.inputs)} / {len(g.outputs)}")
    xin = g.tensors[g.inputs[0]]
    x_shape = xin.shape
    if len(x_shape) == 4:
        x_shape = (x_shape[0], x_shape[3], x_shape[1], x_shape[2])
    xv = relax.Var(_nm(xin.name), T(x_shape, "float32"))
    env = {xin.name: xv}
    br.info[xv.name] = {"tensor": xin.name, "role": "out", "node": None}
    pvars = []
    order = g.topo_order()
    # every conv / dense weight and bias becomes a parameter of the Relax function
    for n in order:
        if n.op in ("conv2d", "dense"):
            for i, kind in ((1, "weight"), (2, "bias")):
                if len(n.inputs) > i and n.inputs[i]:
                    t = g.tensors[n.inputs[i]]
                    if not t.is_const:
                        raise UnsupportedOpError(n.op, n.name, f"{kind} {t.name} is not a constant")
                    shape = t.shape
                    if n.op == "conv2d" and kind == "weight":
                        shape = (shape[0], shape[3], shape[1], shape[2])   # OHWI -> OIHW
                    v = relax.Var(_nm(t.name), T(shape, "float32"))
                    br.params[t.name] = v
                    br.param_of[v.name] = (n.name, kind, t.name)
                    pvars.append(v)
    out_t = g.tensors[g.outputs[0]]
    if loss == "xent":
        if len(out_t.shape) != 2 or out_t.shape[0] != 1:
            raise McuforgeError(f"softmax cross-entropy needs logits [1, K], the model gives {out_t.shape}")
        label = relax.Var("label_onehot", T(out_t.shape, "float32"))
    else:
        tshape = out_t.shape
        if len(tshape) == 4:
            tshape = (tshape[0], tshape[3], tshape[1], tshape[2])
        label = relax.Var("target", T(tshape, "float32"))

    bb = relax.BlockBuilder()
    with bb.function("main", [xv] + pvars + [label]):
        with bb.dataflow():
            for n in order:
                ins = [g.tensors[t] if t else None for t in n.inputs]
                out = n.outputs[0]
                rank_in = len(ins[0].shape) if ins and ins[0] is not None else 0

                def arg(i):
                    name = n.inputs[i]
                    if name in env:
                        return env[name]
                    t = g.tensors[name]
                    if t.is_const:
                        data = t.data.astype(np.float32)
                        if data.ndim == 4:
                            data = data.transpose(0, 3, 1, 2)
                        return relax.const(data)
                    raise McuforgeError(f"node {n.name}: input {name} has no value")
                if n.op == "conv2d":
                    y = bb.emit(relax.op.nn.conv2d(arg(0), br.params[n.inputs[1]], strides=n.attrs["strides"],
                                                   padding=n.attrs["pads"], dilation=n.attrs["dilations"],
                                                   groups=n.attrs["groups"]), name_hint=_nm(out) + "_conv")
                    br.info[y.name] = {"tensor": out, "role": "conv", "node": n.name}
                    if len(n.inputs) > 2 and n.inputs[2]:
                        b = br.params[n.inputs[2]]
                        cout = ins[1].shape[0]
                        y = bb.emit(relax.op.add(y, relax.op.reshape(b, (1, cout, 1, 1))), name_hint=_nm(out) + "_bias")
                        br.info[y.name] = {"tensor": out, "role": "conv", "node": n.name}
                    y = _act(bb, relax, y, n, br.info, out)
                elif n.op == "dense":
                    if rank_in != 2:
                        raise UnsupportedOpError(n.op, n.name, f"training needs a 2-D dense input, not {ins[0].shape}")
                    y = bb.emit(relax.op.matmul(arg(0), relax.op.permute_dims(br.params[n.inputs[1]])),
                                name_hint=_nm(out) + "_mm")
                    br.info[y.name] = {"tensor": out, "role": "conv", "node": n.name}
                    if len(n.inputs) > 2 and n.inputs[2]:
                        y = bb.emit(relax.op.add(y, br.params[n.inputs[2]]), name_hint=_nm(out) + "_bias")
                        br.info[y.name] = {"tensor": out, "role": "conv", "node": n.name}
                    y = _act(bb, relax, y, n, br.info, out)
                elif n.op == "avgpool":
                    if n.attrs.get("act_min") is not None or n.attrs.get("act_max") is not None:
                        raise UnsupportedOpError(n.op, n.name, "training does not support a clamp fused into pooling")
                    y = bb.emit(relax.op.nn.avg_pool2d(arg(0), n.attrs["kernel"], n.attrs["strides"], n.attrs["pads"],
                                                       n.attrs["dilations"],
                                                       count_include_pad=bool(n.attrs["count_include_pad"])),
                                name_hint=_nm(out))
                elif n.op == "mean":
                    axes = [a % rank_in for a in n.attrs["axes"]] or list(range(rank_in))
                    if rank_in == 4:
                        axes = [NHWC_TO_NCHW_AXIS[a] for a in axes]
                        if not n.attrs["keepdims"] and sorted(axes) != [2, 3]:
                            raise UnsupportedOpError(n.op, n.name, "training supports a mean over H and W only")
                    y = bb.emit(relax.op.mean(arg(0), axis=axes, keepdims=bool(n.attrs["keepdims"])), name_hint=_nm(out))
                elif n.op == "add":
                    if tuple(ins[0].shape) != tuple(ins[1].shape):
                        raise UnsupportedOpError(n.op, n.name, "training supports adds of equal shapes only")
                    y = bb.emit(relax.op.add(arg(0), arg(1)), name_hint=_nm(out) + "_add")
                    br.info[y.name] = {"tensor": out, "role": "conv", "node": n.name}
                    y = _act(bb, relax, y, n, br.info, out)
                elif n.op == "reshape":
                    shape = tuple(g.tensors[out].shape)
                    if rank_in == 4 and len(shape) == 2:
                        p = bb.emit(relax.op.permute_dims(arg(0), [0, 2, 3, 1]), name_hint=_nm(out) + "_nhwc")
                        br.info[p.name] = {"tensor": n.inputs[0], "role": "nhwc", "node": n.name}
                        y = bb.emit(relax.op.reshape(p, shape), name_hint=_nm(out))
                    elif rank_in == 2 and len(shape) == 2:
                        y = bb.emit(relax.op.reshape(arg(0), shape), name_hint=_nm(out))
                    else:
                        raise UnsupportedOpError(n.op, n.name, f"training supports flattening reshapes, not "
                                                 f"{ins[0].shape} -> {shape}")
                elif n.op in ("relu", "clip"):
                    lo, hi = (0.0, None) if n.op == "relu" else (n.attrs["min"], n.attrs["max"])
                    if lo != 0.0 or hi not in (None, 6.0, np.inf):
                        raise UnsupportedOpError(n.op, n.name, "training supports ReLU and ReLU6 only")
                    fake = type("N", (), {"attrs": {"act_min": 0.0, "act_max": None if hi in (None, np.inf) else hi},
                                          "op": n.op, "name": n.name})
                    y = _act(bb, relax, arg(0), fake, br.info, out)
                else:
                    raise UnsupportedOpError(n.op, n.name, "no training (backward) support for this op yet")
                br.info[y.name] = {"tensor": out, "role": "out", "node": n.name}
                env[out] = y
            logits = env[g.outputs[0]]
            br.logits = logits
            if loss == "xent":
                lv = bb.emit(relax.op.nn.cross_entropy_with_logits(relax.op.nn.log_softmax(logits), label),
                             name_hint="loss")
            elif loss == "mse":
                d = bb.emit(relax.op.subtract(logits, label))
                lv = bb.emit(relax.op.divide(relax.op.sum(relax.op.multiply(d, d)),
                                             relax.const(np.float32(int(np.prod(out_t.shape))))), name_hint="loss")
            else:
                raise McuforgeError(f"loss must be 'xent' or 'mse', not {loss!r}")
            gv = bb.emit_output(lv)
        bb.emit_func_output(gv)
    mod = bb.get()
    main = mod["main"]
    by_name = {p.name: p for p in main.params}
    br.trained_vars = [by_name[_nm(t)] for t in trained]
    mod = relax.transform.Gradient("main", require_grads=br.trained_vars)(mod)
    br.mod = mod
    br.adjoint = mod["main_adjoint"]
    return br


def relax_reference(br: RelaxBridge, g: Graph, x_nhwc: np.ndarray, label_or_target) -> tuple[float, list]:
    """Run the Relax adjoint on TVM's host VM: (loss, gradients of the trained vars in Relax
    layout). An outside cross-check of our lowering (tests)."""
    import tvm
    from tvm import relax
    mod = relax.transform.LegalizeOps()(tvm.IRModule({"main_adjoint": br.adjoint}))
    ex = tvm.compile(mod, target="llvm")
    vm = relax.VirtualMachine(ex, tvm.cpu())
    args = []
    for i, p in enumerate(br.adjoint.params):
        if p.name == "label_onehot":
            k = g.tensors[g.outputs[0]].shape[1]
            args.append(np.eye(k, dtype=np.float32)[[int(np.asarray(label_or_target).reshape(-1)[0])]])
        elif p.name == "target":
            t = np.asarray(label_or_target, np.float32)
            args.append(t.transpose(0, 3, 1, 2) if t.ndim == 4 else t)
        elif i == 0:
            x = np.asarray(x_nhwc, np.float32)
            args.append(x.transpose(0, 3, 1, 2) if x.ndim == 4 else x)
        else:
            name = next(t for t, v in br.params.items() if v.name == p.name)
            data = g.tensors[name].data.astype(np.float32)
            args.append(data.transpose(0, 3, 1, 2) if data.ndim == 4 else data)
    out = vm["main_adjoint"](*[tvm.runtime.tensor(a) for a in args])
    loss = float(out[0].numpy())
    grads = [o.numpy() for o in out[1]]
    return loss, grads
