"""QFX vs fixed-point PTQ (prints a table; never pass/fail).

On scikit-learn's 8x8 digits (shipped, 1347 train / 450 test images), the TinyResNet of
mcuforge.quant.qfx.zoo (conv, depthwise, 1x1 conv + residual add, max pool, ReLU6 conv, global
average pool, dense):

- float: the network with every quantizer passing values through, trained `--epochs` epochs (and,
         as the fair reference for the fine-tuned rows, `--ft-epochs` more at the fine-tuning rate);
- PTQ:   that float network, binary points from calibration ranges (quant/fixed.py's rule:
         I = floor(log2 max|x|) + 2, F = W - I), weights and activations at W bits;
- QFX:   PTQ's network fine-tuned `--ft-epochs` epochs with trainable binary points (STE);
- QAT-F: the same fine-tuning with the binary points frozen at PTQ's (ablation: what learning F adds);
- K-hot: weights restricted to K = 1, 2, 3 signed powers of two (8-bit grid), projected from the
         float network, then QFX fine-tuning.

Every quantized accuracy is the PyTorch emulation's, and the QFX models are also run through their
QONNX export on mcuforge's fixed golden model (the number the FPGA backends reproduce bit for bit).
Mean over `--seeds` seeds.

    PYTHONPATH=compiler python benchmarks/qfx.py [--bits 8,6,4] [--seeds 2] [--epochs 30] [--ft-epochs 5]
        [--frac-lr 0.05] [--khot 1,2,3]
"""
from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "fpga"))


def train(m, x, y, epochs, lr, seed, frac_lr=None):
    """Adam; binary points (parameters named *frac) get frac_lr (0: frozen), the rest lr."""
    import torch
    named = list(m.named_parameters())
    groups = [{"params": [p for n, p in named if not n.endswith("frac")], "lr": lr}]
    if frac_lr:
        groups.append({"params": [p for n, p in named if n.endswith("frac")], "lr": frac_lr})
    opt = torch.optim.Adam(groups)
    gen = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        m.train()
        for idx in torch.randperm(len(xt), generator=gen).split(64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(xt[idx]), yt[idx]).backward()
            opt.step()
    m.eval()
    return m


def accuracy(m, x, y) -> float:
    import torch
    with torch.no_grad():
        return float((m(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def golden_accuracy(m, x, y) -> float:
    """The QONNX export on mcuforge's fixed golden model (what hls / rtl reproduce)."""
    import torch
    from mcuforge.codegen.fpga.golden import golden_raw
    from mcuforge.codegen.fpga.layout import to_graph_layout
    from mcuforge.codegen.fpga.prepare import prepare_fixed
    from mcuforge.quant import qfx
    with tempfile.TemporaryDirectory() as d:
        path = qfx.export_qonnx(m, torch.from_numpy(x[:1]), Path(d) / "m.onnx")
        g = prepare_fixed(path)
    _, yr = golden_raw(g, to_graph_layout(g, g.inputs[0], x))
    return float((yr.argmax(1) == y).mean())


def main(argv=None):
    import torch
    import fpga_models
    from mcuforge.quant import qfx
    from mcuforge.quant.qfx.zoo import TinyResNet
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bits", default="8,6,4")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--ft-epochs", type=int, default=5)
    ap.add_argument("--frac-lr", type=float, default=0.05, help="learning rate of the binary points")
    ap.add_argument("--khot", default="1,2,3", help="K of K-hot weight runs (weights and activations at 8 bits)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    xtr, ytr, xte, yte = fpga_models.digits()
    bits = [int(b) for b in args.bits.split(",")]
    rows = {b: {"ptq": [], "qfx": [], "qat_f": [], "golden": [], "learned": []} for b in bits}
    ks = [int(k) for k in args.khot.split(",") if k]
    khot = {k: {"ptq": [], "qfx": [], "golden": []} for k in ks}
    floats, floats_ft = [], []
    t0 = time.time()
    for seed in range(args.seeds):
        torch.manual_seed(seed)
        base = qfx.float_mode(TinyResNet(wb=8, ab=8))
        train(base, xtr, ytr, args.epochs, 0.01, seed)
        floats.append(accuracy(base, xte, yte))
        longer = train(copy.deepcopy(base), xtr, ytr, args.ft_epochs, 0.003, seed)  # the same extra epochs
        floats_ft.append(accuracy(longer, xte, yte))
        print(f"[seed {seed}] float {floats[-1]:.3f} ({time.time() - t0:.0f} s)", file=sys.stderr)
        for b in bits:
            m = TinyResNet(wb=b, ab=b)
            m.load_state_dict({k: v for k, v in base.state_dict().items() if "frac" not in k and "max_abs" not in k},
                              strict=False)
            qfx.calibrate(m, torch.from_numpy(xtr[:512]))
            r = rows[b]
            r["ptq"].append(accuracy(m, xte, yte))
            before = qfx.frac_bits(m)
            frozen = copy.deepcopy(m)
            train(m, xtr, ytr, args.ft_epochs, 0.003, seed, frac_lr=args.frac_lr)
            r["qfx"].append(accuracy(m, xte, yte))
            r["golden"].append(golden_accuracy(m, xte, yte))
            after = qfx.frac_bits(m)
            r["learned"].append({k: after[k] - before[k] for k in after if after[k] != before[k]})
            train(frozen, xtr, ytr, args.ft_epochs, 0.003, seed, frac_lr=0)
            r["qat_f"].append(accuracy(frozen, xte, yte))
            print(f"[seed {seed}] {b} bits: PTQ {r['ptq'][-1]:.3f} QFX {r['qfx'][-1]:.3f} (golden "
                  f"{r['golden'][-1]:.3f}) QAT-F {r['qat_f'][-1]:.3f} ({time.time() - t0:.0f} s)", file=sys.stderr)
        for k in ks:
            m = TinyResNet(wb=8, ab=8, khot=k)
            m.load_state_dict({n: v for n, v in base.state_dict().items() if "frac" not in n and "max_abs" not in n},
                              strict=False)
            qfx.calibrate(m, torch.from_numpy(xtr[:512]))
            khot[k]["ptq"].append(accuracy(m, xte, yte))
            train(m, xtr, ytr, args.ft_epochs, 0.003, seed, frac_lr=args.frac_lr)
            khot[k]["qfx"].append(accuracy(m, xte, yte))
            khot[k]["golden"].append(golden_accuracy(m, xte, yte))
            print(f"[seed {seed}] K={k}: projected {khot[k]['ptq'][-1]:.3f} QFX {khot[k]['qfx'][-1]:.3f} "
                  f"({time.time() - t0:.0f} s)", file=sys.stderr)
    print(f"\ndigits 8x8, TinyResNet, mean of {args.seeds} seeds; float {np.mean(floats):.3f} "
          f"(seeds: {', '.join(f'{v:.3f}' for v in floats)})\n")
    print("| bits (W = A) | float | float + fine-tune epochs | fixed PTQ | QFX | QFX on golden | QAT, F frozen |")
    print("|---|---|---|---|---|---|---|")
    for b in bits:
        r = rows[b]
        print(f"| {b} | {np.mean(floats):.3f} | {np.mean(floats_ft):.3f} | {np.mean(r['ptq']):.3f} | {np.mean(r['qfx']):.3f} | "
              f"{np.mean(r['golden']):.3f} | {np.mean(r['qat_f']):.3f} |")
    if ks:
        print("\n| weights (8 bits, activations 8 bits) | projected, no training | QFX | QFX on golden |")
        print("|---|---|---|---|")
        if 8 in rows:
            print(f"| full (any value on the grid) | {np.mean(rows[8]['ptq']):.3f} | {np.mean(rows[8]['qfx']):.3f} | "
                  f"{np.mean(rows[8]['golden']):.3f} |")
        for k in ks:
            print(f"| K = {k} | {np.mean(khot[k]['ptq']):.3f} | {np.mean(khot[k]['qfx']):.3f} | "
                  f"{np.mean(khot[k]['golden']):.3f} |")
    print("\nbinary points moved by QFX (F after - F before, seed 0):")
    for b in bits:
        moved = rows[b]["learned"][0]
        print(f"- {b} bits: " + (", ".join(f"{k} {v:+d}" for k, v in moved.items()) or "none"))


if __name__ == "__main__":
    main()
