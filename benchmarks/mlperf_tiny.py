"""MLPerf Tiny int8 models: our memory and speed next to TFLite Micro's smallest arena.

    PYTHONPATH=compiler python benchmarks/mlperf_tiny.py [--portable] [--greedy] [--caller-io] [--budget 0.6]
                                                          [--speed-first] [models...]

Per model: MACs; our flash (text+data of the linked M4 ELF); our arena (by default it holds the
input and output, as TFLite Micro's does, and the I/O column is then 0), caller-owned I/O buffers and
worst-case stack (call-graph bound from -fstack-usage) and their sum, the peak SRAM; TFLite
Micro's smallest working arena (bisection on arena_size, 64-bit host build; it holds input,
output, intermediates and the interpreter's own records); the ratios; executed instructions per
inference on QEMU Cortex-M4 (mps2-an386) and M7 (mps2-an500), and the M4 count over CMSIS-NN's
(TFLM's optimized kernels) under the same counting. CMSIS-NN's counts are constants here, measured
once (commit 99f736a, -O2, TFLM's layer order; /work/shared/NOTES.md), not re-run by this script.
Every run is also checked byte for byte against TFLite Micro.

Default: no memory flags, as a user compiles (kernels at the arena's peak chosen by the smallest
arena x modelled instructions, codegen/c/lean.py); --speed-first: the fastest kernel everywhere. Models come from $MCUFORGE_MLPERF_TINY (default
../shared/models/mlperf-tiny beside the repository).
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
from mcuforge.schedule.arena import plan_greedy_by_size  # noqa: E402
from mcuforge.schedule.lifetimes import lifetimes  # noqa: E402
from mcuforge.sim.tflm import TflmModel, smallest_arena  # noqa: E402

MODELS = ["kws_dscnn_int8", "ic_resnet8_int8", "vww_mbv1_96_int8", "ad_fcae_int8"]
BOARDS = {"M4": ("mps2-an386", "cortex-m4"), "M7": ("mps2-an500", "cortex-m7")}
# CMSIS-NN's instructions per inference on Cortex-M4 (NOTES.md: measured with the same QEMU
# counting, byte-exact with tflite-micro); constants, not measured by this script
CMSIS_NN_M4 = {"kws_dscnn": 7.70e6, "ic_resnet8": 29.86e6, "vww_mbv1_96": 24.09e6, "ad_fcae": 0.58e6}


def compile_planned(path, out, core, args, tflm):
    """compile_model as a user calls it (plan_memory's order, kernel-aware arena, input and output
    in the arena unless --caller-io); --greedy swaps in the greedy-by-size plan without in-place."""
    budget = None if args.budget is None else int(args.budget * tflm)
    kw = dict(target=core, quiet=True, portable_kernels=args.portable, arena_budget=budget,
              io_in_arena=not args.caller_io, speed_first=args.speed_first)
    if args.greedy:
        kw["planner"] = lambda g: plan_greedy_by_size(lifetimes(g, g.topo_order()))
    return compile_model(path, out, **kw)


def measure(name, args, tmp):
    path = Path(os.environ.get("MCUFORGE_MLPERF_TINY", REPO.parent / "shared/models/mlperf-tiny")) / f"{name}.tflite"
    if not path.is_file():
        raise SystemExit(f"{path} not found: set MCUFORGE_MLPERF_TINY to the MLPerf Tiny model folder")
    buf = path.read_bytes()
    ref = TflmModel(buf)
    row = {"model": name.replace("_int8", "")}
    shape = load_tflite(path).tensors[load_tflite(path).inputs[0]].shape
    x = np.random.default_rng(0).integers(-128, 128, shape).astype(np.int8)
    tflm = row["tflm"] = smallest_arena(buf, [x])
    for tag, (board, core) in BOARDS.items():
        out = Path(tmp) / f"{name}_{core}"
        r = compile_planned(path, out, core, args, tflm)
        y, info = simulate(out, board, x[None], quiet=True)
        if not np.array_equal(y.reshape(-1), ref.run(x)[0].reshape(-1)):
            raise SystemExit(f"{name} on {board}: output differs from TFLite Micro")
        row[f"instr_{tag}"] = info["instructions"]
        if tag == "M4":
            row.update(macs=r.info["macs"], flash=info["flash_bytes"], arena=info["arena_bytes"],
                       io=r.info["io_bytes"], stack=info["stack_bytes"])
    row["sram"] = row["arena"] + row["io"] + row["stack"]
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=MODELS)
    ap.add_argument("--portable", action="store_true", help="portable C kernels only (no DSP variants)")
    ap.add_argument("--greedy", action="store_true", help="greedy-by-size plan, no in-place, caller-owned I/O")
    ap.add_argument("--caller-io", action="store_true", help="input and output in caller buffers, not the arena")
    ap.add_argument("--budget", type=float, metavar="X",
                    help="arena budget X times TFLM's arena: leaner kernels only where their scratch sets the peak above it")
    ap.add_argument("--speed-first", action="store_true", help="the fastest kernel on every layer (the old default)")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            print(f"[mlperf_tiny] {name} ...", file=sys.stderr, flush=True)
            rows.append(measure(name, args, tmp))
    hdr = ("model", "MACs", "flash B", "arena B", "TFLM arena B", "arena/TFLM", "instr M4", "CMSIS-NN M4",
           "instr/CMSIS-NN", "I/O B", "stack B", "peak SRAM B", "instr M7", "MAC/instr M4")
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for r in rows:
        cm = CMSIS_NN_M4.get(r["model"])
        vals = (r["model"], f"{r['macs']:,}", f"{r['flash']:,}", f"{r['arena']:,}", f"{r['tflm']:,}",
                f"{(r['arena'] + r['io']) / r['tflm']:.2f}", f"{r['instr_M4']:,}",
                f"{cm / 1e6:.2f} M" if cm else "-", f"{r['instr_M4'] / cm:.2f}" if cm else "-",
                f"{r['io']:,}", f"{r['stack']:,}", f"{r['sram']:,}", f"{r['instr_M7']:,}",
                f"{r['macs'] / r['instr_M4']:.3f}")
        print("| " + " | ".join(vals) + " |")

if __name__ == "__main__":
    main()
