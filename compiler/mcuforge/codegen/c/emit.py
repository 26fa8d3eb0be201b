"""The C backend: plan the arena, build one Layer per node, render the library from templates,
and copy the runtime kernels it uses, so the output folder is self-contained."""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ... import resources
from ...ir.graph import Graph
from ...schedule.arena import ArenaPlan
from ...schedule.lifetimes import arena_tensors
from ..jinja import render
from .kernel_plan import plan_with_kernels, scratch_name
from ...reference.arith import rounding
from .kernel_select import KernelSelector
from .lean import lean_peak, pareto_peak
from .slack import grow_scratch
from .layers import Layer, LayerContext, TensorRef, build_layer
from .layers.base import CArray
from .scratch import place_scratch

RUNTIME_HEADERS = ("mcf_kernels.h", "mcf_arith.h", "mcf_broadcast.h", "mcf_fixedpoint.h", "mcf_odometer.h",
                   "mcf_fc_as_conv.h", "mcf_opt.h", "mcf_variants.h", "mcf_window.h",
                   "mcf_fast_requant.h", "mcf_elementwise.h", "mcf_resize.h", "mcf_kernels_s16.h", "mcf_arith_s16.h",
                   "mcf_dsp_s16.h", "mcf_subbyte.h", "mcf_subbyte_ref.h", "mcf_subbyte_dsp.h", "mcf_subbyte_mve.h",
                   "mcf_fixed.h", "mcf_logdiv.h", "mcf_mve_requant.h", "mcf_affine.h", "mcf_conv_ref.inc",
                   "mcf_pool_ref.inc", "mcf_reduce_ref.inc", "mcf_resize_bilinear_ref.inc", "mcf_ort_float.h",
                   "mcf_subbyte_mve_fc.h", "mcf_subbyte_mve_dw.h", "mcf_subbyte_dsp_fc.h", "mcf_subbyte_dsp_dw.h",
                   "mcf_subbyte_mve_quant.h", "mcf_subbyte_dsp_rdx.h", "mcf_subbyte_pair.h",
                   "mcf_subbyte_fastu_dw.h")


@dataclass
class CModel:
    prefix: str
    layers: list[Layer]
    plan: ArenaPlan
    arrays: list[CArray]
    inputs: list[dict]
    outputs: list[dict]
    runtime_sources: list[str] = field(default_factory=list)
    io_in_arena: bool = False      # inputs and outputs are arena tensors (zero-copy API)
    single_rounding: bool = False  # requant="single": mcf_config.h switches mcf_requantize
    # the default kernel choice's candidates: [{arena_bytes, instructions_model, chosen}] (lean.py)
    pareto: list = field(default_factory=list)


def c_ident(name: str) -> str:
    s = re.sub(r"[^0-9a-zA-Z_]", "_", name).strip("_") or "t"
    return s if not s[0].isdigit() else f"t_{s}"


def _io_desc(g: Graph, names: list[str], role: str) -> list[dict]:
    out = []
    single = len(names) == 1
    perm = g.meta.get("io_perm", {})
    for i, name in enumerate(names):
        t = g.tensors[name]
        param = ("in" if role == "input" else "out") if single else f"{'in' if role == 'input' else 'out'}{i}"
        macro = role.upper() if single else f"{role.upper()}{i}"
        q = None
        if t.quant is not None and t.dtype in ("int8", "int16"):
            q = {"scale": t.quant.s, "zero_point": t.quant.zp}
        fixed = t.meta["fixed"].to_dict() if "fixed" in t.meta else None  # the `fixed` contract
        accessor = role if single else f"{role}{i}"     # <prefix>_input(), <prefix>_output1(), ...
        out.append({"name": name, "role": role, "param": param, "macro": macro, "ctype": t.c_type,
                    "accessor": accessor, "nbytes": t.nbytes,
                    "dtype": t.dtype, "shape": list(t.shape), "size": t.size, "quant": q, "fixed": fixed,
                    "layout": "NHWC" if name in perm else "as the model", "perm": list(perm.get(name, []))})
    return out


def build_layers(ctx: LayerContext, order) -> list[Layer]:
    """One Layer per node of `order`; layer i runs at step i."""
    out = []
    for i, node in enumerate(order):
        ctx.index = i
        ctx.select.node = node.name
        out.append(build_layer(ctx, node))
    return out


def finish_layers(ctx: LayerContext, order, refs: dict[str, TensorRef], plan: ArenaPlan) -> list[Layer]:
    """The layers built again with the plan's final offsets (a reshape planned as an alias
    becomes no code), each kernel's scratch placed where the plan put it. plan.lifetimes keep
    the tensors' only (as with place_scratch); the scratch keeps its offsets."""
    for ref in refs.values():
        if ref.kind == "arena":
            ref.offset = plan.offsets[ref.name]
    layers = build_layers(ctx, order)
    scratch = set()
    for i, l in enumerate(layers):
        if l.params.get("scratch_bytes", 0) > 0:
            name = scratch_name(l, i)
            scratch.add(name)
            l.params["scratch"] = TensorRef("arena", "uint8_t", name, plan.offsets[name])
    plan.lifetimes = [lt for lt in plan.lifetimes if lt.tensor not in scratch]
    return layers


def lower_to_c(g: Graph, features=frozenset(), portable_only: bool = False, plan: ArenaPlan | None = None,
               io_in_arena: bool = False, arena_budget: int | None = None, speed_first: bool = False) -> CModel:
    """With io_in_arena the model's inputs and outputs are arena tensors (TFLite Micro's layout:
    the input's bytes are reused once it is consumed); the generated library then has the
    zero-copy API (<prefix>_input/_output/_invoke) besides <prefix>_run, which copies. A plan
    given by the caller is used as it is (scratch first-fit into it), with the I/O in the arena
    only if the plan has them. arena_budget (bytes; 0 for the smallest) trades speed for SRAM
    while the arena is above it: a layer whose kernel's scratch sets the arena's peak gets a
    leaner kernel variant (codegen/c/lean.py). Without a budget the kernels of the layers at the
    peak are chosen from both costs (lean.pareto_peak: the smallest arena x instructions);
    speed_first keeps the fastest kernel everywhere."""
    single_rounding = g.meta.get("requant") == "single"
    # every kernel variant follows the generated mcf_config.h's rounding (MCF_SINGLE_ROUNDING);
    # compile-time constants (dead channels' outputs, the Helium kernels' shifts) follow the graph's
    with rounding(g.meta.get("requant")):
        return _lower_to_c(g, features, portable_only, plan, io_in_arena, arena_budget, speed_first, single_rounding)


def _lower_to_c(g, features, portable_only, plan, io_in_arena, arena_budget, speed_first, single_rounding) -> CModel:
    kernel_aware = plan is None
    pareto: list = []
    if kernel_aware:
        # execution order (reorders g so topo_order() follows it); the arena is planned again
        # below, once the kernels are chosen and their scratch and in-place rules are known
        from ...schedule.memory import plan_memory
        plan_memory(g, io_in_arena=io_in_arena)
        arena = arena_tensors(g, io_in_arena)
    else:
        arena = set(plan.offsets)
    io_in_arena = all(t in arena for t in g.inputs + g.outputs)
    order = g.topo_order()
    prefix = f"mcf_{c_ident(g.name).lower()}"
    inputs, outputs = _io_desc(g, g.inputs, "input"), _io_desc(g, g.outputs, "output")
    refs: dict[str, TensorRef] = {}
    for name, t in g.tensors.items():
        if name in arena:
            refs[name] = TensorRef("arena", t.c_type, name, plan.offsets[name] if plan else 0)
        elif t.is_const:
            refs[name] = TensorRef("const", t.c_type, f"c_{c_ident(name)}")
    if not io_in_arena:
        for io in inputs:
            refs[io["name"]] = TensorRef("input", io["ctype"], io["param"])
        for io in outputs:
            refs[io["name"]] = TensorRef("output", io["ctype"], io["param"])
    ctx = LayerContext(g, refs, KernelSelector(frozenset(features), portable_only))

    def build_all():
        return build_layers(ctx, order)
    layers = build_all()
    if kernel_aware:
        plan = plan_with_kernels(g, order, layers, io_in_arena)
        if arena_budget is not None:
            if plan.size > arena_budget:
                layers, plan = lean_peak(g, order, layers, plan, ctx.select, build_all, io_in_arena, arena_budget)
        elif not speed_first:
            layers, plan, pareto = pareto_peak(g, order, layers, plan, ctx.select, build_all, io_in_arena)
        layers, plan = grow_scratch(g, order, layers, plan, ctx.select, build_all, io_in_arena)
        layers = finish_layers(ctx, order, refs, plan)
    else:
        plan = place_scratch(plan, layers, refs)
    for io in inputs + outputs:
        io["arena_offset"] = refs[io["name"]].offset if io_in_arena else None
    # constants read directly as op operands (not owned by a layer's weights)
    const_arrays: list[CArray] = []
    used_consts = {r.name: r for l in layers for r in l.inputs if r.kind == "const"}
    for name, t in g.tensors.items():
        ref = refs.get(name)
        if ref is not None and ref.kind == "const" and ref.name in used_consts:
            const_arrays.append(CArray(ref.name, t.c_type, np.ascontiguousarray(t.data).reshape(-1)))
    arrays = dedupe_arrays(const_arrays + [a for l in layers for a in l.arrays])
    sources = sorted({s for l in layers for s in l.sources})
    return CModel(prefix, layers, plan, arrays, inputs, outputs, sources, io_in_arena, single_rounding, pareto)


def dedupe_arrays(arrays: list[CArray]) -> list[CArray]:
    """Identical constant arrays (the copies of one layer in a patch stage, equal tables) are
    stored once: the others become aliases (a #define in the weights header)."""
    seen: dict = {}
    for a in arrays:
        v = np.ascontiguousarray(a.values)
        key = (a.ctype, v.dtype.str, v.shape, v.tobytes())
        canon = seen.setdefault(key, a.name)
        a.alias = canon if canon != a.name else None
    return arrays


def write_c_library(cm: CModel, out: Path, source: str, target: str, quant: str) -> list[Path]:
    """Render header, source, weights, build snippets; copy the runtime kernels it uses."""
    out.mkdir(parents=True, exist_ok=True)
    ctx = dict(prefix=cm.prefix, PREFIX=cm.prefix.upper(), layers=cm.layers, arrays=cm.arrays,
               inputs=cm.inputs, outputs=cm.outputs, arena_size=cm.plan.size, source=Path(source).name,
               target=target, quant=quant, header=f"{cm.prefix}.h", guard=f"{cm.prefix.upper()}_H",
               runtime_sources=cm.runtime_sources, cflags="-std=c99", io_in_arena=cm.io_in_arena,
               needs_libm=any(s.endswith("_f32.c") for s in cm.runtime_sources))
    files = {
        f"{cm.prefix}.h": "c/model.h.j2",
        f"{cm.prefix}.c": "c/model.c.j2",
        f"{cm.prefix}_weights.h": "c/weights.h.j2",
        f"{cm.prefix}_weights.c": "c/weights.c.j2",
        f"{cm.prefix}.mk": "c/model.mk.j2",
        "CMakeLists.txt": "c/CMakeLists.txt.j2",
    }
    written = write_sources(out, files, ctx, cm.runtime_sources)
    if cm.single_rounding:
        (out / "mcuforge_runtime" / "include" / "mcf_config.h").write_text(
            render("c/mcf_config.h.j2", prefix=cm.prefix, single_rounding=True))
    return written


def write_sources(out: Path, files: dict[str, str], ctx: dict, runtime_sources, headers=RUNTIME_HEADERS) -> list[Path]:
    """Render `files` ({file name: template}) into out and copy the runtime headers and the
    kernels the library uses into out/mcuforge_runtime/, so the folder is self-contained."""
    written = []
    for fname, tpl in files.items():
        p = out / fname
        p.write_text(render(tpl, **ctx))
        written.append(p)
    rt = out / "mcuforge_runtime"
    (rt / "include").mkdir(parents=True, exist_ok=True)
    (rt / "kernels").mkdir(parents=True, exist_ok=True)
    for h in headers:
        shutil.copyfile(resources.runtime_c() / "include" / h, rt / "include" / h)
    for s in runtime_sources:
        shutil.copyfile(resources.runtime_c() / "kernels" / s, rt / "kernels" / s)
    return written


def write_test_main(prefix: str, inputs: list[dict], outputs: list[dict], path: Path):
    """The firmware main that feeds samples from files and reports instruction counts."""
    path.write_text(render("c/test_main.c.j2", prefix=prefix, inputs=inputs, outputs=outputs))
