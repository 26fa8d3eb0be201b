"""Sub-byte depthwise layers beyond 3x3 / multiplier 1 / dilation 1 (5x5, 7x7, depth multiplier 2,
dilation 2, stride 2): executed instructions (QEMU -icount) of int4 / ternary next to int8 on the
same core, each run bit-exact with the golden model. Prints a Markdown table (docs/subbyte.md);
asserts nothing.

    PYTHONPATH=compiler python benchmarks/subbyte_dw.py [--cores m4,m55]
    PYTHONPATH=compiler python benchmarks/subbyte_dw.py --model tests/corpus/fixtures/keras_mobilenet_v3_small.tflite [--cores m4]

--model: a whole model (an int8 .tflite narrowed, or ONNX with --calib) at weight_bits 8 / 4 / 2,
one inference on QEMU per core; the depthwise layers' share from two more builds per width: the
depthwise layers kept at int8 (the difference is theirs), and the sub-byte depthwise variants of
this change switched off (`_fast`, the kernel before it).
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


def _depthwise_names(path) -> list[str]:
    from mcuforge.api import load_model
    g = load_model(path)
    return [n.name for n in g.topo_order()
            if n.op == "conv2d" and n.attrs.get("groups", 1) > 1 and n.attrs.get("groups") == g.tensors[n.inputs[0]].shape[-1]]


def _run(path, calib, target, board, out, bits):
    from mcuforge.api import compile_model, simulate
    res = compile_model(path, out, target=target, calib=calib, quiet=True, weight_bits=bits)
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
    names = _depthwise_names(path)
    print(f"{path.name}: {len(names)} depthwise layers")
    print("| core | weights | instructions | vs int8 | depthwise layers' extra vs int8 | depthwise kernels | "
          "before this change | bit-exact |")
    print("|---|---|---|---|---|---|---|---|")
    for c in cores:
        target, board = CORES[c]
        n8, ok8, dw8, _ = _run(path, calib, target, board, work / f"{c}_8", 8)
        print(f"| {c.upper()} | int8 | {n8:,} | 1.00x | | {', '.join(sorted({l['kernel'].replace('mcf_depthwise_conv2d_s8', '') for l in dw8}))} | | {'yes' if ok8 else 'NO'} |", flush=True)
        for bits in (4, 2):
            n, ok, dw, _ = _run(path, calib, target, board, work / f"{c}_{bits}", bits)
            from mcuforge.api import load_model
            wb = {nm.name: (8 if nm.name in names else bits) for nm in load_model(path).topo_order()
                  if nm.op in ("conv2d", "dense")}
            nk, okk, _, _ = _run(path, calib, target, board, work / f"{c}_{bits}_dw8", wb)
            with without_general_variants():
                nb, okb, dwb, _ = _run(path, calib, target, board, work / f"{c}_{bits}_before", bits)
            kinds = {}
            for l in dw:
                k = l["kernel"].replace(f"mcf_depthwise_conv2d_s8_w{bits}", "")
                kinds[k] = kinds.get(k, 0) + 1
            label = "int4" if bits == 4 else "ternary"
            print(f"| {c.upper()} | {label} | {n:,} | {n / n8:.3f}x | {n - nk:+,} ({(n - nk) / n8:+.1%} of int8) | "
                  f"{', '.join(f'{k} x{v}' for k, v in sorted(kinds.items()))} | {nb:,} ({nb / n8:.3f}x; depthwise "
                  f"{nb - nk:+,}) | {'yes' if ok and okk and okb else 'NO'} |", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", default="m4,m55")
    ap.add_argument("--only", default="", help="comma-separated substrings of layer names")
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
    layers = {name: spec for name, spec in DW_LAYERS.items() if not only or any(s in name for s in only)}
    with tempfile.TemporaryDirectory(prefix="mcf_subbyte_dw_") as tmp:
        bench_layers(cores, Path(args.work) if args.work else Path(tmp), layers)


if __name__ == "__main__":
    main()
