"""Small QFX networks for 8x8 or 28x28 grey images: what the tests and benchmarks/qfx.py train."""
from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F  # noqa: N812

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


class FloatResNetBN(nn.Module):
    """TinyResNet's topology in plain float32 with a BatchNorm after every convolution (trained in
    float, then folded into a TinyResNet by `to_qfx`): conv-BN-ReLU -> depthwise-BN-ReLU -> 1x1
    conv-BN + residual add -> ReLU -> max pool -> conv-BN-ReLU6 -> global average pool -> dense."""

    def __init__(self, classes=10, width=8):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width)
        self.dw, self.bn_dw = nn.Conv2d(width, width, 3, padding=1, groups=width), nn.BatchNorm2d(width)
        self.pw, self.bn_pw = nn.Conv2d(width, width, 1), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width)
        self.fc = nn.Linear(2 * width, classes)

    def forward(self, x):
        a = F.relu(self.bn1(self.conv1(x)))
        b = self.bn_pw(self.pw(F.relu(self.bn_dw(self.dw(a)))))
        x = F.max_pool2d(F.relu(a + b), 2)
        x = F.relu6(self.bn2(self.conv2(x)))
        return self.fc(x.mean((2, 3)))

    def to_qfx(self, **kw) -> TinyResNet:
        """A TinyResNet (kw: wb, ab, khot, rounding, ...) holding this network with every BatchNorm
        folded into its convolution (eval statistics); calibrate it next."""
        import torch
        self.eval()
        q = TinyResNet(width=self.conv1.out_channels, classes=self.fc.out_features, **kw)
        with torch.no_grad():
            for conv, bn, dst in ((self.conv1, self.bn1, q.conv1), (self.dw, self.bn_dw, q.dw),
                                  (self.pw, self.bn_pw, q.pw), (self.conv2, self.bn2, q.conv2)):
                w, b = L.fold_batchnorm(conv, bn)
                dst.conv.weight.copy_(w), dst.conv.bias.copy_(b)
            q.fc.fc.weight.copy_(self.fc.weight), q.fc.fc.bias.copy_(self.fc.bias)
        return q


class MixNet(nn.Module):
    """The layers TinyResNet lacks: a BatchNorm kept as its own fixed-point layer, hardswish (a conv's
    act="hardswish" and a stand-alone QfxHardswish) and a concat of two branches with different
    binary points. conv -> BN (ReLU) -> [1x1 conv (hardswish) | depthwise (ReLU) -> 1x1 conv] ->
    concat -> hardswish -> max pool -> conv (ReLU6) -> global average pool -> dense."""

    def __init__(self, wb=8, ab=8, classes=10, width=8, rounding="rne", in_bits=8):
        super().__init__()
        kw = dict(weight_bits=wb, act_bits=ab, rounding=rounding)
        half = width // 2
        self.inp = L.QfxInput(in_bits, rounding)
        self.conv1 = L.QfxConv2d(1, width, 3, padding=1, **kw)
        self.bn1 = L.QfxBatchNorm2d(width, scale_bits=wb, shift_bits=wb, act_bits=ab, act="relu", rounding=rounding)
        self.pa = L.QfxConv2d(width, half, 1, act="hardswish", **kw)
        self.dw = L.QfxConv2d(width, width, 3, padding=1, groups=width, act="relu", **kw)
        self.pb = L.QfxConv2d(width, half, 1, **kw)
        self.cat = L.QfxConcat(ab, rounding)
        self.hs = L.QfxHardswish(ab, rounding)
        self.pool = L.QfxMaxPool(2)
        self.conv2 = L.QfxConv2d(width, 2 * width, 3, padding=1, act="relu6", **kw)
        self.gap = L.QfxAvgPool()
        self.flat = L.QfxFlatten()
        self.fc = L.QfxLinear(2 * width, classes, weight_bits=wb, act_bits=max(ab, 8), rounding=rounding)

    def forward(self, x):
        a = self.bn1(self.conv1(self.inp(x)))
        x = self.pool(self.hs(self.cat(self.pa(a), self.pb(self.dw(a)))))
        return self.fc(self.flat(self.gap(self.conv2(x))))
