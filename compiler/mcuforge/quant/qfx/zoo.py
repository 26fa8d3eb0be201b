"""Small QFX networks for 8x8 or 28x28 grey images: what the tests and benchmarks/qfx.py train."""
from __future__ import annotations

import torch.nn as nn

from . import layers as L


class TinyResNet(nn.Module):
    """conv -> depthwise -> 1x1 conv + residual add -> max pool -> conv (ReLU6) -> global average
    pool -> dense: every QFX layer kind. `wb` weight bits, `ab` activation bits, `khot` K of K-hot
    weights (None: any value on the grid)."""

    def __init__(self, wb=8, ab=8, classes=10, width=8, rounding="rne", in_bits=8, khot=None):
        super().__init__()
        self.inp = L.QfxInput(in_bits, rounding)
        self.conv1 = L.QfxConv2d(1, width, 3, padding=1, weight_bits=wb, act_bits=ab, act="relu", rounding=rounding,
                                 khot=khot)
        self.dw = L.QfxConv2d(width, width, 3, padding=1, groups=width, weight_bits=wb, act_bits=ab, act="relu",
                              rounding=rounding, khot=khot)
        self.pw = L.QfxConv2d(width, width, 1, weight_bits=wb, act_bits=ab, rounding=rounding, khot=khot)
        self.add = L.QfxAdd(ab, act="relu", rounding=rounding)
        self.pool = L.QfxMaxPool(2)
        self.conv2 = L.QfxConv2d(width, 2 * width, 3, padding=1, weight_bits=wb, act_bits=ab, act="relu6",
                                 rounding=rounding, khot=khot)
        self.gap = L.QfxAvgPool()
        self.flat = L.QfxFlatten()
        self.fc = L.QfxLinear(2 * width, classes, weight_bits=wb, act_bits=max(ab, 8), rounding=rounding,
                            khot=khot)

    def forward(self, x):
        a = self.conv1(self.inp(x))
        b = self.pw(self.dw(a))
        x = self.pool(self.add(a, b))
        return self.fc(self.flat(self.gap(self.conv2(x))))
