"""Instructions per MAC of each kernel variant on one layer shape (QEMU Cortex-M4, exact counts of
the whole run, input and output copies included): the numbers behind the instruction model that
the default memory/speed choice uses (compiler/mcuforge/codegen/c/cost.py). Prints a table.

    PYTHONPATH=compiler python benchmarks/kernel_costs.py [--core m4|m55]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "compiler"))
sys.path.insert(0, str(ROOT / "tests" / "kernels"))

from layer_models import build_model, conv_spec, dw_spec, fc_spec, macs  # noqa: E402
from mcuforge.api import compile_model, simulate  # noqa: E402
from mcuforge.codegen.c import kernel_select, variants  # noqa: E402,F401

CORES = {"m4": ("cortex-m4", "mps2-an386"), "m55": ("cortex-m55", "mps3-an547")}
CASES = [
    ("conv 3x3 16->16 @16x16", "mcf_conv2d_s8", conv_spec(16, 16, 16)),
    ("pointwise 64->64 @12x12", "mcf_conv2d_s8", conv_spec(64, 64, 12, k=1, pad=0)),
    ("fully connected 640->128", "mcf_fully_connected_s8", fc_spec(640, 128)),
    ("fully connected 128->128", "mcf_fully_connected_s8", fc_spec(128, 128)),
    ("depthwise 3x3 64 @24x24", "mcf_depthwise_conv2d_s8", dw_spec(64, 24)),
    ("depthwise 3x3 32 @16x16", "mcf_depthwise_conv2d_s8", dw_spec(32, 16)),
]


def run(spec, kernel, variant, core, board, work: Path):
    saved = kernel_select.VARIANTS[kernel]
    kernel_select.VARIANTS[kernel] = [] if variant is None else [variant]
    try:
        model, calib, x = build_model([spec], work / "m.onnx", seed=0)
        res = compile_model(model, work / "out", target=core, calib=calib, quiet=True)
        used = [l.get("kernel") for l in res.info["layers"] if l.get("kernel", "").startswith("mcf_")]
        _, info = simulate(work / "out", board=board, x=x[:1] if hasattr(x, "__getitem__") else x, quiet=True)
        return used, info["instructions"], res.info["arena_bytes"]
    finally:
        kernel_select.VARIANTS[kernel] = saved


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--core", default="m4", choices=sorted(CORES))
    args = ap.parse_args()
    core, board = CORES[args.core]
    feats = frozenset(__import__("mcuforge.targets", fromlist=["load_core"]).load_core(core).features)
    print("| layer | variant | instructions | MACs | instr/MAC | arena B |\n|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, kernel, spec in CASES:
            cands = [v for v in kernel_select.VARIANTS.get(kernel, []) if v.requires <= feats] + [None]
            for v in cands:
                used, n, arena = run(spec, kernel, v, core, board, Path(tmp))
                fn = used[0] if used else "?"
                if v is not None and fn != v.function:
                    continue          # the variant does not accept this shape
                print(f"| {name} | {fn} | {n:,} | {macs(spec):,} | {n / macs(spec):.3f} | {arena:,} |", flush=True)


if __name__ == "__main__":
    main()
