"""The real-model corpus (tests/corpus/): per network and exporter, the README table.

    PYTHONPATH=compiler python benchmarks/corpus.py [--no-qemu] [--out table.md] [names...]

Columns: distinct op types in the exported file; float32 host C vs onnxruntime (max absolute error,
and relative to the largest output); int8 agreement: for ONNX the share of outputs within 1 LSB of
onnxruntime running its own QDQ quantization of the model (calibrated on the fixture's samples,
no graph optimizations), for TFLite whether golden model, host C, QEMU and tflite-micro are
byte-identical; arena bytes of the int8 build; executed instructions per inference of the int8
build on QEMU Cortex-M4 (mps2-an386). A network that fails prints its one-line error instead.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "compiler"))
sys.path.insert(0, str(REPO / "tests"))

from corpus import check  # noqa: E402
from corpus.triage import fixtures  # noqa: E402

HEADER = ("| network | exporter | ops | float32 max error (rel) | int8 agreement | arena B | M4 instructions |\n"
          "|---|---|---:|---|---|---:|---:|")


def _fmt_instr(n):
    return "-" if n is None else f"{n / 1e6:.2f} M" if n >= 1e5 else f"{n / 1e3:.1f} k"


def onnx_row(net, exp, tmp, board, requant=None):
    f = check.onnx_float(net, exp, tmp)
    q = check.onnx_int8(net, exp, tmp, board=board, requant=requant)
    agree = f"{100 * q['within1']:.1f} % within 1 LSB ({100 * q['exact']:.1f} % exact)"
    return (f"| {net} | {exp} | {len(f['ops'])} | {f['max_err']:.1e} ({f['rel_err']:.1e}) | {agree} | "
            f"{q['arena']} | {_fmt_instr(q['instructions'])} |")


def tflite_row(net, tmp, board):
    boards = ("host",) + ((board,) if board != "host" else ())
    r = check.tflite_int8(net, tmp, boards)
    ok = all(r["byte_exact"].values())
    agree = ("byte-exact (golden, host" + (", QEMU" if board != "host" else "") + ", tflite-micro)" if ok
             else "DIFFERS: " + ", ".join(k for k, v in r["byte_exact"].items() if not v))
    return f"| {net} | tflite | {len(r['ops'])} | - | {agree} | {r['arena']} | {_fmt_instr(r['instructions'])} |"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="networks (default: all fixtures)")
    ap.add_argument("--no-qemu", action="store_true", help="host C only (no instruction counts)")
    ap.add_argument("--out", help="also write the table to this Markdown file")
    ap.add_argument("--requant", default=None, choices=["double", "single", "ort"],
                    help="int8 rounding of the ONNX rows (compile_model(requant=...); default: the compiler's, "
                         "single; .tflite rows keep TFLite's)")
    args = ap.parse_args()
    board = "host" if args.no_qemu else "mps2-an386"
    lines = [HEADER]
    print(HEADER, flush=True)
    for net, exp, _ in fixtures():
        if args.names and net not in args.names:
            continue
        if net == "keras_unet_upsampling2d":  # tflite-micro has no TILE kernel: no oracle to compare with
            continue
        t0 = time.time()
        with tempfile.TemporaryDirectory() as tmp:
            try:
                row = tflite_row(net, Path(tmp), board) if exp == "tflite" else onnx_row(net, exp, Path(tmp), board, args.requant)
            except Exception as e:  # a failing network is a row of the table, not the end of it
                msg = str(e).splitlines()[0] if str(e) else ""
                row = f"| {net} | {exp} | | FAILS: {type(e).__name__}: {msg[:160].replace('|', '/')} | | | |"
        print(row, f"<!-- {time.time() - t0:.0f} s -->", flush=True)
        lines.append(row)
        if args.out:
            Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
