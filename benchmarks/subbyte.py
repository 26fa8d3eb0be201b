"""Sub-byte weights: executed instructions (QEMU -icount) of the int4 / ternary kernels next to the
int8 ones on the same core, and the flash of the weight layers (packed weights + per-channel
constants) of the MLPerf Tiny models at 8 / 4 / 2 bits. Every run is checked bit for bit against
the golden model. Prints Markdown tables (docs/subbyte.md); asserts nothing.

    PYTHONPATH=compiler python benchmarks/subbyte.py [--cores m4,m55] [--layers-only | --flash-only | --models]

--models: the MLPerf Tiny models (int8 .tflite narrowed to int4 / ternary weights), one inference
each on QEMU per core, instructions against the int8 build (default kernel choice).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "compiler"))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests" / "kernels"))

from kernels import CORES, M0_LAYERS, mlperf_dir  # noqa: E402
from layer_models import build_model, conv_spec, dw_spec, fc_spec  # noqa: E402
from mcuforge.api import compile_model, simulate  # noqa: E402
from mcuforge.errors import McuforgeError  # noqa: E402

LAYERS = {
    "conv 3x3 16->16 @16x16": conv_spec(16, 16, 16),
    "conv 3x3 32->32 @8x8": conv_spec(32, 32, 8),
    "pointwise 32->64 @12x12": conv_spec(32, 64, 12, k=1, pad=0),
    "depthwise 3x3 64 @24x24": dw_spec(64, 24),
    "fully connected 256->64": fc_spec(256, 64),
}
M0_ONLY = {k: v for k, v in M0_LAYERS.items() if k.startswith(("conv", "pointwise", "depthwise"))}
M0_ONLY["fully connected 128->32 (M0 size)"] = fc_spec(128, 32)
MODELS = ["ic_resnet8", "vww_mbv1_96", "kws_dscnn", "ad_fcae"]
BITS = (8, 4, 2)


def measure(model, calib, x, target, board, out: Path, bits: int):
    res = compile_model(model, out, target=target, calib=calib, quiet=True, weight_bits=bits)
    y, info = simulate(out, board=board, x=x, quiet=True)
    ref, _ = simulate(out, board="reference", x=x, quiet=True)
    ys, refs = (y, ref) if isinstance(y, list) else ([y], [ref])
    exact = all(np.array_equal(a, b) for a, b in zip(ys, refs))
    kern = [l["kernel"] for l in res.info["layers"] if l["op"] in ("conv2d", "dense")]
    return info["instructions"], res.info["macs"], exact, kern[0].replace("mcf_", ""), res.info["weights_bytes"]


def bench_layers(cores, work: Path, layers: dict | None = None):
    """layers: {name: spec} instead of LAYERS (and the M0-size ones)."""
    print("| layer | core | bits | kernel | instructions | MACs/instr | vs int8 | weights B | bit-exact |")
    print("|---|---|---|---|---|---|---|---|---|")
    small = {name: spec for name, spec in M0_ONLY.items() if "m0" in cores and layers is None}
    for name, spec in {**(layers or LAYERS), **small}.items():
        d = work / "".join(ch if ch.isalnum() else "_" for ch in name)
        model, calib, x = build_model([spec], d / "model.onnx")
        x = [a[:1] for a in x]
        for c in (["m0"] if name in small else [c for c in cores if c != "m0"]):
            target, board = CORES[c]
            base = None
            for bits in BITS:
                try:
                    n, macs, exact, kern, wb = measure(model, calib, x, target, board, d / f"{c}_{bits}", bits)
                except McuforgeError as e:
                    if "does not fit" not in str(e):
                        raise
                    print(f"| {name} | {c.upper()} | {bits} | does not fit | | | | | |", flush=True)
                    break
                base = base or n
                print(f"| {name} | {c.upper()} | {bits} | {kern} | {n:,} | {macs / n:.2f} | {n / base:.2f}x | "
                      f"{wb:,} | {'yes' if exact else 'NO'} |", flush=True)


def weight_layer_bytes(info) -> int:
    """The conv / depthwise / dense layers' flash, each layer once: the copies a patch-based schedule
    makes of a layer (node@p0, node@p1, ...; schedule/patches.py) share its arrays."""
    layers = {l["name"].split("@p")[0]: l["weight_bytes"] for l in info["layers"] if l["op"] in ("conv2d", "dense")}
    return sum(layers.values())


def mlperf_models(only=()):
    """(name, path) of the MLPerf Tiny models found (those whose names contain one of `only`, if
    given); prints a row for each one missing."""
    for m in MODELS:
        if only and not any(s in m for s in only):
            continue
        path = mlperf_dir() / f"{m}_int8.tflite"
        if path.is_file():
            yield m, path
        else:
            print(f"| {m} | model not found in {mlperf_dir()} | | | | | | |")


def bench_flash(work: Path, targets=(("portable", "cortex-m4", True), ("M3 tuned", "cortex-m3", False),
                                     ("M4 optimized", "cortex-m4", False), ("M55 optimized", "cortex-m55", False))):
    """Weights of the conv / dense layers: packed weights, bias, multiplier and shift per channel,
    as the compiled library holds them: with the portable kernels (the storage formats: int8 one
    byte a weight and int32 bias / multiplier / shift; int4 two a byte, ternary five a byte in base
    3, int16 bias where a layer's biases fit, uint16 multiplier where exact, int8 shift) and with
    each core's kernels (M3's and M4's int8 kernels keep weights widened to int16, M55's pad them).
    Ratios against the same build's int8 and against the portable int8 storage."""
    print("| model | kernels | int8 B | int4 B | ternary B | int4 / int8 | ternary / int8 | "
          "vs portable int8: int4 / ternary | whole weights file int4 / ternary |")
    print("|---|---|---|---|---|---|---|---|---|")
    for m, path in mlperf_models():
        portable8 = None
        for label, target, portable in targets:
            infos = {b: compile_model(path, work / f"{m}_{target}_{portable}_{b}", target=target, quiet=True,
                                      weight_bits=b, portable_kernels=portable).info for b in BITS}
            wl = {b: weight_layer_bytes(i) for b, i in infos.items()}
            tot = {b: i["weights_bytes"] for b, i in infos.items()}
            portable8 = portable8 or (wl[8] if portable else None)
            vs = f"{wl[4] / portable8:.3f} / {wl[2] / portable8:.3f}" if portable8 else ""
            print(f"| {m} | {label} | {wl[8]:,} | {wl[4]:,} | {wl[2]:,} | "
                  f"{wl[4] / wl[8]:.3f} | {wl[2] / wl[8]:.3f} | {vs} | {tot[4] / tot[8]:.3f} / {tot[2] / tot[8]:.3f} |",
                  flush=True)


def bench_models(cores, work: Path, only=()):
    print("| model | core | int8 instructions | int4 | ternary | int4 / int8 | ternary / int8 | arena B int8 / int4 / ternary | bit-exact |")
    print("|---|---|---|---|---|---|---|---|---|")
    for m, path in mlperf_models(only):
        for c in cores:
            target, board = CORES[c]
            n, arena, ok = {}, {}, True
            for bits in BITS:
                out = work / f"{m}_{c}_{bits}"
                try:
                    compile_model(path, out, target=target, quiet=True, weight_bits=bits)
                    y, info = simulate(out, board=board, quiet=True)
                    ref, _ = simulate(out, board="reference", quiet=True)
                except McuforgeError as e:
                    print(f"| {m} | {c.upper()} | w{bits}: {str(e)[:80]} | | | | | |", flush=True)
                    break
                ys, refs = (y, ref) if isinstance(y, list) else ([y], [ref])
                ok &= all(np.array_equal(a, b) for a, b in zip(ys, refs))
                n[bits] = info["instructions"]
                arena[bits] = info["arena_bytes"]
            else:
                print(f"| {m} | {c.upper()} | {n[8]:,} | {n[4]:,} | {n[2]:,} | {n[4] / n[8]:.3f}x | "
                      f"{n[2] / n[8]:.3f}x | {arena[8]:,} / {arena[4]:,} / {arena[2]:,} | {'yes' if ok else 'NO'} |",
                      flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", default="m0,m3,m4,m7,m33,m55")
    ap.add_argument("--layers-only", action="store_true")
    ap.add_argument("--flash-only", action="store_true")
    ap.add_argument("--models", action="store_true", help="whole MLPerf Tiny models on QEMU instead")
    ap.add_argument("--only", default="", help="--models: comma-separated substrings of model names")
    ap.add_argument("--work", help="keep the build folders here")
    args = ap.parse_args(argv)
    cores = [c.strip().lower() for c in args.cores.split(",") if c.strip()]
    with tempfile.TemporaryDirectory(prefix="mcf_subbyte_") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        if args.models:
            bench_models([c for c in cores if c != "m0"], work, [s for s in args.only.split(",") if s])
            return
        if not args.layers_only:
            bench_flash(work)
            print()
        if not args.flash_only:
            bench_layers(cores, work)


if __name__ == "__main__":
    main()
