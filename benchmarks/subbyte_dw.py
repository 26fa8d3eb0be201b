"""Sub-byte depthwise layers beyond 3x3 / multiplier 1 / dilation 1 (5x5, 7x7, depth multiplier 2,
dilation 2, stride 2): executed instructions (QEMU -icount) of int4 / ternary next to int8 on the
same core, each run bit-exact with the golden model. Prints a Markdown table (docs/subbyte.md);
asserts nothing.

    PYTHONPATH=compiler python benchmarks/subbyte_dw.py [--cores m4,m55]
    PYTHONPATH=compiler python benchmarks/subbyte_dw.py --model tests/corpus/fixtures/keras_mobilenet_v3_small.tflite [--cores m4]

--model: a whole model (an int8 .tflite narrowed, or ONNX with --calib) at weight_bits 8 / 4 / 2,
one inference on QEMU per core, at the default kernel choice and with speed_first; with
speed_first the depthwise layers' share from two more builds per width: the depthwise layers kept
at int8 (the difference is theirs), and the sub-byte depthwise variants of this change switched
off (`_fast`, the kernel before it).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from subbyte import CORES, bench_layers, dw_spec  # noqa: E402  (sets sys.path)

DW_LAYERS = {
    "depthwise 5x5 32 @16x16": dw_spec(32, 16, k=5),
    "depthwise 5x5 s2 32 @16x16": dw_spec(32, 16, k=5, stride=2),
    "depthwise 7x7 32 @12x12": dw_spec(32, 12, k=7),
    "depthwise 3x3 x2 16 @16x16": dw_spec(16, 16, mult=2),
    "depthwise 3x3 dil 2 32 @16x16": dw_spec(32, 16, dil=2),
}
# 3x3 / multiplier 1 shapes of the `_dsp` kernels (vww_mbv1_96's and kws's depthwise sizes): --dw3
DW3_LAYERS = {
    "depthwise 3x3 8 @48x48": dw_spec(8, 48),
    "depthwise 3x3 s2 8 @48x48": dw_spec(8, 48, stride=2),
    "depthwise 3x3 128 @12x12": dw_spec(128, 12),
    "depthwise 3x3 s2 128 @12x12": dw_spec(128, 12, stride=2),
    "depthwise 3x3 256 @6x6": dw_spec(256, 6),
    "depthwise 3x3 s2 256 @6x6": dw_spec(256, 6, stride=2),
    "depthwise 3x3 512 @3x3": dw_spec(512, 3),
}


def _depthwise_names(path) -> list[str]:
    from mcuforge.api import load_model
    g = load_model(path)
    return [n.name for n in g.topo_order()
            if n.op == "conv2d" and n.attrs.get("groups", 1) > 1 and n.attrs.get("groups") == g.tensors[n.inputs[0]].shape[-1]]


def _run(path, calib, target, board, out, bits, speed_first=False):
    from mcuforge.api import compile_model, simulate
    res = compile_model(path, out, target=target, calib=calib, quiet=True, weight_bits=bits, speed_first=speed_first)
    y, info = simulate(out, board=board, quiet=True)
    ref, _ = simulate(out, board="reference", quiet=True)
    ys, refs = (y, ref) if isinstance(y, list) else ([y], [ref])
    exact = all(np.array_equal(a, b) for a, b in zip(ys, refs))
    dw = [l for l in res.info["layers"] if l["op"] == "conv2d" and "depthwise" in l["kernel"]]
    return info["instructions"], exact, dw, res.info


def without_general_variants():
    """The kernel table as before this change: the depthwise variants of dsp_subbyte_dw.py that
    run the int8 general kernels (_dsp_gen, _dsp_gen_lsh, _mve_gen) removed (restored on exit)."""
    import contextlib
    from mcuforge.codegen.c.kernel_select import VARIANTS

    @contextlib.contextmanager
    def ctx():
        saved = {k: list(v) for k, v in VARIANTS.items()}
        for k in saved:
            if k.startswith("mcf_depthwise_conv2d_s8_w"):
                VARIANTS[k] = [v for v in VARIANTS[k] if not v.function.endswith(("_dsp_gen", "_dsp_gen_lsh", "_mve_gen"))]
        try:
            yield
        finally:
            VARIANTS.update(saved)
    return ctx()


def bench_model(path: Path, calib, cores, work: Path):
    """Whole model at the default kernel choice (arena x instructions, codegen/c/lean.py), then with
    speed_first (every layer its fastest kernel, so the builds differ only where asked): the
    depthwise layers' share is the build minus the same build with them kept at int8, and "before"
    the same build without this change's variants (their depthwise layers on `_fast`)."""
    from mcuforge.api import load_model
    names = _depthwise_names(path)
    weighted = [n.name for n in load_model(path).topo_order() if n.op in ("conv2d", "dense")]
    print(f"{path.name}: {len(names)} depthwise layers of {len(weighted)} weight layers")
    print("| core | weights | default choice: instructions (vs int8) | speed_first: instructions (vs int8) | "
          "depthwise layers: instructions over int8's | depthwise kernels | before this change (speed_first) | bit-exact |")
    print("|---|---|---|---|---|---|---|---|")
    for c in cores:
        target, board = CORES[c]
        d8, okd8, _, _ = _run(path, calib, target, board, work / f"{c}_8_default", 8)
        n8, ok8, dw8, _ = _run(path, calib, target, board, work / f"{c}_8", 8, True)
        print(f"| {c.upper()} | int8 | {d8:,} | {n8:,} | | "
              f"{', '.join(sorted({l['kernel'].replace('mcf_depthwise_conv2d_s8', '') for l in dw8}))} | | "
              f"{'yes' if ok8 and okd8 else 'NO'} |", flush=True)
        for bits in (4, 2):
            dd, okd, _, _ = _run(path, calib, target, board, work / f"{c}_{bits}_default", bits)
            n, ok, dw, _ = _run(path, calib, target, board, work / f"{c}_{bits}", bits, True)
            wb = {nm: (8 if nm in names else bits) for nm in weighted}
            nk, okk, _, _ = _run(path, calib, target, board, work / f"{c}_{bits}_dw8", wb, True)
            with without_general_variants():
                nb, okb, _, _ = _run(path, calib, target, board, work / f"{c}_{bits}_before", bits, True)
            kinds = {}
            for l in dw:
                k = l["kernel"].replace(f"mcf_depthwise_conv2d_s8_w{bits}", "")
                kinds[k] = kinds.get(k, 0) + 1
            label = "int4" if bits == 4 else "ternary"
            print(f"| {c.upper()} | {label} | {dd:,} ({dd / d8:.2f}x) | {n:,} ({n / n8:.3f}x) | {n - nk:+,} | "
                  f"{', '.join(f'{k} x{v}' for k, v in sorted(kinds.items()))} | {nb:,} ({nb / n8:.3f}x; depthwise "
                  f"{nb - nk:+,} over int8's) | {'yes' if ok and okk and okb and okd else 'NO'} |", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", default="m4,m55")
    ap.add_argument("--only", default="", help="comma-separated substrings of layer names")
    ap.add_argument("--dw3", action="store_true", help="the 3x3 / multiplier 1 shapes (DW3_LAYERS) instead")
    ap.add_argument("--model", help="a whole model instead of the layer table")
    ap.add_argument("--calib", help="calibration data (.npy / .npz) for an ONNX model")
    ap.add_argument("--work", help="keep the build folders here")
    args = ap.parse_args(argv)
    cores = [c.strip().lower() for c in args.cores.split(",") if c.strip()]
    only = [s for s in args.only.split(",") if s]
    if args.model:
        with tempfile.TemporaryDirectory(prefix="mcf_subbyte_dw_") as tmp:
            bench_model(Path(args.model), args.calib, cores, Path(args.work) if args.work else Path(tmp))
        return
    table = DW3_LAYERS if args.dw3 else DW_LAYERS
    layers = {name: spec for name, spec in table.items() if not only or any(s in name for s in only)}
    with tempfile.TemporaryDirectory(prefix="mcf_subbyte_dw_") as tmp:
        bench_layers(cores, Path(args.work) if args.work else Path(tmp), layers)


if __name__ == "__main__":
    main()
