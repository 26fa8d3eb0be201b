"""Golden vectors: raw fixed-point inputs and the golden model's raw outputs, one frame a line."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...errors import McuforgeError
from ...ir.graph import Graph
from ...quant.fixed import input_to_raw
from ...reference.executor import Executor
from .graph_io import save_graph
from .prepare import calibration_samples, prepare_fixed

IO_MAX_BITS = 53  # testbenches move values through doubles


def fixed_graph(model, calib, act_bits, weight_bits, rounding, overflow, overrides=None,
                ternary_method: str = "absmean", per_channel: bool = True, bias_correction: bool = True) -> Graph:
    """A graph already in the fixed scheme is taken as it is (tests build such graphs directly)."""
    if isinstance(model, Graph) and model.meta.get("quant") == "fixed":
        return model
    return prepare_fixed(model, calib, act_bits, weight_bits, rounding, overflow, overrides, ternary_method,
                         per_channel, bias_correction)


def test_inputs(g: Graph, calib, count: int) -> np.ndarray:
    """Float inputs [N, *graph shape without batch] from the calibration data (or noise)."""
    name = g.inputs[0]
    if calib is None:
        rng = np.random.default_rng(1)
        t = g.tensors[name].meta["fixed"]
        lim = float(np.ldexp(1.0, t.int_bits - 1))
        return rng.uniform(-lim, lim, (count,) + g.tensors[name].shape[1:])
    return np.concatenate([s[name] for s in calibration_samples(g, calib)[:count]])


def golden_raw(g: Graph, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float inputs in graph layout -> (raw inputs, raw golden outputs), both [N, size]."""
    name, out = g.inputs[0], g.outputs[0]
    ex = Executor(g)
    shape = g.tensors[name].shape
    xr = input_to_raw(g, name, x.reshape((-1,) + shape[1:]))
    ys = [ex.run({name: xr[i:i + 1]})[out].reshape(-1) for i in range(len(xr))]
    return xr.reshape(len(xr), -1), np.stack(ys)


def write_raw(path: Path, frames: np.ndarray):
    path.write_text("".join(" ".join(str(int(v)) for v in row) + "\n" for row in frames))


def read_raw(path: Path, width: int) -> np.ndarray:
    rows = [line.split() for line in Path(path).read_text().splitlines() if line.strip()]
    return np.array(rows, dtype=np.int64).reshape(len(rows), width)


def check_io_widths(g: Graph):
    for name in (g.inputs[0], g.outputs[0]):
        t = g.tensors[name].meta["fixed"]
        if t.width > IO_MAX_BITS:
            raise McuforgeError(f"tensor {name}: the FPGA testbenches take inputs and outputs of at most "
                                f"{IO_MAX_BITS} bits, not {t.width}")


def write_model_files(folder: Path, g: Graph, backend: str, extra: dict):
    """graph.json/npz (the exact model for --board reference) and model.json (what it is)."""
    save_graph(g, folder)
    io = {}
    for role, name in (("input", g.inputs[0]), ("output", g.outputs[0])):
        t = g.tensors[name]
        io[role] = {"name": name, "shape": list(t.shape), "fixed": t.meta["fixed"].to_dict()}
    sub = {n.name: int(n.attrs["weight_bits"]) for n in g.topo_order() if "weight_bits" in n.attrs}
    doc = {"backend": backend, "name": g.name, **io, "fixed_config": g.meta.get("fixed_config"),
           "weight_bits": sub, **extra}
    (folder / "model.json").write_text(json.dumps(doc, indent=1))
