"""Kernel benchmark: executed instructions (QEMU, -icount) of the optimized kernel variants against
the portable reference kernels on the same core, for representative layer shapes and for the
MLPerf Tiny int8 models end to end, on Cortex-M0, M3, M4, M7, M33 and M55. Prints tables; asserts
nothing (tests/kernels/ checks bit-exactness).

    PYTHONPATH=compiler python benchmarks/kernels.py [--layers-only | --models-only] [--cores m4,m55]

MLPerf Tiny models are read from $MCUFORGE_MLPERF_TINY (default ../shared/models/mlperf-tiny
relative to the repository root)."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "compiler"))
sys.path.insert(0, str(ROOT / "tests" / "kernels"))

from layer_models import add_spec, build_model, conv_spec, dw_spec, fc_spec, pool_spec  # noqa: E402
from mcuforge.api import compile_model, simulate  # noqa: E402
from mcuforge.errors import McuforgeError  # noqa: E402

CORES = {"m0": ("cortex-m0", "microbit"), "m3": ("cortex-m3", "mps2-an385"), "m4": ("cortex-m4", "mps2-an386"),
         "m7": ("cortex-m7", "mps2-an500"), "m33": ("cortex-m33", "mps2-an505"), "m55": ("cortex-m55", "mps3-an547")}

LAYERS = {
    "conv 3x3 16->16 @16x16": conv_spec(16, 16, 16),
    "pointwise 32->64 @12x12": conv_spec(32, 64, 12, k=1, pad=0),
    "depthwise 3x3 64 @24x24": dw_spec(64, 24),
    "fully connected 256->64": fc_spec(256, 64),
    "avg pool 2x2 64ch @24x24": pool_spec("avgpool", 64, 24),
    "max pool 2x2 64ch @24x24": pool_spec("maxpool", 64, 24),
    "add 64ch @24x24": add_spec(64, 24),
}
# The shapes above do not fit the micro:bit's 16 KB RAM: Cortex-M0 runs these smaller ones instead
# (printed with "(M0 size)" in the layer name).
M0_LAYERS = {
    "conv 3x3 8->8 @8x8 (M0 size)": conv_spec(8, 8, 8),
    "pointwise 16->16 @8x8 (M0 size)": conv_spec(16, 16, 8, k=1, pad=0),
    "depthwise 3x3 16 @12x12 (M0 size)": dw_spec(16, 12),
    "avg pool 2x2 16ch @12x12 (M0 size)": pool_spec("avgpool", 16, 12),
    "max pool 2x2 16ch @12x12 (M0 size)": pool_spec("maxpool", 16, 12),
    "add 16ch @12x12 (M0 size)": add_spec(16, 12),
}
MODELS = ["ic_resnet8", "vww_mbv1_96", "kws_dscnn", "ad_fcae"]


def mlperf_dir() -> Path:
    return Path(os.environ.get("MCUFORGE_MLPERF_TINY", ROOT.parent / "shared" / "models" / "mlperf-tiny"))


def measure(model, calib, x, target, board, work: Path, portable: bool):
    out = work / f"{target}_{'portable' if portable else 'opt'}"
    res = compile_model(model, out, target=target, calib=calib, quiet=True, portable_kernels=portable)
    y, info = simulate(out, board=board, x=x, quiet=True)
    ref, _ = simulate(out, board="reference", x=x, quiet=True)
    ys, refs = (y, ref) if isinstance(y, list) else ([y], [ref])
    exact = all(np.array_equal(a, b) for a, b in zip(ys, refs))
    kernels = sorted({l["kernel"] for l in res.info["layers"] if l.get("kernel", "").startswith("mcf_")})
    return info["instructions"], info["macs"], exact, kernels, res.info["arena_bytes"]


def row(name, core, opt, port):
    if opt is None:
        return f"| {name} | {core} | does not fit | | | | |"
    (n_opt, macs, ex_opt, kern, _), (n_port, _, ex_port, _, _) = opt, port
    vk = ", ".join(k.replace("mcf_", "") for k in kern if any(t in k for t in ("_dsp", "_mve", "_fast"))) or "portable"
    return (f"| {name} | {core} | {vk} | {n_opt:,} | {macs / n_opt:.2f} | {n_port / n_opt:.1f}x | "
            f"{'yes' if ex_opt and ex_port else 'NO'} |")


HEADER = ("| layer / model | core | variant | instructions | MACs/instr | speedup vs portable | bit-exact |\n"
          "|---|---|---|---|---|---|---|")


def bench_layers(cores, work: Path):
    print(HEADER)
    small = {name: spec for name, spec in M0_LAYERS.items() if "m0" in cores}
    for name, spec in {**LAYERS, **small}.items():
        model, calib, x = build_model([spec], work / name.replace(" ", "_").replace(">", "").replace("(", "")
                                      .replace(")", "") / "model.onnx")
        x = [a[:1] for a in x]
        for c in (["m0"] if name in small else cores):
            target, board = CORES[c]
            d = model.parent
            try:
                opt = measure(model, calib, x, target, board, d, False)
                port = measure(model, calib, x, target, board, d, True)
            except McuforgeError as e:
                if "does not fit" not in str(e):
                    raise
                opt = port = None
            print(row(name, c.upper(), opt, port), flush=True)


def bench_models(cores, work: Path):
    print(HEADER.replace("layer / model", "MLPerf Tiny model"))
    folder = mlperf_dir()
    for m in MODELS:
        path = folder / f"{m}_int8.tflite"
        if not path.is_file():
            print(f"| {m} | - | model not found in {folder} | | | | |")
            continue
        for c in cores:
            target, board = CORES[c]
            d = work / m
            try:
                opt = measure(path, None, None, target, board, d, False)
                port = measure(path, None, None, target, board, d, True)
            except McuforgeError as e:
                msg = str(e)
                if "does not fit" in msg:
                    opt = port = None
                else:
                    print(f"| {m} | {c.upper()} | error: {msg[:80]} | | | | |", flush=True)
                    continue
            print(row(m, c.upper(), opt, port), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", default=",".join(CORES), help="comma-separated subset of " + ",".join(CORES))
    ap.add_argument("--layers-only", action="store_true")
    ap.add_argument("--models-only", action="store_true")
    ap.add_argument("--work", help="keep the build folders here (default: a temporary folder)")
    args = ap.parse_args(argv)
    cores = [c.strip().lower() for c in args.cores.split(",") if c.strip()]
    with tempfile.TemporaryDirectory(prefix="mcf_bench_") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        if not args.models_only:
            bench_layers(cores, work)
            print()
        if not args.layers_only:
            bench_models(cores, work)


if __name__ == "__main__":
    main()
