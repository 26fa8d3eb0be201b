"""A small QFX network trained for a few steps on the 8x8 digits, shared by the QFX tests."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent / "fpga"))
import fpga_models  # noqa: E402


def trained_qfx(wb=4, ab=6, rounding="rne", steps=12, seed=0, khot=None):
    """TinyResNet: calibrated binary points (fixed PTQ), then `steps` QFX steps (weights and binary
    points move). Returns (model, x_test, y_test)."""
    import torch
    from mcuforge.quant import qfx
    from mcuforge.quant.qfx.zoo import TinyResNet
    xtr, ytr, xte, yte = fpga_models.digits()
    torch.set_num_threads(1)  # a few small steps: threads only contend on a shared machine
    torch.manual_seed(seed)
    m = TinyResNet(wb=wb, ab=ab, rounding=rounding, khot=khot)
    qfx.calibrate(m, torch.from_numpy(xtr[:256]))
    opt = torch.optim.Adam(m.parameters(), lr=0.02)
    x, y = torch.from_numpy(xtr), torch.from_numpy(ytr)
    gen = torch.Generator().manual_seed(seed)
    for idx in torch.randperm(len(x), generator=gen)[:64 * steps].split(64):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(m(x[idx]), y[idx]).backward()
        opt.step()
    m.eval()
    return m, xte, yte


def trained_mixnet(wb=4, ab=6, float_steps=24, steps=6, seed=0):
    """MixNet (a BatchNorm kept as its own layer, hardswish, concat): `float_steps` float steps,
    calibrated binary points, then `steps` QFX steps. Returns (model, x_test, y_test)."""
    import torch
    from mcuforge.quant import qfx
    from mcuforge.quant.qfx.zoo import MixNet
    xtr, ytr, xte, yte = fpga_models.digits()
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    m = MixNet(wb=wb, ab=ab)
    x, y = torch.from_numpy(xtr), torch.from_numpy(ytr)
    gen = torch.Generator().manual_seed(seed)

    def train(n, lr):
        opt = torch.optim.Adam(m.parameters(), lr=lr)
        for idx in torch.randint(0, len(x), (64 * n,), generator=gen).split(64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(x[idx]), y[idx]).backward()
            opt.step()

    qfx.float_mode(m)
    train(float_steps, 0.02)
    qfx.calibrate(m, x[:256])
    train(steps, 0.005)
    m.eval()
    return m, xte, yte


def torch_outputs(m, x: np.ndarray) -> np.ndarray:
    import torch
    with torch.no_grad():
        return m(torch.from_numpy(x)).numpy()
