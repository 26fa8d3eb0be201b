"""int8 fully connected layers with left-shift channels (multiplier >= 1/2) on QEMU Cortex-M4: executed
instructions (-icount, one inference, the whole run) before (the _fast kernel, as chosen without
codegen/c/variants/dsp_fc_lsh.py) and after (the DSP kernel with the shift folded), golden == QEMU
checked on both. TFLite models (double rounding, tests/test_int8_fc_lsh.py: int8_fc_model) and one
ONNX model quantized here (single rounding: int8_lsh_net). Prints a Markdown table.

    PYTHONPATH=compiler python benchmarks/int8_fc_lsh.py
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "compiler"))
sys.path.insert(0, str(ROOT / "tests"))

from mcuforge.api import compile_model, simulate  # noqa: E402
from mcuforge.codegen.c import kernel_select, variants  # noqa: E402,F401
from mcuforge.codegen.c.variants import dsp_fc_lsh  # noqa: E402

from test_int8_fc_lsh import _tfl_inputs, int8_fc_model, int8_lsh_net  # noqa: E402

KERNEL = "mcf_fully_connected_s8"
TFL = [(16, 64, 32), (8, 256, 64), (49, 128, 64), (1, 256, 64)]      # rows, K, N


def run(model, x, work: Path, before: bool, calib=None, kernels=(KERNEL,), module=dsp_fc_lsh, op="dense",
        speed_first=False):
    """(kernels of the `op` layers, QEMU M4 instructions, MACs, golden == QEMU); before: compiled
    without the variants whose prepare `module` defines (benchmarks/int8_conv_lsh.py: dsp_conv_lsh)."""
    saved = {k: kernel_select.VARIANTS[k] for k in kernels}
    if before:
        for k in kernels:
            kernel_select.VARIANTS[k] = [v for v in saved[k] if getattr(v.prepare, "__module__", "") != module.__name__]
    try:
        res = compile_model(model, work, target="cortex-m4", calib=calib, quiet=True, speed_first=speed_first)
    finally:
        kernel_select.VARIANTS.update(saved)
    kern = [l["kernel"] for l in res.info["layers"] if l["op"] == op]
    y, info = simulate(work, board="mps2-an386", x=x, quiet=True)
    ref, _ = simulate(work, board="reference", x=x, quiet=True)
    ys, refs = (y, ref) if isinstance(y, list) else ([y], [ref])
    exact = all(np.array_equal(a, b) for a, b in zip(ys, refs))
    return kern, info["instructions"], res.info["macs"], exact


def main():
    print("| layer | rounding | before: kernel | instructions | after: kernel | instructions | MACs/instr after | speed-up | bit-exact |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = []
        for rows, k, n in TFL:
            path = tmp / f"fc{rows}_{k}_{n}.tflite"
            path.write_bytes(int8_fc_model(rows, k, n))
            cases.append((f"TFLite FC {rows}x{k}->{n}", "double", path, _tfl_inputs((rows, k), n=1), None))
        model, calib, x = int8_lsh_net(tmp / "m.onnx")
        cases.append(("ONNX MatMul 1x6x48->10 + Gemm 6x48->9", "single", model, [xi[:1] for xi in x], calib))
        for name, mode, model, x, calib in cases:
            kb, nb, macs, eb = run(model, x, tmp / "before", True, calib)
            ka, na, _, ea = run(model, x, tmp / "after", False, calib)
            kb = " + ".join(sorted(set(k.replace("mcf_", "") for k in kb)))
            ka = " + ".join(sorted(set(k.replace("mcf_", "") for k in ka)))
            print(f"| {name} | {mode} | {kb} | {nb:,} | {ka} | {na:,} | {macs / na:.2f} | {nb / na:.2f}x | "
                  f"{'yes' if eb and ea else 'NO'} |")


if __name__ == "__main__":
    main()
