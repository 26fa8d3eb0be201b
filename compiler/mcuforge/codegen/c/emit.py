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
from ...schedule.arena import ArenaPlan, plan_greedy_by_size
from ...schedule.lifetimes import lifetimes
from ..jinja import render
from .kernel_select import KernelSelector
from .layers import Layer, LayerContext, TensorRef, build_layer
from .layers.base import CArray
from .scratch import place_scratch

RUNTIME_HEADERS = ("mcf_kernels.h", "mcf_arith.h", "mcf_broadcast.h", "mcf_fixedpoint.h", "mcf_odometer.h", "mcf_opt.h", "mcf_variants.h")


@dataclass
class CModel:
    prefix: str
    layers: list[Layer]
    plan: ArenaPlan
    arrays: list[CArray]
    inputs: list[dict]
    outputs: list[dict]
    runtime_sources: list[str] = field(default_factory=list)


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
        if t.quant is not None and t.dtype == "int8":
            q = {"scale": t.quant.s, "zero_point": t.quant.zp}
        out.append({"name": name, "role": role, "param": param, "macro": macro, "ctype": t.c_type,
                    "dtype": t.dtype, "shape": list(t.shape), "size": t.size, "quant": q,
                    "layout": "NHWC" if name in perm else "as the model", "perm": list(perm.get(name, []))})
    return out


def lower_to_c(g: Graph, features=frozenset(), portable_only: bool = False, plan: ArenaPlan | None = None) -> CModel:
    if plan is None:
        # execution order + in-place overlaps + arena search; reorders g so topo_order() follows it
        from ...schedule.memory import plan_memory
        _, plan = plan_memory(g)
    order = g.topo_order()
    prefix = f"mcf_{c_ident(g.name).lower()}"
    inputs, outputs = _io_desc(g, g.inputs, "input"), _io_desc(g, g.outputs, "output")
    refs: dict[str, TensorRef] = {}
    const_arrays: list[CArray] = []
    for name, t in g.tensors.items():
        if name in plan.offsets:
            refs[name] = TensorRef("arena", t.c_type, name, plan.offsets[name])
        elif t.is_const:
            cname = f"c_{c_ident(name)}"
            refs[name] = TensorRef("const", t.c_type, cname)
    for io in inputs:
        refs[io["name"]] = TensorRef("input", io["ctype"], io["param"])
    for io in outputs:
        refs[io["name"]] = TensorRef("output", io["ctype"], io["param"])
    ctx = LayerContext(g, refs, KernelSelector(frozenset(features), portable_only))
    layers = []
    for i, node in enumerate(order):
        ctx.index = i
        layers.append(build_layer(ctx, node))
    plan = place_scratch(plan, layers, refs)
    # constants read directly as op operands (not owned by a layer's weights)
    used_consts = {r.name: r for l in layers for r in l.inputs if r.kind == "const"}
    for name, t in g.tensors.items():
        ref = refs.get(name)
        if ref is not None and ref.kind == "const" and ref.name in used_consts:
            const_arrays.append(CArray(ref.name, t.c_type, np.ascontiguousarray(t.data).reshape(-1)))
    arrays = const_arrays + [a for l in layers for a in l.arrays]
    sources = sorted({s for l in layers for s in l.sources})
    return CModel(prefix, layers, plan, arrays, inputs, outputs, sources)


def write_c_library(cm: CModel, out: Path, source: str, target: str, quant: str) -> list[Path]:
    """Render header, source, weights, build snippets; copy the runtime kernels it uses."""
    out.mkdir(parents=True, exist_ok=True)
    ctx = dict(prefix=cm.prefix, PREFIX=cm.prefix.upper(), layers=cm.layers, arrays=cm.arrays,
               inputs=cm.inputs, outputs=cm.outputs, arena_size=cm.plan.size, source=Path(source).name,
               target=target, quant=quant, header=f"{cm.prefix}.h", guard=f"{cm.prefix.upper()}_H",
               runtime_sources=cm.runtime_sources, cflags="-std=c99",
               needs_libm=any(s.endswith("_f32.c") for s in cm.runtime_sources))
    files = {
        f"{cm.prefix}.h": "c/model.h.j2",
        f"{cm.prefix}.c": "c/model.c.j2",
        f"{cm.prefix}_weights.h": "c/weights.h.j2",
        f"{cm.prefix}_weights.c": "c/weights.c.j2",
        f"{cm.prefix}.mk": "c/model.mk.j2",
        "CMakeLists.txt": "c/CMakeLists.txt.j2",
    }
    written = []
    for fname, tpl in files.items():
        p = out / fname
        p.write_text(render(tpl, **ctx))
        written.append(p)
    rt = out / "mcuforge_runtime"
    (rt / "include").mkdir(parents=True, exist_ok=True)
    (rt / "kernels").mkdir(parents=True, exist_ok=True)
    for h in RUNTIME_HEADERS:
        shutil.copyfile(resources.runtime_c() / "include" / h, rt / "include" / h)
    for s in cm.runtime_sources:
        shutil.copyfile(resources.runtime_c() / "kernels" / s, rt / "kernels" / s)
    return written


def write_test_main(prefix: str, inputs: list[dict], outputs: list[dict], path: Path):
    """The firmware main that feeds samples from files and reports instruction counts."""
    path.write_text(render("c/test_main.c.j2", prefix=prefix, inputs=inputs, outputs=outputs))
