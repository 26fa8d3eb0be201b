"""Sub-byte and mixed-precision weights on the real-model corpus (tests/corpus/): every network
through `--weight-bits 4`, `--weight-bits 2` and `--weight-bits mixed --flash-budget 0.5x int8`.

    PYTHONPATH=compiler python benchmarks/subbyte_corpus.py [--target cortex-m4] [--modes w4,w2,mixed]
        [--exporters ts,dynamo,tflite] [--qemu] [--out table.md] [names...]

ONNX fixtures (both torch exporters) are quantized here from the float model, calibrated on the
fixture's calib.npy; the Keras .tflite fixtures are TensorFlow's own int8 conversions, whose int8
weights are narrowed (quant/subbyte.py: narrow_int8_graph). Per (network, exporter, mode): whether
it compiles (else the one-line error), whether the golden model equals host C byte for byte on the
fixture's test inputs (random int8 inputs for .tflite), the constant bytes of the weight layers
(conv / depthwise / dense: packed weights + bias + multiplier + shift, as the C library holds
them) against the same target's int8 build and against the portable int8 storage (1 byte a
weight + 12 a channel), the widths the layers got and the kernels they run
(tests/corpus/subbyte.py does the work).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "compiler"))
sys.path.insert(0, str(REPO / "tests"))

sys.path.insert(0, str(REPO / "examples"))

from corpus.subbyte import HEADER, MODES, accuracy_rows, fmt_row, sweep  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="networks (default: all fixtures)")
    ap.add_argument("--target", default="cortex-m4")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--exporters", default="ts,dynamo,tflite")
    ap.add_argument("--qemu", action="store_true", help="also run on the target's QEMU board")
    ap.add_argument("-n", type=int, default=2, help="test inputs per case")
    ap.add_argument("--n-probe", type=int, default=None, help="Hutchinson probes of `mixed` (MixedOptions.n_probe)")
    ap.add_argument("--out", help="also write the table to this Markdown file")
    ap.add_argument("--accuracy", action="store_true",
                    help="only the accuracy table: the corpus ResNet trained on MNIST-5k, int8 / w4 / w2 / mixed")
    args = ap.parse_args()
    if args.accuracy:
        print("| network | mode | accuracy (1,000 held-out digits, host C) | weight-layer B | x int8 | x portable int8 "
              "| layers at 8 / 4 / 2 bits |\n|---|---|---:|---:|---:|---:|---|", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            rows = accuracy_rows(Path(tmp), target=args.target, log=lambda s: print(s, flush=True),
                                 modes=("int8",) + tuple(args.modes.split(",")))
        print(f"\nfloat (torch) accuracy {rows[0]['accuracy']:.3f}")
        return
    boards = ("host",)
    if args.qemu:
        from mcuforge.quant.mixed import core_board
        from mcuforge.targets import load_core
        boards += (core_board(load_core(args.target)),)
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        rows = sweep(args.names, tuple(args.exporters.split(",")), tuple(args.modes.split(",")), args.target, args.n,
                     boards, Path(tmp), log=lambda s: print(s, flush=True),
                     mixed_opts={"n_probe": args.n_probe} if args.n_probe else None)
    ok = [r for r in rows if r["mode"] != "int8"]
    print(f"\n{sum(r['ok'] for r in ok)} of {len(ok)} sub-byte / mixed cases compile; "
          f"{sum(1 for r in ok if r['ok'] and all(r['exact'].values()))} golden == host C")
    if args.out:
        Path(args.out).write_text(HEADER + "\n" + "\n".join(fmt_row(r) for r in rows) + "\n")


if __name__ == "__main__":
    main()
