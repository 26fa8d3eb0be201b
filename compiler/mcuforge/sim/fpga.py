"""`simulate` for FPGA output folders: the golden model (reference), the HLS project under g++
C-simulation (csim), or the Verilog under Verilator (verilator). Inputs are real values in the
model's own layout; they are quantized to the input's fixed-point type exactly as the golden
vectors were, and outputs come back as real values (raw integers in info["raw_output"])."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..codegen.fpga.golden import read_raw
from ..codegen.fpga.graph_io import load_graph
from ..codegen.fpga.layout import to_graph_layout, to_user_layout
from ..errors import McuforgeError
from ..quant.fixed import input_to_raw, raw_to_real
from ..reference.executor import Executor

BOARDS = {"hls": ("csim", "reference"), "rtl": ("verilator", "reference")}


def _raw_inputs(out_dir: Path, g, x) -> np.ndarray:
    name = g.inputs[0]
    n_in = g.tensors[name].size
    if x is None:  # the folder's own golden vectors
        return read_raw(out_dir / "tb_data" / "tb_input_raw.dat", n_in)
    if isinstance(x, (list, tuple)):
        if len(x) != 1:
            raise McuforgeError(f"the FPGA model has one input, {len(x)} arrays given")
        x = x[0]
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise McuforgeError(f"input array of type {x.dtype} is not numeric")
    xs = to_graph_layout(g, name, x.astype(np.float64))
    return input_to_raw(g, name, xs).reshape(len(xs), n_in)


def run_reference(g, x_raw: np.ndarray) -> np.ndarray:
    name, out = g.inputs[0], g.outputs[0]
    ex = Executor(g)
    shape = g.tensors[name].shape
    return np.stack([ex.run({name: row.reshape(shape)})[out].reshape(-1) for row in x_raw])


def simulate_fpga(out_dir, board: str, x=None) -> tuple[np.ndarray, dict]:
    out_dir = Path(out_dir).resolve()
    doc_path = out_dir / "model.json"
    if not doc_path.is_file():
        raise McuforgeError(f"{out_dir} is not an mcuforge output folder (no model.json)")
    doc = json.loads(doc_path.read_text())
    backend = doc.get("backend")
    if backend not in BOARDS:
        raise McuforgeError(f"{out_dir} holds a {backend!r} model, not an hls or rtl one")
    if board not in BOARDS[backend]:
        raise McuforgeError(f"board {board!r} cannot run an `mcuforge {backend}` folder; use one of "
                            f"{', '.join(BOARDS[backend])}")
    g = load_graph(out_dir)
    x_raw = _raw_inputs(out_dir, g, x)
    info = {"board": board, "backend": backend, "frames": int(len(x_raw))}
    if board == "reference":
        y_raw = run_reference(g, x_raw)
    elif board == "csim":
        from .hls_csim import run_csim
        y_raw = run_csim(out_dir, x_raw)
    else:
        from . import verilator_rtl
        y_raw, run = verilator_rtl.run(out_dir, x_raw, isolated=True)
        _, stream = verilator_rtl.run(out_dir, x_raw, isolated=False)
        info.update(cycles=run["cycles"] / max(1, run["frames"]),
                    interval_cycles=stream["interval"],
                    macs=doc.get("macs"), mac_units=doc.get("mac_units"))
    out = g.outputs[0]
    y = raw_to_real(g, out, y_raw).reshape((len(y_raw),) + g.tensors[out].shape[1:])
    info["raw_output"] = y_raw
    return to_user_layout(g, out, y), info
