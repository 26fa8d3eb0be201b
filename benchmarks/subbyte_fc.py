"""Single-row fully connected layers with int4 / ternary weights on Cortex-M4 (the radix row kernel,
runtime_c/include/mcf_subbyte_dsp_fc.h) next to the int8 DSP row kernel: classifier heads, ad_fcae's
shapes and ad_fcae itself. Prints a Markdown table (docs/subbyte.md); asserts nothing.

Two counts per build: QEMU -icount / SysTick (`simulate`'s instructions, to one SysTick tick: 40
instructions on mps2-an386) and exact counts from a QEMU TCG plugin of ours (benchmarks/qemu_pccount.c,
built here with the host gcc; QEMU 7.2 ships no plugin header, the few API declarations it needs are
its own): executed instructions per PC, summed over the functions of the model's and the layer
kernels' object files (the whole inference without the board's counter and I/O), and, with
--profile, per function (the loops, the row driver, the output routines).

    PYTHONPATH=compiler python benchmarks/subbyte_fc.py [--root TREE] [--profile] [--no-model]

--root: measure another source tree (e.g. an extracted `git archive main`), for before / after.
Every run is checked bit for bit against the golden model (and the host build with --host).
"""
from __future__ import annotations

import argparse
import bisect
import collections
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
LAYERS = [(128, 8), (128, 10), (256, 10), (64, 10), (640, 128), (128, 128)]
BITS = (8, 4, 2)
BOARD = ("cortex-m4", "mps2-an386")


def plugin(work: Path) -> Path:
    so = work / "qemu_pccount.so"
    if not so.is_file():
        subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o", str(so),
                        str(HERE / "qemu_pccount.c")], check=True)
    return so


def exact_counts(out: Path, so: Path) -> tuple[int, collections.Counter]:
    """(instructions of the model's and kernels' functions, per function) of one run of the firmware
    `simulate` built in out/build/<board>, under QEMU with the counting plugin."""
    from mcuforge.sim.qemu import qemu_command
    bdir = out / "build" / BOARD[1]
    elf, run = bdir / "firmware.elf", bdir / "run"
    txt = run.resolve() / "pccount.txt"
    cmd = qemu_command(BOARD[1], elf)
    cmd[-2:-2] = ["-plugin", f"{so},out={txt},base=0"]
    subprocess.run(cmd, cwd=run, capture_output=True, stdin=subprocess.DEVNULL, check=True, timeout=120)
    nm = lambda path: subprocess.run(["arm-none-eabi-nm", "-S", "--defined-only", str(path)], capture_output=True,
                                     text=True, check=True).stdout.splitlines()
    syms = sorted((int(f[0], 16) & ~1, int(f[1], 16), f[3]) for f in map(str.split, nm(elf))
                  if len(f) == 4 and f[2] in "tTwW")
    starts = [s[0] for s in syms]
    per = collections.Counter()
    for line in txt.read_text().splitlines():
        a, n = (int(v, 16 if i == 0 else 10) for i, v in enumerate(line.split()))
        i = bisect.bisect_right(starts, a) - 1
        per[syms[i][2] if i >= 0 and a < syms[i][0] + syms[i][1] else f"?{a:x}"] += n
    mine = set()
    for o in (bdir / "obj").glob("*.o"):
        if "test_main" in o.name or "board" in o.name or "startup" in o.name:
            continue
        mine |= {f[-1] for f in map(str.split, nm(o)) if len(f) >= 3 and f[-2] in "tT"}
    return sum(n for f, n in per.items() if f in mine), collections.Counter({f: n for f, n in per.items() if f in mine})


def measure(model, calib, x, out: Path, bits: int, so: Path, host: bool):
    from mcuforge.api import compile_model, simulate
    res = compile_model(model, out, target=BOARD[0], calib=calib, quiet=True, weight_bits=bits)
    y, info = simulate(out, board=BOARD[1], x=x, quiet=True)
    ref, _ = simulate(out, board="reference", x=x, quiet=True)
    ys, refs = (y, ref) if isinstance(y, list) else ([y], [ref])
    exact = all(np.array_equal(a, b) for a, b in zip(ys, refs))
    if host:
        yh, _ = simulate(out, board="host", x=x, quiet=True)
        exact &= all(np.array_equal(a, b) for a, b in zip(yh if isinstance(yh, list) else [yh], refs))
    n, per = exact_counts(out, so)
    kern = sorted({l["kernel"].replace("mcf_fully_connected_s8_", "") for l in res.info["layers"] if l["op"] == "dense"})
    return info["instructions"], n, per, exact, "/".join(kern), res.info["weights_bytes"]


def bench(rows, work: Path, so: Path, profile: bool, host: bool):
    print("| layer | int8 icount / exact | int4 | ternary | int4 / int8 (exact) | ternary / int8 (exact) | "
          "kernels | weights B int8 / int4 / ternary | bit-exact |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, (model, calib, x) in rows:
        r = {}
        for bits in BITS:
            r[bits] = measure(model, calib, x, work / f"{name.replace(' ', '_').replace('>', '')}_{bits}", bits, so, host)
        cell = lambda b: f"{r[b][0]:,} / {r[b][1]:,}"
        ok = all(v[3] for v in r.values())
        print(f"| {name} | {cell(8)} | {cell(4)} | {cell(2)} | {r[4][1] / r[8][1]:.3f}x | {r[2][1] / r[8][1]:.3f}x | "
              f"{' '.join(r[b][4] for b in BITS)} | {' / '.join(f'{r[b][5]:,}' for b in BITS)} | "
              f"{'yes' if ok else 'NO'} |", flush=True)
        if profile:
            for b in BITS:
                top = ", ".join(f"{f.replace('mcf_', '')} {n:,}" for f, n in r[b][2].most_common(8))
                print(f"|   {name} w{b} | {top} |||||||")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=str(HERE.parent), help="source tree to measure (default: this one)")
    ap.add_argument("--profile", action="store_true", help="per-function exact counts under each row")
    ap.add_argument("--host", action="store_true", help="also check the host build against the golden model")
    ap.add_argument("--no-model", action="store_true", help="skip ad_fcae")
    ap.add_argument("--layers", help="comma-separated K->N, e.g. 128->8,256->10 (default: the heads above)")
    ap.add_argument("--work", help="keep the build folders here")
    args = ap.parse_args(argv)
    root = Path(args.root).resolve()
    sys.path[:0] = [str(root / "compiler"), str(root / "tests" / "kernels")]
    import mcuforge  # noqa: E402   (the tree's own, before anything imports another)
    from layer_models import build_model, fc_spec  # noqa: E402
    assert Path(mcuforge.__file__).resolve().is_relative_to(root), mcuforge.__file__
    layers = LAYERS if not args.layers else [tuple(map(int, s.split("->"))) for s in args.layers.split(",")]
    with tempfile.TemporaryDirectory(prefix="mcf_subbyte_fc_") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        so = plugin(work)
        rows = []
        for k, n in layers:
            model, calib, x = build_model([fc_spec(k, n)], work / f"fc{k}_{n}" / "model.onnx")
            rows.append((f"FC {k}->{n}", (model, calib, [a[:1] for a in x])))
        ad = Path(os.environ.get("MCF_MLPERF_DIR", HERE.parents[1] / "shared" / "models" / "mlperf-tiny")) / \
            "ad_fcae_int8.tflite"
        if not args.no_model and ad.is_file():
            rows.append(("ad_fcae", (ad, None, None)))
        bench(rows, work, so, args.profile, args.host)


if __name__ == "__main__":
    main()
