"""Per-kernel instruction models for the bit allocation's instruction budget.

For each C kernel a layer can lower to (the kernel names of the per-layer report, e.g.
mcf_conv2d_s8_w4) a linear model, fitted to QEMU's executed-instruction counts of single-layer
models of a handful of shapes:

    instructions = c0 + c_mac * MACs + c_out * output elements + c_in * input elements
                   + c_patch * MACs / output channels (the window elements gathered)

Coefficients are non-negative least squares (scipy.optimize.nnls). They live as TOML data in
targets/instr_models/<core>.toml and are refitted by

    PYTHONPATH=compiler python -m mcuforge.quant.instr_model --core cortex-m4 --board mps2-an386

The layers without weights are not modelled: an instruction budget is checked against one QEMU
run of the 8-bit model (the part no width changes = measured total - the models' 8-bit layers).
"""
from __future__ import annotations

import argparse
import tempfile
import tomllib
from pathlib import Path

import numpy as np

from ..errors import McuforgeError
from ..ir.graph import Graph, Node
from ..ir.ops import infer_shapes
from ..ir.tensor import Tensor

FEATURES = ("const", "macs", "outputs", "inputs", "patches")

# single-layer probes per kernel kind: (kind, H, W, Cin, Cout, K, stride)
PROBES = [
    ("conv", 8, 8, 4, 8, 3, 1), ("conv", 12, 12, 8, 16, 3, 1), ("conv", 16, 16, 3, 8, 3, 2),
    ("conv", 10, 10, 16, 16, 3, 1), ("conv", 6, 6, 32, 24, 3, 1),
    ("conv", 14, 14, 1, 8, 3, 1), ("conv", 10, 10, 1, 16, 3, 1), ("conv", 8, 8, 1, 4, 3, 1),
    ("conv", 7, 7, 32, 10, 4, 1), ("conv", 4, 4, 48, 10, 4, 1), ("conv", 5, 5, 16, 8, 4, 1),
    ("pointwise", 8, 8, 16, 16, 1, 1), ("pointwise", 12, 12, 8, 32, 1, 1), ("pointwise", 6, 6, 48, 24, 1, 1),
    ("pointwise", 16, 16, 4, 8, 1, 1),
    ("depthwise", 12, 12, 8, 8, 3, 1), ("depthwise", 16, 16, 16, 16, 3, 1), ("depthwise", 8, 8, 32, 32, 3, 2),
    ("depthwise", 10, 10, 24, 24, 3, 1), ("depthwise", 14, 14, 16, 16, 3, 2), ("depthwise", 10, 10, 8, 8, 3, 2),
    ("dense", 1, 1, 64, 10, 1, 1), ("dense", 1, 1, 256, 32, 1, 1), ("dense", 1, 1, 128, 64, 1, 1),
    ("dense", 1, 1, 512, 16, 1, 1),
]


def models_dir() -> Path:
    from ..resources import targets
    return targets() / "instr_models"


def kernel_key(row: dict) -> str:
    """The model's key: the kernel's name, and for convolutions the window (a 1x1 and a 3x3
    convolution take different paths through the same kernel)."""
    return row["kernel"] + (f"/{row['window']}" if row.get("window") else "")


def annotate_rows(g, rows: list[dict]) -> list[dict]:
    """Add the window (KHxKW) of each conv2d to its report row."""
    for r in rows:
        n = g.nodes.get(r["name"]) if hasattr(g, "nodes") else None
        if n is not None and n.op == "conv2d":
            kh, kw = g.tensors[n.inputs[1]].shape[1:3]
            r["window"] = f"{kh}x{kw}"
    return rows


def layer_features(row: dict) -> np.ndarray:
    """The model's features of one row of the per-layer report (report.layers.layer_table)."""
    outputs = float(np.prod(row["out_shape"]))
    # patches: MACs per output channel = the im2col / window elements the kernel gathers
    return np.array([1.0, row["macs"], outputs, float(np.prod(row["in_shape"])), row["macs"] / row["out_shape"][-1]])


class InstrModel:
    def __init__(self, core: str, coefs: dict[str, np.ndarray], meta: dict | None = None):
        self.core, self.coefs, self.meta = core, coefs, meta or {}

    def predict(self, row: dict) -> float:
        k = kernel_key(row)
        if k not in self.coefs:
            raise McuforgeError(f"no instruction model for kernel {k} on {self.core} "
                                f"(targets/instr_models/{self.core}.toml; refit with python -m mcuforge.quant.instr_model)")
        return float(layer_features(row) @ self.coefs[k])


def load_instr_model(core: str) -> InstrModel:
    path = models_dir() / f"{core}.toml"
    if not path.is_file():
        raise McuforgeError(f"no instruction models for {core}: {path} is missing "
                            f"(fit them with python -m mcuforge.quant.instr_model --core {core})")
    data = tomllib.loads(path.read_text())
    coefs = {k: np.array([v[f] for f in FEATURES], np.float64) for k, v in data.get("kernels", {}).items()}
    return InstrModel(core, coefs, data.get("fit", {}))


def probe_graph(kind: str, h: int, w: int, cin: int, cout: int, k: int, stride: int, seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    g = Graph(f"probe_{kind}_{h}x{w}x{cin}_{cout}_k{k}s{stride}")
    if kind == "dense":
        g.add_tensor(Tensor("x", (1, cin), "float32"))
        wt = g.const("w", rng.standard_normal((cout, cin)).astype(np.float32) * 0.1, "float32")
        b = g.const("b", rng.standard_normal(cout).astype(np.float32) * 0.1, "float32")
        node = Node("fc", "dense", ["x", wt.name, b.name], ["y"], {"act_min": None, "act_max": None})
    else:
        groups = cin if kind == "depthwise" else 1
        g.add_tensor(Tensor("x", (1, h, w, cin), "float32"))
        wt = g.const("w", rng.standard_normal((cout, k, k, cin // groups)).astype(np.float32) * 0.2, "float32")
        b = g.const("b", rng.standard_normal(cout).astype(np.float32) * 0.1, "float32")
        p = k // 2
        node = Node("conv", "conv2d", ["x", wt.name, b.name], ["y"],
                    {"strides": (stride, stride), "dilations": (1, 1), "pads": (p, p, p, p), "groups": groups,
                     "act_min": 0.0, "act_max": None})
    g.add_node(node)
    g.inputs, g.outputs = ["x"], ["y"]
    infer_shapes(g)
    return g


def fit(core: str, board: str, widths=(8, 4, 2), portable_kernels: bool = False, quiet: bool = False) -> dict:
    """Compile every probe at every width for `core`, count instructions on `board`, fit per kernel."""
    from scipy.optimize import nnls

    from ..api import compile_model, simulate
    rows: dict[str, list] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for probe in PROBES:
            g = probe_graph(*probe)
            x = np.random.default_rng(1).standard_normal((8,) + g.tensors["x"].shape[1:]).astype(np.float32)
            for bits in widths:
                out = Path(tmp) / f"{g.name}_w{bits}"
                res = compile_model(g, out, target=core, calib=x, weight_bits=bits, quiet=True,
                                    portable_kernels=portable_kernels)
                row = next(r for r in annotate_rows(res.graph, res.info["layers"]) if r["op"] in ("conv2d", "dense"))
                _, m = simulate(out, board=board, x=x[:1], quiet=True)
                rows.setdefault(kernel_key(row), []).append((layer_features(row), m["instructions"], g.name, bits))
                if not quiet:
                    print(f"{core} {g.name} w{bits}: {row['kernel']} {m['instructions']} instructions", flush=True)
    fitted = {}
    for kernel, pts in rows.items():
        a = np.array([p[0] for p in pts])
        y = np.array([p[1] for p in pts], np.float64)
        # scale the columns so nnls sees comparable magnitudes
        norm = np.maximum(np.abs(a).max(axis=0), 1.0)
        c, _ = nnls(a / norm, y)
        c = c / norm
        pred = a @ c
        fitted[kernel] = {"coefs": c, "n": len(pts), "max_rel_err": float(np.max(np.abs(pred - y) / y))}
    return fitted


def write_toml(core: str, board: str, fitted: dict, path: Path | None = None) -> Path:
    path = path or models_dir() / f"{core}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# Instruction models per kernel for {core}, fitted to QEMU ({board}) executed-instruction",
             "# counts of single-layer models (mcuforge.quant.instr_model.PROBES):",
             "#   instructions = const + macs * MACs + outputs * output elements + inputs * input elements",
             "#                  + patches * MACs / output channels",
             "# Refit: PYTHONPATH=compiler python -m mcuforge.quant.instr_model "
             f"--core {core} --board {board}", "",
             "[fit]", f'core = "{core}"', f'board = "{board}"', ""]
    for kernel in sorted(fitted):
        f = fitted[kernel]
        lines.append(f'[kernels."{kernel}"]')
        lines += [f"{name} = {float(v):.6g}" for name, v in zip(FEATURES, f["coefs"])]
        lines += [f"points = {f['n']}", f"max_rel_err = {f['max_rel_err']:.4f}", ""]
    path.write_text("\n".join(lines))
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description="Fit per-kernel instruction models to QEMU counts.")
    p.add_argument("--core", default="cortex-m4")
    p.add_argument("--board", default="mps2-an386")
    p.add_argument("--out", help="TOML file (default targets/instr_models/<core>.toml)")
    args = p.parse_args(argv)
    fitted = fit(args.core, args.board)
    path = write_toml(args.core, args.board, fitted, Path(args.out) if args.out else None)
    for k, f in sorted(fitted.items()):
        print(f"{k}: max relative error {f['max_rel_err']:.3f} over {f['n']} probes")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
