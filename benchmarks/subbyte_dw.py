"""Sub-byte depthwise layers beyond 3x3 / multiplier 1 / dilation 1 (5x5, 7x7, depth multiplier 2,
dilation 2, stride 2): executed instructions (QEMU -icount) of int4 / ternary next to int8 on the
same core, each run bit-exact with the golden model. Prints a Markdown table (docs/subbyte.md);
asserts nothing.

    PYTHONPATH=compiler python benchmarks/subbyte_dw.py [--cores m4,m55]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from subbyte import BITS, CORES, build_model, dw_spec, measure  # noqa: E402  (sets sys.path)
from mcuforge.errors import McuforgeError  # noqa: E402

DW_LAYERS = {
    "depthwise 5x5 32 @16x16": dw_spec(32, 16, k=5),
    "depthwise 5x5 s2 32 @16x16": dw_spec(32, 16, k=5, stride=2),
    "depthwise 7x7 32 @12x12": dw_spec(32, 12, k=7),
    "depthwise 3x3 x2 16 @16x16": dw_spec(16, 16, mult=2),
    "depthwise 3x3 dil 2 32 @16x16": dw_spec(32, 16, dil=2),
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", default="m4,m55")
    ap.add_argument("--only", default="", help="comma-separated substrings of layer names")
    args = ap.parse_args(argv)
    cores = [c.strip().lower() for c in args.cores.split(",") if c.strip()]
    only = [s for s in args.only.split(",") if s]
    print("| layer | core | bits | kernel | instructions | MACs/instr | vs int8 | weights B | bit-exact |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="mcf_subbyte_dw_") as tmp:
        for name, spec in DW_LAYERS.items():
            if only and not any(s in name for s in only):
                continue
            d = Path(tmp) / "".join(ch if ch.isalnum() else "_" for ch in name)
            model, calib, x = build_model([spec], d / "model.onnx")
            x = [a[:1] for a in x]
            for c in cores:
                target, board = CORES[c]
                base = None
                for bits in BITS:
                    try:
                        n, macs, exact, kern, wb = measure(model, calib, x, target, board, d / f"{c}_{bits}", bits)
                    except McuforgeError as e:
                        print(f"| {name} | {c.upper()} | {bits} | {str(e)[:60]} | | | | | |", flush=True)
                        break
                    base = base or n
                    print(f"| {name} | {c.upper()} | {bits} | {kern} | {n:,} | {macs / n:.2f} | {n / base:.2f}x | "
                          f"{wb:,} | {'yes' if exact else 'NO'} |", flush=True)


if __name__ == "__main__":
    main()
