"""Our own int8 PTQ of the MLPerf Tiny float models, compared with the float model (the oracle)
and, as a peer, with the int8 model that TFLite's converter produced from the same network.

    PYTHONPATH=compiler python benchmarks/ptq_float_models.py [--calib 64] [--test 200]

Data, plainly: no CIFAR-10, VWW or ToyCar data ships offline here, so inputs are SYNTHETIC:
smooth random colour images (low-frequency noise plus gradients, in the models' input range:
0..255 for ic_resnet8, 0..1 for vww) and, for the autoencoder, log-mel-like vectors drawn around
the mean/range the int8 model's input quantization implies. Calibration and test sets are
disjoint draws. Numbers say how faithfully PTQ tracks the float model on such inputs, not
accuracy on the real tasks.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "compiler"))

from mcuforge.api import prepare_graph  # noqa: E402
from mcuforge.frontend.tflite import load_tflite  # noqa: E402
from mcuforge.reference.arith import round_half_away  # noqa: E402
from mcuforge.reference.executor import Executor  # noqa: E402

DIR = Path(os.environ.get("MCUFORGE_MLPERF_TINY", REPO.parent / "shared/models/mlperf-tiny"))


def smooth_images(n, hw, scale, rng):
    h = w = hw
    out = np.empty((n, h, w, 3), np.float32)
    yy, xx = np.mgrid[0:h, 0:w] / hw
    for i in range(n):
        coarse = rng.uniform(0, 1, (4, 4, 3))
        img = np.kron(coarse, np.ones((h // 4, w // 4, 1)))
        for _ in range(2):  # box blur
            img = (img + np.roll(img, 1, 0) + np.roll(img, -1, 0) + np.roll(img, 1, 1) + np.roll(img, -1, 1)) / 5
        grad = rng.uniform(-0.3, 0.3, 3) * (yy[..., None] - 0.5) + rng.uniform(-0.3, 0.3, 3) * (xx[..., None] - 0.5)
        img = np.clip(img + grad + rng.normal(0, 0.03, img.shape), 0, 1)
        out[i] = img * scale
    return out


def fcae_inputs(n, rng):
    g = load_tflite(DIR / "ad_fcae_int8.tflite")
    iq = g.tensors[g.inputs[0]].quant
    lo, hi = (-128 - iq.zp) * iq.s, (127 - iq.zp) * iq.s
    base = rng.uniform(lo * 0.7, hi * 0.5, (n, 1, 1))
    return (base + rng.normal(0, (hi - lo) * 0.08, (n, 1, 640))).astype(np.float32).reshape(n, 640)


def run_float(g, xs):
    ex = Executor(g)
    return np.stack([ex.run({g.inputs[0]: x[None]})[g.outputs[0]][0] for x in xs])


def run_int8(g, xs):
    ex = Executor(g)
    iq, oq = g.tensors[g.inputs[0]].quant, g.tensors[g.outputs[0]].quant
    ys = []
    for x in xs:
        q = np.clip(round_half_away(x[None] / iq.s) + iq.zp, -128, 127).astype(np.int8)
        y = ex.run({g.inputs[0]: q})[g.outputs[0]][0]
        ys.append((y.astype(np.float32) - oq.zp) * oq.s)
    return np.stack(ys)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calib", type=int, default=64)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--method", default="minmax")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    data = {
        "ic_resnet8": lambda n: smooth_images(n, 32, 255.0, rng),
        "vww_mbv1_96": lambda n: smooth_images(n, 96, 1.0, rng),
        "ad_fcae": lambda n: fcae_inputs(n, rng),
    }
    print(f"| model | calib / test inputs | ours vs float | TFLite int8 vs float |")
    print("|---|---|---|---|")
    for name, make in data.items():
        calib, test = make(args.calib), make(args.test)
        f = load_tflite(DIR / f"{name}_float.tflite")
        ours, _ = prepare_graph(DIR / f"{name}_float.tflite", quant="int8", calib=calib,
                                calib_method=args.method, quiet=True)
        peer = load_tflite(DIR / f"{name}_int8.tflite")
        yf, yo, yp = run_float(f, test), run_int8(ours, test), run_int8(peer, test)
        if name == "ad_fcae":
            def rel(y):  # reconstruction error relative to the float model's own output
                return float(np.sqrt(np.mean((y - yf) ** 2)) / np.sqrt(np.mean(yf ** 2)))
            mse_f = float(np.mean((yf - test) ** 2))
            cmp_o = f"RMS diff {rel(yo):.3%} of output RMS; recon. MSE {np.mean((yo - test) ** 2):.3f} (float {mse_f:.3f})"
            cmp_p = f"RMS diff {rel(yp):.3%}; recon. MSE {np.mean((yp - test) ** 2):.3f}"
        else:
            top = yf.argmax(-1)
            share = np.bincount(top).max() / len(top)  # a trivial model would agree this often
            cmp_o = f"top-1 agreement {np.mean(yo.argmax(-1) == top):.1%} (float's commonest class: {share:.0%})"
            cmp_p = f"top-1 agreement {np.mean(yp.argmax(-1) == top):.1%}"
        print(f"| {name} | {args.calib} / {args.test} synthetic | {cmp_o} | {cmp_p} |", flush=True)


if __name__ == "__main__":
    main()
