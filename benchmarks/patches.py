"""Patch-based inference (MCUNetV2) on int8 TFLite models: arena, MACs and instructions with and
without patches, next to TFLite Micro's smallest arena.

    PYTHONPATH=compiler python benchmarks/patches.py [--patch auto|NxM@node] [--boards M4,M55] [models...]

Models: the MLPerf Tiny ones from $MCUFORGE_MLPERF_TINY (default ../shared/models/mlperf-tiny) by
name, or any .tflite path (benchmarks/make_mbv2.py writes the MobileNetV2 w0.35 96x96 one with
TensorFlow's converter, in a side environment). Per model: the layer-wise arena and the patched
arena (both as compile_model plans them with their kernels, input and output inside the arena,
as TFLite Micro's arena holds them), the ratio of each to TFLM's smallest working arena
(bisection, host build), the split and grid, the MAC overhead of the recomputed halos, and
executed instructions per inference on QEMU Cortex-M4 (mps2-an386) and M55 (mps3-an547) with and
without patches. Every run is checked byte for byte against TFLite Micro.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "compiler"))

from mcuforge.api import compile_model, simulate  # noqa: E402
from mcuforge.frontend.tflite import load_tflite  # noqa: E402
from mcuforge.sim.tflm import TflmModel, smallest_arena  # noqa: E402

MODELS = ["vww_mbv1_96_int8", "ic_resnet8_int8", "kws_dscnn_int8", "ad_fcae_int8"]
BOARDS = {"M4": ("mps2-an386", "cortex-m4"), "M55": ("mps3-an547", "cortex-m55")}


def model_file(name: str) -> Path:
    p = Path(name)
    if p.suffix == ".tflite":
        return p
    return Path(os.environ.get("MCUFORGE_MLPERF_TINY", REPO.parent / "shared/models/mlperf-tiny")) / f"{name}.tflite"


def measure(name: str, patch: str, boards: list[str], tmp: str) -> dict:
    path = model_file(name)
    if not path.is_file():
        raise SystemExit(f"{path} not found (MLPerf Tiny: set MCUFORGE_MLPERF_TINY; MobileNetV2: run make_mbv2.py)")
    buf = path.read_bytes()
    ref = TflmModel(buf)
    g = load_tflite(path)
    x = np.random.default_rng(0).integers(-128, 128, g.tensors[g.inputs[0]].shape).astype(np.int8)
    want = ref.run(x)[0].reshape(-1)
    row = {"model": path.stem.replace("_int8", ""), "tflm": smallest_arena(buf, [x])}
    for tag in boards:
        board, core = BOARDS[tag]
        for mode in ("off", patch):
            out = Path(tmp) / f"{row['model']}_{core}_{mode.replace('@', '_')}"
            r = compile_model(path, out, target=core, quiet=True, patch=mode)
            y, info = simulate(out, board, x[None], quiet=True)
            if not np.array_equal(y.reshape(-1), want):
                raise SystemExit(f"{name} on {board} with --patch {mode}: output differs from TFLite Micro")
            key = "lw" if mode == "off" else "p"
            row[f"instr_{tag}_{key}"] = info["instructions"]
            row[f"arena_{key}"] = r.info["arena_bytes"]
            if key == "p":
                row["plan"] = r.info["patches"]
            row["macs_" + key] = r.info["macs"]
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=MODELS)
    ap.add_argument("--patch", default="auto", help="auto (default) or <rows>x<cols>@<node> for every model")
    ap.add_argument("--boards", default="M4,M55", help="comma-separated: M4, M55")
    args = ap.parse_args()
    boards = [b for b in args.boards.split(",") if b]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            print(f"[patches] {name} ...", file=sys.stderr, flush=True)
            rows.append(measure(name, args.patch, boards, tmp))
    hdr = ["model", "TFLM arena B", "layer-wise arena B", "patch arena B", "layer-wise/TFLM", "patch/TFLM",
           "split, grid", "MAC overhead"]
    for b in boards:
        hdr += [f"instr {b} layer-wise", f"instr {b} patches", f"{b} ratio"]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for r in rows:
        p = r.get("plan")
        vals = [r["model"], f"{r['tflm']:,}", f"{r['arena_lw']:,}", f"{r['arena_p']:,}",
                f"{r['arena_lw'] / r['tflm']:.3f}", f"{r['arena_p'] / r['tflm']:.3f}",
                f"{p['grid'][0]}x{p['grid'][1]}@{p['split']}" if p else "none (layer-wise kept)",
                f"+{p['mac_overhead']:.1%}" if p else "-"]
        for b in boards:
            lw, pt = r[f"instr_{b}_lw"], r[f"instr_{b}_p"]
            vals += [f"{lw:,}", f"{pt:,}", f"{pt / lw:.3f}"]
        print("| " + " | ".join(vals) + " |")


if __name__ == "__main__":
    main()
