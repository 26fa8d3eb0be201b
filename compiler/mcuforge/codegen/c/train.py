"""The C backend of a training graph (mcuforge.train.build_training_graph, docs/training.md):
one `<prefix>_train_step` call runs the forward, the loss, the pruned backward and the in-place
SGD updates of one sample.

Where tensors live:
  - frozen parameters: const arrays in flash, as in inference;
  - trained parameters, their float32 masters and momenta (the graph's state tensors): static
    RAM arrays, filled from flash (or zeroed) by `<prefix>_train_init`; an `sgd_update` node
    writes its outputs straight into the state it updates (attrs["inplace_of"]);
  - activations, saved activations, gradients and the loss: the arena, planned by the same
    planner as inference (schedule/) from their lifetimes over the training step's order.

    emit_training_library(g, out_dir, target="cortex-m4", full_graph=None) -> model.json dict
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import McuforgeError
from ...ir.graph import Graph
from ...schedule.arena import ArenaPlan, _align
from ...schedule.arena_search import check_plan, plan_with_overlaps
from ...schedule.inplace import Overlap, overlaps, window_gap
from ...schedule.lifetimes import Lifetime, lifetimes
from .emit import RUNTIME_HEADERS, build_layers, c_ident, finish_layers, write_sources
from .fuse_train import fuse_gradient_updates, fuse_pointwise_depthwise
from .kernel_plan import kernel_overlaps, scratch_name
from .kernel_select import KernelSelector
from .layers import Layer, LayerContext, TensorRef
from .layers.base import CArray
from .layers.train import TRAIN_HEADERS, split_tail_ref
from ...train.memory import param_ram_bytes, ram_rows

# build flags every training build needs: the float32 order of operations is part of the contract
TRAIN_CFLAGS = ("-ffp-contract=off",)
PARAM_OWNERS = {"conv2d": {1: "weights", 2: "bias"}, "dense": {1: "weights", 2: "bias"}}
# forward kernels that read a weight's rows from two places (weights_head / head_rows)
SPLIT_KERNELS = ("mcf_conv2d_s8", "mcf_depthwise_conv2d_s8", "mcf_fully_connected_s8")


@dataclass
class StateArray:
    name: str          # graph tensor
    sym: str           # C identifier of the RAM array
    ctype: str
    size: int
    nbytes: int
    role: str          # param | master | momentum
    init: str | None   # flash array copied in at init (None: zeroed)


@dataclass
class TrainCModel:
    prefix: str
    layers: list[Layer]
    plan: ArenaPlan
    arrays: list[CArray]
    state: list[StateArray]
    x: dict
    quant: str
    loss_kind: str
    logits: dict | None
    pred_after: int            # index of the layer after which the logits are complete
    forward_layers: list[int]  # layers `<prefix>_predict` runs
    runtime_sources: list[str] = field(default_factory=list)
    split: dict = field(default_factory=dict)


def _train_meta(g: Graph) -> dict:
    meta = g.meta.get("train")
    if not meta:
        raise McuforgeError(f"graph {g.name} is not a training graph (no meta['train']); "
                            "build it with mcuforge.train.build_training_graph")
    return meta


def state_tensors(g: Graph) -> dict[str, str]:
    """{tensor: role} of every tensor living in RAM for the program's life."""
    meta = _train_meta(g)
    roles = {}
    for t in meta.get("trained", []):
        roles[t["param"]] = "param"
        if t.get("master"):
            roles[t["master"]] = "master"
        if t.get("momentum"):
            roles[t["momentum"]] = "momentum"
    for name in meta.get("state", []):
        roles.setdefault(name, g.tensors[name].meta.get("state", "param"))
    for name, t in g.tensors.items():
        if t.meta.get("trainable"):
            roles.setdefault(name, "param")
        elif t.meta.get("state") in ("master", "momentum"):
            roles.setdefault(name, t.meta["state"])
    return roles


def aliased_outputs(g: Graph) -> dict[str, str]:
    """{update output: state tensor it overwrites} of every sgd_update node."""
    out = {}
    for n in g.nodes.values():
        if n.op in ("sgd_update", "wgrad_update"):
            for o, s in zip(n.outputs, n.attrs["inplace_of"]):
                out[o] = s
    return out


def arena_lifetimes(g: Graph, order) -> list[Lifetime]:
    """Lifetimes of the arena's tensors: every node output and the sample x (its bytes are
    reused once the forward has read it, as TFLite Micro does with an input); the label and the
    loss are the step's own locals."""
    lts = lifetimes(g, order, io_in_arena=True)
    return [lt for lt in lts if lt.tensor not in g.inputs[1:] and lt.tensor not in g.outputs]


def plan_training_arena(g: Graph, order, layers: list[Layer] | None = None, tries: int = 300) -> ArenaPlan:
    """The arena of a training step: every node output except the updates' (they alias state)
    and the step's inputs, with the kernels' scratch and in-place rules when layers are given."""
    alias = aliased_outputs(g)
    lts = [lt for lt in arena_lifetimes(g, order) if lt.tensor not in alias]
    arena = {lt.tensor for lt in lts}
    ovs = overlaps(g, order, arena) + gradient_overlaps(g, order, arena) + fused_overlaps(g, order, arena)
    if layers is not None:
        lts += [Lifetime(scratch_name(l, i), int(l.params["scratch_bytes"]), i, i)
                for i, l in enumerate(layers) if l.params.get("scratch_bytes", 0) > 0]
        ovs = kernel_overlaps(ovs, layers)
    plan = plan_with_overlaps(lts, ovs, tries=tries)
    check_plan(plan, ovs)
    return plan


# elementwise backward kernels that read element i of these inputs before writing element i
INPLACE_GRAD_INPUTS = {"act_grad": (1,), "grad_add": (0, 1)}


def gradient_overlaps(g: Graph, order, arena: set[str]) -> list[Overlap]:
    """The in-place pairs of the elementwise backward ops: the output may take the bytes of an
    input gradient that dies there (same size, same offset)."""
    last_use = {lt.tensor: lt.last for lt in arena_lifetimes(g, order)}
    out = []
    for i, n in enumerate(order):
        for k in INPLACE_GRAD_INPUTS.get(n.op, ()):
            t, y = n.inputs[k], n.outputs[0]
            if t in arena and y in arena and last_use.get(t) == i and g.tensors[t].nbytes == g.tensors[y].nbytes \
                    and t not in g.outputs:
                out.append(Overlap(y, t, 0, exact=True))
    return out


def fused_overlaps(g: Graph, order, arena: set[str]) -> list[Overlap]:
    """A fused pointwise -> depthwise layer (fuse_train.py) may write its output over its dying
    input as the depthwise alone could (schedule/inplace.py's window gap on the input's pixels):
    for each output row it reads the input rows of that row's window before writing the row,
    and never reads an earlier row again."""
    last_use = {lt.tensor: lt.last for lt in arena_lifetimes(g, order)}
    out = []
    for i, n in enumerate(order):
        if n.op != "fused_pw_dw":
            continue
        x, y = n.inputs[0], n.outputs[0]
        if x not in arena or y not in arena or last_use.get(x) != i or x in g.outputs:
            continue
        xt, yt = g.tensors[x], g.tensors[y]
        gap = window_gap(n.attrs["dw"], xt.shape, yt.shape, xt.nbytes // max(1, xt.size))
        if gap is not None:
            out.append(Overlap(y, x, gap))
    return out


def sram_split(g: Graph, plan: ArenaPlan) -> dict:
    """Training SRAM by part: the arena at its peak step split into saved activations, gradients
    and other activations (plus what fragmentation adds), and the static state."""
    meta = _train_meta(g)
    saved = set(meta.get("saved", []))
    bwd_nodes = set(meta.get("backward_nodes", [])) | {n.name for n in g.nodes.values()
                                                       if getattr(_op(n.op), "train", False)}
    grads = {t for n in g.nodes.values() if n.name in bwd_nodes for t in n.outputs}
    def covered(step):
        """{category: bytes} of the arena in use at `step`; bytes an in-place output shares with
        its dying input count once, for the newer tensor."""
        alive = sorted((lt for lt in plan.lifetimes if lt.first <= step <= lt.last and lt.tensor in plan.offsets),
                       key=lambda lt: -lt.first)
        taken: list[tuple[int, int]] = []
        parts = {"saved_activations": 0, "gradients": 0, "activations_other": 0}
        for lt in alive:
            lo, hi = plan.offsets[lt.tensor], plan.offsets[lt.tensor] + _align(lt.size)
            free = hi - lo - sum(max(0, min(hi, e) - max(lo, o)) for o, e in taken)
            taken.append((lo, hi))
            key = ("saved_activations" if lt.tensor in saved else
                   "gradients" if lt.tensor in grads else "activations_other")
            parts[key] += free
        return parts
    steps = sorted({lt.first for lt in plan.lifetimes} | {lt.last for lt in plan.lifetimes})
    peak_step = max(steps, key=lambda s: sum(covered(s).values())) if steps else 0
    parts = covered(peak_step)
    parts["arena_fragmentation"] = plan.size - sum(parts.values())
    roles = state_tensors(g)
    rows = ram_rows(g)
    parts["trained_params_ram"] = sum(param_ram_bytes(g, t, rows) for t, r in roles.items() if r == "param")
    parts["optimizer_state"] = sum(g.tensors[t].nbytes for t, r in roles.items() if r != "param")
    parts["arena_bytes"] = plan.size
    parts["total_bytes"] = plan.size + parts["trained_params_ram"] + parts["optimizer_state"]
    parts["peak_step"] = int(peak_step)
    return parts


def _op(name):
    from ...ir.ops import get_op
    try:
        return get_op(name)
    except KeyError:
        return None


def plan_training_memory(g: Graph) -> dict:
    """The SRAM split of a training graph without emitting code (tensor lifetimes only, the
    planner inference uses): how full backpropagation's graph is measured next to the sparse one."""
    keep = set(state_tensors(g)) | set(_train_meta(g).get("saved", [])) | set(g.inputs) | set(g.outputs)
    g = fuse_gradient_updates(fuse_pointwise_depthwise(g, keep))
    return sram_split(g, plan_training_arena(g, g.topo_order(), tries=50))


def lower_training_to_c(g: Graph, features=frozenset(), portable_only: bool = True,
                        fuse: bool = True) -> TrainCModel:
    """With fuse, frozen pointwise -> depthwise pairs whose intermediate nothing else reads run
    fused (codegen/c/fuse_train.py): the same bytes, without the expanded tensor in the arena;
    and a weight gradient read only by its update runs inside it, row by row."""
    meta = _train_meta(g)
    roles = state_tensors(g)
    if fuse:
        keep = set(roles) | set(meta.get("saved", [])) | set(g.inputs) | set(g.outputs)
        g = fuse_gradient_updates(fuse_pointwise_depthwise(g, keep))
    order = g.topo_order()
    prefix = f"mcf_{c_ident(g.name).lower()}"
    alias = aliased_outputs(g)
    x_name, label_name = g.inputs[0], g.inputs[1]
    loss_name = g.outputs[0]

    refs: dict[str, TensorRef] = {}
    for name, t in g.tensors.items():
        if name in roles:
            refs[name] = TensorRef("state", t.c_type, f"{prefix}_ram_{c_ident(name)}")
        elif t.is_const:
            refs[name] = TensorRef("const", t.c_type, f"c_{c_ident(name)}")
    for out, st in alias.items():
        refs[out] = refs[st]
    refs[label_name] = TensorRef("input", g.tensors[label_name].c_type, "label_buf")
    refs[loss_name] = TensorRef("input", "float", "loss_buf")
    arena_names = {lt.tensor for lt in arena_lifetimes(g, order)} - set(alias)
    for name in arena_names:
        refs[name] = TensorRef("arena", g.tensors[name].c_type, name, 0)

    ctx = LayerContext(g, refs, KernelSelector(frozenset(features), portable_only))

    plan = plan_training_arena(g, order, build_layers(ctx, order))
    layers = finish_layers(ctx, order, refs, plan)
    split = sram_split(g, plan)

    # A parameter a forward layer owns as a flash array: trained ones move to RAM under the
    # layer's array name (its argument struct points there); frozen ones are shared with the
    # backward ops that read them instead of being stored twice.
    state_sym: dict[str, str] = {}
    head_rows = ram_rows(g) if meta.get("quant") == "int8" else {}
    for l in layers:
        for idx, what in PARAM_OWNERS.get(l.node.op, {}).items():
            if idx >= len(l.node.inputs):
                continue
            tname = l.node.inputs[idx]
            sym = f"{prefix}_{l.cid}_{what}"
            if tname in roles:
                l.arrays = [a for a in l.arrays if a.name != f"{l.cid}_{what}"]
                state_sym[tname] = sym
                if tname in head_rows:      # trained rows in RAM, the frozen rest in flash
                    if l.kernel not in SPLIT_KERNELS:
                        raise McuforgeError(f"{l.node.name}: kernel {l.kernel} cannot read a weight split into "
                                            "trained rows (RAM) and frozen rows (flash)")
                    l.params["head_rows"] = head_rows[tname]
                    l.params["tail"] = split_tail_ref(tname)
            elif refs[tname].kind == "const":
                refs[tname].kind, refs[tname].name = "sym", sym
    for tname, sym in state_sym.items():
        refs[tname].name = sym

    state, arrays = [], []
    for name, role in sorted(roles.items(), key=lambda kv: (["param", "master", "momentum"].index(kv[1])
                                                              if kv[1] in ("param", "master", "momentum") else 3,
                                                              kv[0])):
        t = g.tensors[name]
        data = t.data
        if name in head_rows:
            data = t.data[:head_rows[name]]
            arrays.append(CArray(split_tail_ref(name).name, t.c_type, np.ascontiguousarray(t.data[head_rows[name]:])
                                 .reshape(-1)))
        init = None
        if data is not None and np.any(data):
            init = f"init_{c_ident(name)}"
            arrays.append(CArray(init, t.c_type, np.ascontiguousarray(data).reshape(-1)))
        size = t.size if data is None else int(data.size)
        state.append(StateArray(name, refs[name].name, t.c_type, size, size * t.nbytes // max(1, t.size), role, init))
    used_consts = {r.name for l in layers for r in l.inputs if r.kind == "const"}
    used_consts |= {p["refs"]["scale"].name for l in layers if l.params.get("kind") in ("sgd", "wgsgd")
                    for p in [l.params] if p["refs"]["scale"].kind == "const"}
    for name, t in g.tensors.items():
        ref = refs.get(name)
        if ref is not None and ref.kind == "const" and ref.name in used_consts:
            arrays.append(CArray(ref.name, t.c_type, np.ascontiguousarray(t.data).reshape(-1)))
    arrays += [a for l in layers for a in l.arrays]

    loss_node = next(n for n in order if loss_name in n.outputs)
    logits = None
    pred_after = -1
    forward = []
    if loss_node.op == "softmax_xent":
        lt = g.tensors[loss_node.inputs[0]]
        logits = {"name": loss_node.inputs[0], "ref": refs[loss_node.inputs[0]], "ctype": lt.c_type,
                  "size": lt.size, "dtype": lt.dtype}
        need = _ancestors(g, loss_node.inputs[0])
        forward = [i for i, n in enumerate(order) if n.name in need]
        pred_after = max(forward) if forward else -1
    xt = g.tensors[x_name]
    xq = {"scale": float(xt.quant.s), "zero_point": xt.quant.zp} if xt.quant is not None and xt.dtype == "int8" \
        else None
    x = {"name": x_name, "ctype": xt.c_type, "offset": refs[x_name].offset, "dtype": xt.dtype, "shape": list(xt.shape), "size": xt.size,
         "nbytes": xt.nbytes, "quant": xq, "perm": list(g.meta.get("io_perm", {}).get(x_name, [])),
         "label_ctype": g.tensors[label_name].c_type, "label_size": g.tensors[label_name].size,
         "label_dtype": g.tensors[label_name].dtype}
    sources = sorted({s for l in layers for s in l.sources})
    return TrainCModel(prefix, layers, plan, arrays, state, x, meta.get("quant", g.meta.get("quant", "float32")),
                       meta.get("loss", "xent"), logits, pred_after, forward, sources, split)


def _ancestors(g: Graph, tensor: str) -> set[str]:
    """Names of the nodes `tensor` depends on (its producer included)."""
    need, todo = set(), [tensor]
    while todo:
        t = todo.pop()
        n = g.producer(t)
        if n is None or n.name in need:
            continue
        need.add(n.name)
        todo += [i for i in n.inputs if i]
    return need


def write_training_library(cm: TrainCModel, out: Path, source: str, target: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    ctx = dict(prefix=cm.prefix, PREFIX=cm.prefix.upper(), layers=cm.layers, arrays=cm.arrays, state=cm.state,
               arena_size=cm.plan.size, source=Path(source).name if source else cm.prefix, target=target,
               quant=cm.quant, header=f"{cm.prefix}.h", guard=f"{cm.prefix.upper()}_H", x=cm.x,
               loss_kind=cm.loss_kind, logits=cm.logits, pred_after=cm.pred_after,
               forward_layers=cm.forward_layers, runtime_sources=cm.runtime_sources,
               cflags="-std=c99 " + " ".join(TRAIN_CFLAGS), io_in_arena=False, inputs=[], outputs=[],
               needs_libm=False, split=cm.split)
    files = {f"{cm.prefix}.h": "c/train_model.h.j2", f"{cm.prefix}.c": "c/train_model.c.j2",
             f"{cm.prefix}_weights.h": "c/weights.h.j2", f"{cm.prefix}_weights.c": "c/weights.c.j2"}
    return write_sources(out, files, ctx, cm.runtime_sources, RUNTIME_HEADERS + TRAIN_HEADERS)


def emit_training_library(g: Graph, out_dir, target: str = "cortex-m4", full_graph: Graph | None = None,
                          source: str = "", features=frozenset(), name: str | None = None,
                          quiet: bool = True) -> dict:
    """Write the training library of `g` into out_dir (sources, runtime kernels, model.json) and
    return model.json's content. With full_graph (the same model with every tensor trained) its
    SRAM from the same planner is recorded beside the sparse scheme's."""
    out = Path(out_dir)
    if name:
        g.name = name
    cm = lower_training_to_c(g, features)
    write_training_library(cm, out, source, target)
    weights = sum(a.values.nbytes for a in cm.arrays)
    info = {
        "backend": "c", "train": True, "name": g.name, "prefix": cm.prefix, "target": target, "quant": cm.quant,
        "loss": cm.loss_kind, "arena_bytes": cm.plan.size, "weights_bytes": weights,
        "state_bytes": sum(s.nbytes for s in cm.state), "io_bytes": cm.x["nbytes"],
        "runtime_sources": cm.runtime_sources, "cflags": list(TRAIN_CFLAGS),
        "x": cm.x, "classes": cm.logits["size"] if cm.logits else None,
        "logits_dtype": cm.logits["dtype"] if cm.logits else None,
        "macs": int(sum(l.macs for l in cm.layers)),
        "training_sram": cm.split,
        "train_meta": _jsonable(g.meta.get("train", {})),
        "layers": [{"name": l.node.name, "op": l.node.op, "kernel": l.kernel, "macs": l.macs} for l in cm.layers],
    }
    if full_graph is not None:
        info["full_backprop_sram"] = plan_training_memory(full_graph)
    (out / "model.json").write_text(json.dumps(info, indent=1, sort_keys=True, default=_jsonable))
    return info


def _jsonable(o):
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    return o
