"""Single-row fully connected layers with int4 / ternary weights on Cortex-M4 (--core m7 / m33: the
same kernels) next to the int8 DSP row kernel: the radix row kernel (runtime_c/include/
mcf_subbyte_dsp_fc.h) on classifier heads, ad_fcae's shapes and ad_fcae itself. Prints a Markdown
table (docs/subbyte.md); asserts nothing.

Two counts per build: QEMU -icount / SysTick (`simulate`'s instructions, to one SysTick tick: 40
instructions on mps2-an386) and exact counts from a QEMU TCG plugin of ours (benchmarks/qemu_pccount.c,
built here with the host gcc; QEMU 7.2 ships no plugin header, the few API declarations it needs are
its own): executed instructions per PC between the firmware's counter start and stop (one
inference, as `simulate` counts it, but to the instruction), and, with --profile, per function
(the loops, the row driver, the output routines, libc calls).

    PYTHONPATH=compiler python benchmarks/subbyte_fc.py [--root TREE] [--core m4] [--profile] [--no-model]

--root: measure another source tree (e.g. an extracted `git archive main`), for before / after.
Every run is checked bit for bit against the golden model (and the host build with --host).
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from cycle_model import CORES, function_of, plugin, run_pccount, symbols

HERE = Path(__file__).resolve().parent
LAYERS = [(128, 8), (128, 10), (256, 10), (64, 10), (640, 128), (128, 128)]
BITS = (8, 4, 2)
BOARD = CORES["m4"]


def exact_counts(out: Path, so: Path) -> tuple[int, collections.Counter]:
    """(instructions from mcf_board_counter_start's entry to mcf_board_counter_stop's, per function:
    the inference as the firmware counts it, libc calls such as the int8 row kernel's memset
    included) of one run of the firmware `simulate` built in out/build/<board>, under QEMU with the
    counting plugin."""
    bdir = out / "build" / BOARD[1]
    elf = bdir / "firmware.elf"
    counts, _ = run_pccount(elf, BOARD[1], BOARD[2], so, bdir / "run", taken=False)   # one inference
    syms = symbols(elf)
    per = collections.Counter()
    for a, n in counts.items():
        per[function_of(syms, a)] += n
    return sum(per.values()), per


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
    kern = sorted({l["kernel"].replace("mcf_fully_connected_s8_", "") for l in res.info["layers"]
                   if l["op"] == "dense"})
    return info["instructions"], n, per, exact, "/".join(kern), res.info["weights_bytes"]


def fc_rows(layers_arg: str | None, work: Path) -> list:
    """[(name, (model, calib, x of one sample))] of the single-layer FC models: `layers_arg` as
    "K->N,K->N" or None for LAYERS (tests/kernels/layer_models.py must be importable)."""
    from layer_models import build_model, fc_spec
    layers = LAYERS if not layers_arg else [tuple(map(int, s.split("->"))) for s in layers_arg.split(",")]
    rows = []
    for k, n in layers:
        model, calib, x = build_model([fc_spec(k, n)], work / f"fc{k}_{n}" / "model.onnx")
        rows.append((f"FC {k}->{n}", (model, calib, [a[:1] for a in x])))
    return rows


COMMON = ("mcf_board_counter_start", "main", "memcpy")      # the count's own calls, the model's input copy


def bench(rows, work: Path, so: Path, profile: bool, host: bool):
    """Per row: icount / exact / the layers alone (exact without COMMON, the same in every build)."""
    print("| layer | int8 icount / exact / layers | int4 | ternary | int4 / int8 exact (layers) | "
          "ternary / int8 exact (layers) | kernels | weights B int8 / int4 / ternary | bit-exact |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, (model, calib, x) in rows:
        r = {}
        for bits in BITS:
            folder = work / f"{name.replace(' ', '_').replace('>', '')}_{bits}"
            r[bits] = measure(model, calib, x, folder, bits, so, host)
        lay = {b: r[b][1] - sum(r[b][2][f] for f in COMMON) for b in BITS}
        cell = lambda b: f"{r[b][0]:,} / {r[b][1]:,} / {lay[b]:,}"
        ratio = lambda b: f"{r[b][1] / r[8][1]:.3f}x ({lay[b] / lay[8]:.3f}x)"
        ok = all(v[3] for v in r.values())
        print(f"| {name} | {cell(8)} | {cell(4)} | {cell(2)} | {ratio(4)} | {ratio(2)} | "
              f"{' '.join(r[b][4] for b in BITS)} | {' / '.join(f'{r[b][5]:,}' for b in BITS)} | "
              f"{'yes' if ok else 'NO'} |", flush=True)
        if profile:
            for b in BITS:
                top = ", ".join(f"{f.replace('mcf_', '')} {n:,}" for f, n in r[b][2].most_common(8) if f not in COMMON)
                print(f"|   {name} w{b} | {top} |||||||")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=str(HERE.parent), help="source tree to measure (default: this one)")
    ap.add_argument("--profile", action="store_true", help="per-function exact counts under each row")
    ap.add_argument("--host", action="store_true", help="also check the host build against the golden model")
    ap.add_argument("--no-model", action="store_true", help="skip ad_fcae")
    ap.add_argument("--layers", help="comma-separated K->N, e.g. 128->8,256->10 (default: the heads above)")
    ap.add_argument("--core", default="m4", choices=sorted(CORES))
    ap.add_argument("--work", help="keep the build folders here")
    args = ap.parse_args(argv)
    global BOARD
    BOARD = CORES[args.core]
    root = Path(args.root).resolve()
    sys.path[:0] = [str(root / "compiler"), str(root / "tests" / "kernels")]
    import mcuforge  # noqa: E402   (the tree's own, before anything imports another)
    assert Path(mcuforge.__file__).resolve().is_relative_to(root), mcuforge.__file__
    with tempfile.TemporaryDirectory(prefix="mcf_subbyte_fc_") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        so = plugin()
        rows = fc_rows(args.layers, work)
        ad = Path(os.environ.get("MCF_MLPERF_DIR", HERE.parents[1] / "shared" / "models" / "mlperf-tiny")) / \
            "ad_fcae_int8.tflite"
        if not args.no_model and ad.is_file():
            rows.append(("ad_fcae", (ad, None, None)))
        bench(rows, work, so, args.profile, args.host)


if __name__ == "__main__":
    main()
