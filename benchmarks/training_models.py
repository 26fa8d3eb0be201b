"""Models of the training benchmark (benchmarks/training.py), written here in torchvision's
layout (the architectures are public; this is our own code, not a copy).

MobileNetV2 (Sandler et al. 2018): a 3x3 stride-2 stem, 17 inverted residual blocks
(expand 1x1 -> depthwise 3x3 -> project 1x1, ReLU6, residual where shapes allow), a 1x1 head
and the classifier; channels scaled by the width multiplier and rounded to multiples of 8."""
from __future__ import annotations

import torch
from torch import nn


def _divisible(v: float, divisor: int = 8) -> int:
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new < 0.9 * v:
        new += divisor
    return new


def _conv_bn(cin, cout, k, stride, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6(inplace=False))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = int(round(cin * expand))
        self.use_res = stride == 1 and cin == cout
        layers = []
        if expand != 1:
            layers.append(_conv_bn(cin, hidden, 1, 1))
        layers += [_conv_bn(hidden, hidden, 3, stride, groups=hidden), _conv_bn(hidden, cout, 1, 1, act=False)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    # t (expansion), c (channels), n (repeats), s (first stride)
    SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1)]

    def __init__(self, num_classes: int = 10, width: float = 0.35, last_channel: int = 1280):
        super().__init__()
        cin = _divisible(32 * width)
        self.last_channel = _divisible(last_channel * max(1.0, width))
        feats = [_conv_bn(3, cin, 3, 2)]
        for t, c, n, s in self.SETTINGS:
            cout = _divisible(c * width)
            for i in range(n):
                feats.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        feats.append(_conv_bn(cin, self.last_channel, 1, 1))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Linear(self.last_channel, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x).mean((2, 3)))


class SmallCNN(nn.Module):
    """The transfer task's network: 28x28x1 -> three stride-2 convs -> global mean -> classes."""

    def __init__(self, classes: int = 5):
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 3, stride=2, padding=1)
        self.c2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.c3 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.fc = nn.Linear(32, classes)

    def features(self, x):
        x = torch.relu(self.c1(x))
        x = torch.relu(self.c2(x))
        return torch.relu(self.c3(x)).mean((2, 3))

    def forward(self, x):
        return self.fc(self.features(x))
