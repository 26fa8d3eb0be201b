"""Resize and transposed convolution on Cortex-M4 (mps2-an386 under QEMU): executed instructions
per inference of single-layer int8 TFLite models, portable kernel vs the variant the compiler picks
for the core, each checked byte for byte against tflite-micro (prints a table; never pass/fail).

    PYTHONPATH=compiler python benchmarks/resize_ops.py
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "compiler"))
sys.path.insert(0, str(ROOT / "tests"))

from mcuforge.api import compile_model, simulate  # noqa: E402
from mcuforge.sim.tflm import TflmModel  # noqa: E402
from test_resize_ops import _tfl_resize, _tfl_transpose_conv  # noqa: E402
from tflite_builder import OP  # noqa: E402

CASES = {
    "RESIZE_NEAREST 2x 16x16x4": lambda: _tfl_resize(OP.RESIZE_NEAREST_NEIGHBOR, (1, 16, 16, 4), (32, 32), False, True),
    "RESIZE_NEAREST 2x 16x16x8": lambda: _tfl_resize(OP.RESIZE_NEAREST_NEIGHBOR, (1, 16, 16, 8), (32, 32), False, True),
    "RESIZE_BILINEAR 2x 16x16x16": lambda: _tfl_resize(OP.RESIZE_BILINEAR, (1, 16, 16, 16), (32, 32), False, True),
    "TRANSPOSE_CONV k2s2 16x16x16->8": lambda: _tfl_transpose_conv((1, 16, 16, 16), 8, (2, 2), (2, 2), "VALID", (32, 32)),
    "TRANSPOSE_CONV k3s2 16x16x16->8": lambda: _tfl_transpose_conv((1, 16, 16, 16), 8, (3, 3), (2, 2), "SAME", (32, 32)),
}


def measure(buf: bytes, portable: bool, work: Path):
    (work / "m.tflite").write_bytes(buf)
    res = compile_model(work / "m.tflite", work / "lib", target="cortex-m4", quiet=True, portable_kernels=portable)
    shape = tuple(res.info["inputs"][0]["shape"])
    x = np.random.default_rng(0).integers(-128, 128, (1,) + shape).astype(np.int8)
    y, info = simulate(work / "lib", "mps2-an386", x, quiet=True)
    exact = np.array_equal(y[0].reshape(-1), TflmModel(buf).run(x[0])[0].reshape(-1))
    kernel = [s for s in res.info["runtime_sources"] if "resize" in s or "transpose" in s]
    return info["instructions"], res.info["macs"], kernel[0] if kernel else "?", exact


def main():
    print(f"{'layer':34} {'portable':>10} {'chosen':>10} {'speed-up':>8}  {'MAC/instr':>9}  kernel, tflm-exact")
    for name, make in CASES.items():
        buf = make()
        with tempfile.TemporaryDirectory() as d:
            p, macs, _, ok_p = measure(buf, True, Path(d))
        with tempfile.TemporaryDirectory() as d:
            c, _, kernel, ok_c = measure(buf, False, Path(d))
        mpi = f"{macs / c:.3f}" if macs else "-"
        print(f"{name:34} {p:>10} {c:>10} {p / c:>7.2f}x  {mpi:>9}  {kernel}, {ok_p and ok_c}")


if __name__ == "__main__":
    main()
