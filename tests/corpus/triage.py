"""Try every corpus fixture through `compile_model` (float32 and int8) and list what fails.

    cd tests && PYTHONPATH=../compiler python -m corpus.triage [--out FILE.md] [names...]

Prints one line per (network, exporter, mode): ok with the seconds it took, or the one-line error.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixtures():
    """[(network, exporter, path)] of the committed ONNX and TFLite fixtures."""
    out = []
    for p in sorted(FIXTURES.glob("*.onnx")):
        net, exp = p.name[:-len(".onnx")].rsplit(".", 1)
        out.append((net, exp, p))
    for p in sorted(FIXTURES.glob("*.tflite")):
        out.append((p.stem, "tflite", p))
    return out


def try_compile(path: Path, quant: str, calib, tmp: Path):
    from mcuforge.api import compile_model
    from mcuforge.errors import McuforgeError
    t0 = time.time()
    try:
        compile_model(path, tmp / f"{path.name}.{quant}", quant=quant, calib=calib, quiet=True)
        return None, time.time() - t0
    except McuforgeError as e:
        return f"{type(e).__name__}: {e}", time.time() - t0
    except Exception as e:  # a crash is a bug to report, with its type
        return f"CRASH {type(e).__name__}: {e}", time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for net, exp, path in fixtures():
            if args.names and net not in args.names:
                continue
            modes = ("int8",) if exp == "tflite" else ("float32", "int8")
            for quant in modes:
                calib = None
                if quant == "int8" and exp != "tflite":
                    calib = np.load(FIXTURES / f"{net}.calib.npy")
                err, dt = try_compile(path, quant, calib, Path(tmp))
                rows.append((net, exp, quant, err, dt))
                print(f"{net:20s} {exp:7s} {quant:8s} {'ok' if err is None else err.splitlines()[0][:200]}  ({dt:.1f} s)",
                      flush=True)
    if args.out:
        lines = ["# corpus compile failures", "", f"generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
                 "by tests/corpus/triage.py (branch wt-corpus, after the last `git merge main`)", "",
                 "| network | exporter | mode | error |", "|---|---|---|---|"]
        for net, exp, quant, err, _ in rows:
            if err:
                lines.append(f"| {net} | {exp} | {quant} | {err.splitlines()[0].replace('|', '/')[:300]} |")
        ok = sum(1 for r in rows if r[3] is None)
        lines += ["", f"{ok} of {len(rows)} compiles succeed."]
        Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
