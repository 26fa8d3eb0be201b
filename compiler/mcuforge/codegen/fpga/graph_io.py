"""A fixed-point graph on disk: graph.json (nodes, tensors, fixed types) + graph.npz (constants),
in the one graph format every output folder uses (mcuforge.ir.serialize).

Every FPGA output directory carries one, so the golden model of exactly the emitted numbers can
run later without the original model or calibration data."""
from __future__ import annotations

from pathlib import Path

from ...ir import serialize
from ...ir.graph import Graph


def save_graph(g: Graph, folder: Path):
    serialize.save_graph(g, Path(folder) / "graph.json", Path(folder) / "graph.npz")


def load_graph(folder: Path) -> Graph:
    return serialize.load_graph(Path(folder) / "graph.json", Path(folder) / "graph.npz")
