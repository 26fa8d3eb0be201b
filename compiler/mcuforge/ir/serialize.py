"""Save and load a Graph as JSON (structure, attributes, quantization) plus one .npz (constants),
so that an output folder carries the exact model its code was generated from."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .graph import Graph, Node
from .tensor import QuantParams, Tensor


def _enc(v):
    if isinstance(v, np.ndarray):
        return {"__nd__": v.tolist(), "dtype": str(v.dtype)}
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, tuple):
        return {"__tuple__": [_enc(x) for x in v]}
    if isinstance(v, list):
        return [_enc(x) for x in v]
    if isinstance(v, dict):
        return {k: _enc(x) for k, x in v.items()}
    if isinstance(v, float) and not np.isfinite(v):
        return {"__float__": repr(v)}
    return v


def _dec(v):
    if isinstance(v, dict):
        if "__nd__" in v:
            return np.array(v["__nd__"], dtype=v["dtype"])
        if "__tuple__" in v:
            return tuple(_dec(x) for x in v["__tuple__"])
        if "__float__" in v:
            return float(v["__float__"])
        return {k: _dec(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_dec(x) for x in v]
    return v


def _quant(q: QuantParams | None):
    if q is None:
        return None
    return {"scale": q.scale.tolist(), "zero_point": q.zero_point.tolist(), "axis": q.axis}


def save_graph(g: Graph, json_path: Path, npz_path: Path):
    consts = {}
    tensors = []
    for i, (name, t) in enumerate(sorted(g.tensors.items())):
        entry = {"name": name, "shape": list(t.shape), "dtype": t.dtype, "quant": _quant(t.quant)}
        if "fixed" in t.meta:  # the fixed-point scheme's per-tensor <W, F, rounding, overflow>
            entry["fixed"] = t.meta["fixed"].to_dict()
        if t.data is not None:
            key = f"c{i}"
            consts[key] = t.data
            entry["data"] = key
        tensors.append(entry)
    nodes = [{"name": n.name, "op": n.op, "inputs": n.inputs, "outputs": n.outputs, "attrs": _enc(n.attrs)}
             for n in g.topo_order()]
    meta = {k: v for k, v in g.meta.items() if k in ("io_perm", "quant", "onnx_names", "source", "fixed_config", "requant")}
    doc = {"name": g.name, "inputs": g.inputs, "outputs": g.outputs, "tensors": tensors, "nodes": nodes,
           "meta": _enc(meta)}
    Path(json_path).write_text(json.dumps(doc, indent=1, sort_keys=True, allow_nan=True))
    with open(npz_path, "wb") as f:
        np.savez_compressed(f, **consts)


def load_graph(json_path: Path, npz_path: Path) -> Graph:
    doc = json.loads(Path(json_path).read_text())
    consts = np.load(npz_path)
    g = Graph(doc["name"])
    for e in doc["tensors"]:
        q = e["quant"]
        quant = QuantParams(np.array(q["scale"]), np.array(q["zero_point"]), q["axis"]) if q else None
        data = consts[e["data"]] if "data" in e else None
        t = g.add_tensor(Tensor(e["name"], tuple(e["shape"]), e["dtype"], data, quant))
        if "fixed" in e:
            from ..reference.fixed_arith import FixedType
            t.meta["fixed"] = FixedType.from_dict(e["fixed"])
    for n in doc["nodes"]:
        g.add_node(Node(n["name"], n["op"], n["inputs"], n["outputs"], _dec(n["attrs"])))
    g.inputs, g.outputs = doc["inputs"], doc["outputs"]
    g.meta = _dec(doc["meta"])
    return g
