"""Sub-byte and mixed-precision weights on the real-model corpus (tests/corpus/): every network
through `--weight-bits 4`, `--weight-bits 2` and `--weight-bits mixed --flash-budget 0.5x int8`.

    PYTHONPATH=compiler python benchmarks/subbyte_corpus.py [--target cortex-m4] [--modes w4,w2,mixed]
        [--exporters ts,dynamo,tflite] [--qemu] [--out table.md] [names...]

ONNX fixtures (both torch exporters) are quantized here from the float model, calibrated on the
fixture's calib.npy; the Keras .tflite fixtures are TensorFlow's own int8 conversions, whose int8
weights are narrowed (quant/subbyte.py: narrow_int8_graph). Per (network, exporter, mode):
whether it compiles (else the one-line error), whether the golden model equals host C byte for
byte on the fixture's test inputs (random int8 inputs for .tflite), the constant bytes of the
weight layers (conv / depthwise / dense: packed weights + bias + multiplier + shift, as the C
library holds them) against the same target's int8 build, the widths the layers got and the
kernels they run. With --labels, the accuracy of int8 and of each mode on the labelled data of
tests/test_corpus_accuracy.py is printed too (see `accuracy_rows`).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "compiler"))
sys.path.insert(0, str(REPO / "tests"))

from corpus import check  # noqa: E402
from corpus.triage import fixtures  # noqa: E402

MODES = ("w4", "w2", "mixed")
WEIGHT_LAYER_OPS = ("conv2d", "dense", "conv_transpose2d")


def layer_bytes(info: dict) -> int:
    """Constant bytes of the weight layers (the ratio's measure); each layer once."""
    seen, total = set(), 0
    for r in info["layers"]:
        if r["op"] in WEIGHT_LAYER_OPS and r["name"] not in seen:
            seen.add(r["name"])
            total += r["weight_bytes"]
    return total


def portable_int8_bytes(g) -> int:
    """The portable int8 storage of g's weight layers: one byte a weight + 12 bytes a output channel
    (int32 bias, multiplier and shift), the harder bar of docs/subbyte.md's flash table."""
    total = 0
    for n in g.topo_order():
        if n.op in WEIGHT_LAYER_OPS and len(n.inputs) > 1:
            w = g.tensors[n.inputs[1]]
            total += int(np.prod(w.shape)) + 12 * int(g.tensors[n.outputs[0]].shape[-1])
    return total


def kernels(info: dict) -> dict:
    """{kernel: number of weight layers running it}."""
    return dict(Counter(r["kernel"] for r in info["layers"] if r["op"] in WEIGHT_LAYER_OPS))


def widths(info: dict) -> str:
    """'8:n 4:n 2:n' over the weight layers."""
    c = Counter(int(b) for b in info["weight_bits"].values())
    n8 = sum(1 for r in info["layers"] if r["op"] in WEIGHT_LAYER_OPS) - c[4] - c[2] - c[8]
    c[8] += max(n8, 0)
    return " ".join(f"{b}:{c[b]}" for b in (8, 4, 2) if c[b])


def _inputs(net: str, exporter: str, out_dir: Path, n: int):
    if exporter == "tflite":
        from mcuforge.api import read_info
        io = read_info(out_dir)["inputs"][0]
        user = tuple(io["shape"][i] for i in np.argsort(io["perm"])) if io["perm"] else tuple(io["shape"])
        return np.random.default_rng(0).integers(-128, 128, (n,) + user, dtype=np.int8)
    return check.samples(net)[1][:n]


def compile_case(net: str, exporter: str, mode: str, tmp: Path, target: str = "cortex-m4",
                 int8_bytes: int | None = None, mixed_opts: dict | None = None):
    """compile_model for one case; mode 'int8', 'w4', 'w2' or 'mixed' (flash budget: half of
    int8_bytes, the int8 build's weights_bytes). Returns the CompileResult."""
    from mcuforge.api import compile_model
    from mcuforge.quant.mixed import MixedOptions
    path = check.tflite_path(net) if exporter == "tflite" else check.onnx_path(net, exporter)
    calib = None if exporter == "tflite" else check.samples(net)[0]
    kw = {}
    if mode in ("w4", "w2"):
        kw["weight_bits"] = int(mode[1])
    elif mode == "mixed":
        kw["weight_bits"] = "mixed"
        kw["mixed"] = MixedOptions(flash_budget=int(int8_bytes) // 2 if int8_bytes else None, **(mixed_opts or {}))
    return compile_model(path, tmp / f"{net}.{exporter}.{target}.{mode}", target=target, quant="int8", calib=calib,
                         quiet=True, **kw)


def run_case(net: str, exporter: str, mode: str, tmp: Path, target: str = "cortex-m4", int8_info: dict | None = None,
             n: int = 2, boards=("host",), mixed_opts: dict | None = None) -> dict:
    """One sweep row: {'ok', 'error', 'exact' {board: bool}, 'bytes', 'int8_bytes', 'ratio', 'widths',
    'kernels', 'seconds', 'instructions', 'out_dir'}. A McuforgeError is a clean refusal; any
    other exception is reported as a CRASH with its type."""
    from mcuforge.api import simulate
    from mcuforge.errors import McuforgeError
    t0 = time.time()
    row = {"net": net, "exporter": exporter, "mode": mode, "target": target, "ok": False, "error": None}
    try:
        res = compile_case(net, exporter, mode, tmp, target,
                           int8_info["weights_bytes"] if int8_info else None, mixed_opts)
    except McuforgeError as e:
        row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0]}"
    except Exception as e:  # a crash is a compiler bug: report it with its type
        row["error"] = f"CRASH {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    row["seconds"] = time.time() - t0
    if row["error"]:
        return row
    info = res.info
    row.update(ok=True, out_dir=res.out_dir, bytes=layer_bytes(info), all_bytes=info["weights_bytes"],
               widths=widths(info), kernels=kernels(info), info=info)
    if int8_info is not None:
        row["int8_bytes"] = layer_bytes(int8_info)
        row["ratio"] = row["bytes"] / max(row["int8_bytes"], 1)
        row["portable_ratio"] = row["bytes"] / max(int8_info["portable_int8_bytes"], 1)
    else:
        info["portable_int8_bytes"] = portable_int8_bytes(res.graph)
    x = _inputs(net, exporter, res.out_dir, n)
    gold = check._as_list(simulate(res.out_dir, "reference", x, quiet=True)[0])
    row["exact"], row["instructions"] = {}, None
    for b in boards:
        try:
            y, sinfo = simulate(res.out_dir, b, x, quiet=True)
        except Exception as e:  # noqa: BLE001  a build / run failure of the generated C
            row["exact"][b] = False
            row["error"] = f"{b}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            continue
        y = check._as_list(y)
        row["exact"][b] = all(np.array_equal(np.asarray(a).reshape(np.shape(g)), g) for a, g in zip(y, gold))
        if b.startswith("mps"):
            row["instructions"] = sinfo.get("instructions")
    row["seconds"] = time.time() - t0
    return row


def sweep(names=(), exporters=("ts", "dynamo", "tflite"), modes=MODES, target="cortex-m4", n=2, boards=("host",),
          tmp: Path | None = None, log=print, mixed_opts: dict | None = None):
    """Every selected (network, exporter) through int8 (for the reference bytes) and each mode."""
    rows = []
    for net, exp, _ in fixtures():
        if (names and net not in names) or exp not in exporters or net.endswith("_int16") or net == "mix16_int16" \
                or net == "tf_int4_qat":
            continue
        base = run_case(net, exp, "int8", tmp, target, None, n, boards)
        rows.append(base)
        log(fmt_row(base))
        for mode in modes:
            r = run_case(net, exp, mode, tmp, target, base.get("info"), n, boards, mixed_opts)
            rows.append(r)
            log(fmt_row(r))
    return rows


HEADER = ("| network | exporter | mode | compiles | golden == host C | weight-layer B | x int8 | x portable int8 "
          "| layers at 8 / 4 / 2 bits | kernels |\n|---|---|---|---|---|---:|---:|---:|---|---|")


def _short_kernel(k: str) -> str:
    return k.replace("mcf_", "").replace("_conv2d_s8", "").replace("fully_connected_s8", "fc").replace("depthwise", "dw")


def fmt_row(r: dict) -> str:
    if not r["ok"]:
        return f"| {r['net']} | {r['exporter']} | {r['mode']} | no: {r['error'][:160]} | - | - | - | - | - | - |"
    ex = r.get("exact") or {}
    exact = "yes" if ex and all(ex.values()) else "NO (" + ", ".join(b for b, v in ex.items() if not v) + ")"
    ratio = f"{r['ratio']:.3f}" if "ratio" in r else "1"
    pratio = f"{r['portable_ratio']:.3f}" if "portable_ratio" in r else \
        f"{r['bytes'] / max(r['info']['portable_int8_bytes'], 1):.3f}"
    ks = ", ".join(f"{_short_kernel(k)} x{c}" for k, c in sorted(r["kernels"].items()))
    return (f"| {r['net']} | {r['exporter']} | {r['mode']} | yes ({r['seconds']:.0f} s) | {exact} | {r['bytes']:,} | "
            f"{ratio} | {pratio} | {r['widths']} | {ks} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="networks (default: all fixtures)")
    ap.add_argument("--target", default="cortex-m4")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--exporters", default="ts,dynamo,tflite")
    ap.add_argument("--qemu", action="store_true", help="also run on the target's QEMU board")
    ap.add_argument("-n", type=int, default=2, help="test inputs per case")
    ap.add_argument("--out", help="also write the table to this Markdown file")
    args = ap.parse_args()
    boards = ("host",)
    if args.qemu:
        from mcuforge.targets import load_core
        boards += (load_core(args.target).board,)
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        rows = sweep(args.names, tuple(args.exporters.split(",")), tuple(args.modes.split(",")), args.target, args.n,
                     boards, Path(tmp), log=lambda s: print(s, flush=True))
    ok = [r for r in rows if r["mode"] != "int8"]
    print(f"\n{sum(r['ok'] for r in ok)} of {len(ok)} sub-byte / mixed cases compile; "
          f"{sum(1 for r in ok if r['ok'] and all(r['exact'].values()))} golden == host C")
    if args.out:
        Path(args.out).write_text(HEADER + "\n" + "\n".join(fmt_row(r) for r in rows) + "\n")


if __name__ == "__main__":
    main()
