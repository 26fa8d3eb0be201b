"""Few-pixel sub-byte convolutions over one block on Cortex-M4: the radix form
(codegen/c/variants/dsp_subbyte_rdx.py, runtime_c/include/mcf_subbyte_dsp_rdx.h) against the
default DSP kernel (its scaled unpacking into int16 blocks) and int8: exact executed instructions
(QEMU TCG plugin, benchmarks/qemu_pccount.c) and modelled Cortex-M4 cycles (benchmarks/cycle_model.py),
one inference, every run checked bit for bit against the golden model. Prints Markdown tables
(docs/subbyte.md "Layers over one block"); asserts nothing.

    PYTHONPATH=compiler python benchmarks/subbyte_fewpix.py [--layers-only | --models-only] [--profile]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "compiler"), str(HERE.parent / "tests" / "kernels"), str(HERE.parent / "tests"),
                str(HERE)]

from cycle_model import build_and_profile, plugin  # noqa: E402
from layer_models import build_model, conv_spec  # noqa: E402

LAYERS = {
    "pointwise 128->256 @3x3": conv_spec(128, 256, 3, k=1, pad=0),
    "pointwise 256->256 @3x3": conv_spec(256, 256, 3, k=1, pad=0),
    "pointwise 128->128 @6x6": conv_spec(128, 128, 6, k=1, pad=0),
    "pointwise 64->128 @6x6": conv_spec(64, 128, 6, k=1, pad=0),
}


KEYS = ("int8", "int4 before", "int4", "ternary before", "ternary")


def _radix(on: bool):
    """The radix form allowed (the default choice by cost) or refused (the tree before it)."""
    from mcuforge.codegen.c.variants import dsp_subbyte_rdx as R
    if not hasattr(R, "_accepts_orig"):
        R._accepts_orig = R._rdx_accepts
    import mcuforge.codegen.c.kernel_select as ks
    for vs in ks.VARIANTS.values():
        for i, v in enumerate(vs):
            if v.function.endswith("_dsp_rdx"):
                import dataclasses
                vs[i] = dataclasses.replace(v, accepts=R._accepts_orig if on else (lambda p: False))


def row(name, model, calib, x, work: Path, so, profile_fns: bool):
    r = {}
    for key, bits, rdx in zip(KEYS, (8, 4, 4, 2, 2), (True, False, True, False, True)):
        _radix(rdx)
        folder = work / f"{''.join(ch if ch.isalnum() else '_' for ch in name)}_{key.replace(' ', '_')}"
        r[key] = build_and_profile(model, calib, x, folder, bits, "m4", so)
    _radix(True)
    i8, c8 = r["int8"].instructions, r["int8"].cycles[2]
    cell = lambda k: f"{r[k].instructions:,} / {r[k].cycles[2]:,.0f}"
    rat = lambda k: f"{r[k].instructions / i8:.3f}x / {r[k].cycles[2] / c8:.3f}x"
    ok = all(v.exact for v in r.values())
    print(f"| {name} | {cell('int8')} | {cell('int4 before')} | {cell('int4')} | {rat('int4 before')} -> {rat('int4')} | "
          f"{cell('ternary before')} | {cell('ternary')} | {rat('ternary before')} -> {rat('ternary')} | "
          f"{'yes' if ok else 'NO'} |", flush=True)
    if profile_fns:
        for k, v in r.items():
            top = ", ".join(f"{f} {n:,}" for f, n in v.per_fn_instr.most_common(9))
            print(f"    {k}: {top}", flush=True)
    return r


def conv_layers(work: Path, name: str):
    """Per convolution (groups 1) of one inference: (shape label, {build: exact instructions}) from the
    builds row() left in work (mcuforge.sim.layer_counts: the kernel calls counted by the plugin)."""
    from mcuforge.api import read_info
    from mcuforge.sim.layer_counts import layer_instructions
    res = {}
    for key in KEYS:
        out = work / f"{''.join(ch if ch.isalnum() else '_' for ch in name)}_{key.replace(' ', '_')}"
        info = read_info(out)
        rows = [l for l in info["layers"] if l["op"] == "conv2d" and "depthwise" not in l["kernel"]]
        counts = layer_instructions(out, "mps2-an386", rows)
        for i, (l, n) in enumerate(zip(rows, counts)):
            label = f"{l['in_shape'][-1]}->{l['out_shape'][-1]} @{l['out_shape'][1]}x{l['out_shape'][2]}"
            res.setdefault(i, [label, {}, {}])[1][key] = n
            res[i][2][key] = l["kernel"].replace("mcf_conv2d_s8_", "")
    return list(res.values())


def print_conv_layers(work: Path, name: str):
    rows = conv_layers(work, name)
    print()
    print(f"{name}, convolutions (groups 1) of one inference, exact instructions per layer (kernel call):")
    print()
    print("| layer | int8 | int4 before | int4 | int4 / int8 before -> after | ternary before | ternary | "
          "ternary / int8 before -> after | int4 / ternary kernel |")
    print("|---|---|---|---|---|---|---|---|---|")
    tot = {k: 0 for k in KEYS}
    for label, n, kern in rows:
        for k in KEYS:
            tot[k] += n[k]
        r = lambda k: f"{n[k] / n['int8']:.3f}x"
        print(f"| {label} | {n['int8']:,} | {n['int4 before']:,} | {n['int4']:,} | {r('int4 before')} -> {r('int4')} | "
              f"{n['ternary before']:,} | {n['ternary']:,} | {r('ternary before')} -> {r('ternary')} | "
              f"{kern['int4']} / {kern['ternary']} |")
    r = lambda k: f"{tot[k] / tot['int8']:.3f}x"
    print(f"| all {len(rows)} | {tot['int8']:,} | {tot['int4 before']:,} | {tot['int4']:,} | {r('int4 before')} -> "
          f"{r('int4')} | {tot['ternary before']:,} | {tot['ternary']:,} | {r('ternary before')} -> {r('ternary')} | |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers-only", action="store_true")
    ap.add_argument("--models-only", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated substrings of the layer names")
    ap.add_argument("--profile", action="store_true", help="instructions per function")
    ap.add_argument("--work", help="keep the build folders here")
    args = ap.parse_args(argv)
    from mlperf_data import mlperf_dir
    with tempfile.TemporaryDirectory(prefix="mcf_fewpix_") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        so = plugin()
        print("| layer (M4) | int8 instructions / modelled cycles | int4 before | int4 radix | int4 / int8 instr / cycles "
              "before -> after | ternary before | ternary radix | ternary / int8 before -> after | bit-exact |")
        print("|---|---|---|---|---|---|---|---|---|")
        if not args.models_only:
            for name, spec in LAYERS.items():
                if args.only and not any(s in name for s in args.only.split(",")):
                    continue
                model, calib, x = build_model([spec], work / name.replace(" ", "_").replace(">", "") / "model.onnx")
                row(name, model, calib, [a[:1] for a in x], work, so, args.profile)
        if not args.layers_only:
            p = mlperf_dir() / "vww_mbv1_96_int8.tflite"
            row("vww_mbv1_96", p, None, None, work, so, args.profile)
            print_conv_layers(work, "vww_mbv1_96")


if __name__ == "__main__":
    main()
