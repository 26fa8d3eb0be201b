"""A fixed-point graph on disk: graph.json (nodes, tensors, fixed types) + graph.npz (constants).

Every FPGA output directory carries one, so the golden model of exactly the emitted numbers can
run later without the original model or calibration data."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...ir.graph import Graph, Node
from ...ir.tensor import Tensor
from ...reference.fixed_arith import FixedType


def _plain(v):
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def save_graph(g: Graph, folder: Path):
    consts = {}
    tensors = []
    for t in g.tensors.values():
        entry = {"name": t.name, "shape": list(t.shape), "dtype": t.dtype}
        if "fixed" in t.meta:
            entry["fixed"] = t.meta["fixed"].to_dict()
        if t.is_const:
            entry["const"] = f"c{len(consts)}"
            consts[entry["const"]] = t.data
        tensors.append(entry)
    doc = {"name": g.name, "inputs": g.inputs, "outputs": g.outputs, "tensors": tensors,
           "nodes": [{"name": n.name, "op": n.op, "inputs": n.inputs, "outputs": n.outputs,
                      "attrs": _plain(n.attrs)} for n in g.topo_order()],
           "meta": _plain({k: g.meta[k] for k in ("quant", "io_perm", "fixed_config") if k in g.meta})}
    (folder / "graph.json").write_text(json.dumps(doc, indent=1))
    np.savez(folder / "graph.npz", **consts)


def load_graph(folder: Path) -> Graph:
    doc = json.loads((folder / "graph.json").read_text())
    consts = np.load(folder / "graph.npz")
    g = Graph(doc["name"])
    for e in doc["tensors"]:
        t = Tensor(e["name"], e["shape"], e["dtype"], consts[e["const"]] if "const" in e else None)
        if "fixed" in e:
            t.meta["fixed"] = FixedType.from_dict(e["fixed"])
        g.add_tensor(t)
    for e in doc["nodes"]:
        attrs = {k: tuple(v) if isinstance(v, list) else v for k, v in e["attrs"].items()}
        g.add_node(Node(e["name"], e["op"], e["inputs"], e["outputs"], attrs))
    g.inputs, g.outputs = doc["inputs"], doc["outputs"]
    g.meta.update(doc["meta"])
    if "io_perm" in g.meta:
        g.meta["io_perm"] = {k: tuple(v) for k, v in g.meta["io_perm"].items()}
    return g
