"""Small CNNs of three families trained on scikit-learn's 8x8 digits (shipped with the package):
a MobileNet-style (depthwise separable, ReLU6), a ShuffleNet-style (grouped 1x1 convolutions
with channel shuffle, residual units) and a ResNet-style (basic blocks) network. Used by
benchmarks/tune.py and the search tests; exported to ONNX with BatchNorm kept as nodes, so that
ZeroQ (mcuforge.search.zeroq) finds the BatchNorm statistics.

    python examples/digits_cnns.py --out build/digits
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ARCHS = ("mobilenet", "shufflenet", "resnet")


def load_digits_split(seed: int = 0, n_train: int = 1000):
    """(x_train, y_train, x_test, y_test): float32 NCHW (N, 1, 8, 8) in [0, 1], int labels;
    n_train training images (1,000) and the other 1,797 - n_train (797) as test images, a fixed
    seeded split (the same permutation for every n_train)."""
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None]
    y = d.target.astype(np.int64)
    idx = np.random.default_rng(seed).permutation(len(x))
    tr, te = idx[:n_train], idx[n_train:]
    return x[tr], y[tr], x[te], y[te]


def build(arch: str, width: int = 16):
    import torch
    import torch.nn as nn

    def cbr(cin, cout, k=3, s=1, groups=1, act=nn.ReLU):
        return [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout), act()]

    w = width
    if arch == "mobilenet":
        layers = cbr(1, w, act=nn.ReLU6)
        for cin, cout, s in [(w, 2 * w, 1), (2 * w, 4 * w, 2), (4 * w, 4 * w, 1)]:
            layers += cbr(cin, cin, 3, s, groups=cin, act=nn.ReLU6) + cbr(cin, cout, 1, act=nn.ReLU6)
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * w, 10))

    class Shuffle(nn.Module):
        """ShuffleNet v1 unit: grouped 1x1, channel shuffle, depthwise 3x3, grouped 1x1, residual."""
        def __init__(self, c, g=4):
            super().__init__()
            self.g, self.c = g, c
            self.a = nn.Sequential(*cbr(c, c, 1, groups=g))
            self.b = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=False), nn.BatchNorm2d(c),
                                   nn.Conv2d(c, c, 1, groups=g, bias=False), nn.BatchNorm2d(c))
            self.relu = nn.ReLU()

        def forward(self, x):
            y = self.a(x)
            n, c, h, w_ = y.shape
            y = y.reshape(n, self.g, c // self.g, h, w_).transpose(1, 2).reshape(n, c, h, w_)
            return self.relu(x + self.b(y))

    class Basic(nn.Module):
        def __init__(self, cin, cout, s):
            super().__init__()
            self.body = nn.Sequential(*cbr(cin, cout, 3, s), nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
                                      nn.BatchNorm2d(cout))
            self.skip = nn.Identity() if s == 1 and cin == cout else \
                nn.Sequential(nn.Conv2d(cin, cout, 1, s, bias=False), nn.BatchNorm2d(cout))
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.body(x) + self.skip(x))

    if arch == "shufflenet":
        return nn.Sequential(*cbr(1, 2 * w), Shuffle(2 * w), *cbr(2 * w, 2 * w, 3, 2, groups=2 * w),
                             Shuffle(2 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * w, 10))
    if arch == "resnet":
        return nn.Sequential(*cbr(1, w), Basic(w, w, 1), Basic(w, 2 * w, 2), nn.AdaptiveAvgPool2d(1),
                             nn.Flatten(), nn.Linear(2 * w, 10))
    raise ValueError(f"unknown architecture {arch!r}: one of {ARCHS}")


def train(arch: str, x, y, epochs: int = 30, seed: int = 0, width: int = 16):
    import torch
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    model = build(arch, width)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(xt), generator=gen).split(50):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
        sched.step()
    return model.eval()


def export_onnx(model, path: Path, shape=(1, 1, 8, 8)):
    """ONNX with BatchNormalization nodes kept (no constant folding), one file."""
    import torch
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, torch.zeros(*shape), str(path), dynamo=False, opset_version=13,
                      do_constant_folding=False, input_names=["image"], output_names=["logits"])
    return path


def float_accuracy(model, x, y) -> float:
    import torch
    with torch.no_grad():
        return float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def trained_onnx(arch: str, out: Path, epochs: int = 30, seed: int = 0, width: int = 16, n_train: int = 1000):
    """Train once and keep <arch>.onnx in `out` (reused when present); returns (path, float acc, data)."""
    data = load_digits_split(n_train=n_train)
    tag = "" if n_train == 1000 else f"_n{n_train}"
    path = Path(out) / f"{arch}_w{width}_e{epochs}_s{seed}{tag}.onnx"
    acc_file = path.with_suffix(".acc")
    if not path.is_file():
        model = train(arch, data[0], data[1], epochs, seed, width)
        export_onnx(model, path)
        acc_file.write_text(str(float_accuracy(model, data[2], data[3])))
    return path, float(acc_file.read_text()), data


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "build" / "digits"))
    ap.add_argument("--epochs", type=int, default=30)
    args = ap.parse_args(argv)
    for arch in ARCHS:
        path, acc, _ = trained_onnx(arch, Path(args.out), args.epochs)
        print(f"{arch:>10}: float accuracy {acc:.4f} on the 797 test digits -> {path}")


if __name__ == "__main__":
    main()
