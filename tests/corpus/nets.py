"""The real-model corpus: small networks written the way torchvision (and the usual keyword-spotting
and segmentation code) writes them, at tiny width and resolution so that each has well under
300 KB of weights and compiles in seconds.

Each builder returns (module in eval mode, example input). Weights come from a fixed seed and
BatchNorm layers carry non-trivial running statistics: every network is first run on a few random
batches in train mode, so BN is not the identity when it is folded by an exporter.

    from corpus.nets import NETWORKS, build
    model, x = build("mobilenet_v2")
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    # torchvision's rounding of channel counts
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class ConvBNAct(nn.Sequential):
    """torchvision.ops.Conv2dNormActivation: conv (no bias) -> BN -> activation."""

    def __init__(self, cin, cout, k=3, stride=1, groups=1, act=nn.ReLU6, dilation=1):
        pad = (k - 1) // 2 * dilation
        layers = [nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, groups=groups, bias=False),
                  nn.BatchNorm2d(cout)]
        if act is not None:
            layers.append(act(inplace=True))
        super().__init__(*layers)


# ---- MobileNetV1 ---------------------------------------------------------------------------------

class MobileNetV1(nn.Module):
    def __init__(self, width=0.25, num_classes=10):
        super().__init__()
        c = lambda n: _make_divisible(n * width)  # noqa: E731
        cfg = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (1024, 2)]
        layers = [ConvBNAct(3, c(32), 3, 2, act=nn.ReLU)]
        cin = c(32)
        for cout, s in cfg:
            layers += [ConvBNAct(cin, cin, 3, s, groups=cin, act=nn.ReLU), ConvBNAct(cin, c(cout), 1, act=nn.ReLU)]
            cin = c(cout)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.pool(self.features(x))
        return self.fc(torch.flatten(x, 1))


# ---- MobileNetV2 ---------------------------------------------------------------------------------

class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(ConvBNAct(inp, hidden, 1))
        layers += [ConvBNAct(hidden, hidden, 3, stride, groups=hidden),
                   nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, width=0.25, num_classes=10, last_channel=128):
        super().__init__()
        setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2], [6, 64, 2, 2], [6, 96, 1, 1], [6, 160, 1, 2]]
        cin = _make_divisible(32 * width)
        features = [ConvBNAct(3, cin, 3, 2)]
        for t, c, n, s in setting:
            cout = _make_divisible(c * width)
            for i in range(n):
                features.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        features.append(ConvBNAct(cin, last_channel, 1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last_channel, num_classes))

    def forward(self, x):
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, (1, 1))
        return self.classifier(torch.flatten(x, 1))


# ---- MobileNetV3-small ---------------------------------------------------------------------------

class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation: avgpool -> fc1 -> act -> fc2 -> scale_activation -> x * s."""

    def __init__(self, cin, csq, act=nn.ReLU, scale_act=nn.Hardsigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(cin, csq, 1)
        self.fc2 = nn.Conv2d(csq, cin, 1)
        self.activation = act()
        self.scale_activation = scale_act()

    def forward(self, x):
        s = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return s * x


class V3Block(nn.Module):
    def __init__(self, cin, k, exp, cout, use_se, act, stride):
        super().__init__()
        self.use_res_connect = stride == 1 and cin == cout
        layers = []
        if exp != cin:
            layers.append(ConvBNAct(cin, exp, 1, act=act))
        layers.append(ConvBNAct(exp, exp, k, stride, groups=exp, act=act))
        if use_se:
            layers.append(SqueezeExcitation(exp, _make_divisible(exp // 4)))
        layers.append(ConvBNAct(exp, cout, 1, act=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        y = self.block(x)
        return y + x if self.use_res_connect else y


class MobileNetV3Small(nn.Module):
    def __init__(self, width=0.25, num_classes=10, last_channel=128):
        super().__init__()
        c = lambda n: _make_divisible(n * width)  # noqa: E731
        HS, RE = nn.Hardswish, nn.ReLU
        cfg = [(16, 3, 16, 16, True, RE, 2), (16, 3, 72, 24, False, RE, 2), (24, 3, 88, 24, False, RE, 1),
               (24, 5, 96, 40, True, HS, 2), (40, 5, 240, 40, True, HS, 1), (40, 5, 120, 48, True, HS, 1),
               (48, 5, 288, 96, True, HS, 2), (96, 5, 576, 96, True, HS, 1)]
        layers = [ConvBNAct(3, c(16), 3, 2, act=HS)]
        for cin, k, exp, cout, se, act, s in cfg:
            layers.append(V3Block(c(cin), k, c(exp), c(cout), se, act, s))
        lastconv = 6 * c(96)
        layers.append(ConvBNAct(c(96), lastconv, 1, act=HS))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(lastconv, last_channel), nn.Hardswish(inplace=True),
                                        nn.Dropout(0.2), nn.Linear(last_channel, num_classes))

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


# ---- ShuffleNetV2 --------------------------------------------------------------------------------

def channel_shuffle(x, groups: int):
    b, c, h, w = x.size()
    x = x.view(b, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(b, -1, h, w)


class ShuffleUnit(nn.Module):
    def __init__(self, inp, oup, stride):
        super().__init__()
        self.stride = stride
        bf = oup // 2
        if stride > 1:
            self.branch1 = nn.Sequential(
                nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False), nn.BatchNorm2d(inp),
                nn.Conv2d(inp, bf, 1, bias=False), nn.BatchNorm2d(bf), nn.ReLU(inplace=True))
        else:
            self.branch1 = nn.Sequential()
        cin2 = inp if stride > 1 else bf
        self.branch2 = nn.Sequential(
            nn.Conv2d(cin2, bf, 1, bias=False), nn.BatchNorm2d(bf), nn.ReLU(inplace=True),
            nn.Conv2d(bf, bf, 3, stride, 1, groups=bf, bias=False), nn.BatchNorm2d(bf),
            nn.Conv2d(bf, bf, 1, bias=False), nn.BatchNorm2d(bf), nn.ReLU(inplace=True))

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, stages=(2, 3, 2), channels=(16, 32, 64, 96, 128), num_classes=10):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, channels[0], 3, 2, 1, bias=False), nn.BatchNorm2d(channels[0]),
                                   nn.ReLU(inplace=True))
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = channels[0]
        stage_list = []
        for reps, cout in zip(stages, channels[1:4]):
            seq = [ShuffleUnit(cin, cout, 2)] + [ShuffleUnit(cout, cout, 1) for _ in range(reps - 1)]
            stage_list.append(nn.Sequential(*seq))
            cin = cout
        self.stage2, self.stage3, self.stage4 = stage_list
        self.conv5 = nn.Sequential(nn.Conv2d(cin, channels[4], 1, bias=False), nn.BatchNorm2d(channels[4]),
                                   nn.ReLU(inplace=True))
        self.fc = nn.Linear(channels[4], num_classes)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        x = x.mean([2, 3])  # torchvision's global pool
        return self.fc(x)


# ---- SqueezeNet 1.1 ------------------------------------------------------------------------------

class Fire(nn.Module):
    def __init__(self, inp, squeeze, e1, e3):
        super().__init__()
        self.squeeze = nn.Conv2d(inp, squeeze, 1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze, e1, 1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze, e3, 3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat([self.expand1x1_activation(self.expand1x1(x)),
                          self.expand3x3_activation(self.expand3x3(x))], 1)


class SqueezeNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(16, 4, 16, 16), Fire(32, 4, 16, 16), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(32, 8, 32, 32), Fire(64, 8, 32, 32), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(64, 12, 48, 48), Fire(96, 16, 64, 64))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(128, num_classes, 1), nn.ReLU(inplace=True),
                                        nn.AdaptiveAvgPool2d((1, 1)))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


# ---- MnasNet -------------------------------------------------------------------------------------

class MnasInvRes(nn.Module):
    def __init__(self, cin, cout, k, stride, exp):
        super().__init__()
        mid = cin * exp
        self.apply_residual = cin == cout and stride == 1
        self.layers = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, k, stride, k // 2, groups=mid, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return self.layers(x) + x if self.apply_residual else self.layers(x)


class MNASNet(nn.Module):
    def __init__(self, alpha=0.25, num_classes=10):
        super().__init__()
        d = [_make_divisible(v * alpha) for v in (32, 16, 24, 40, 80, 96, 192, 320)]
        layers = [nn.Conv2d(3, d[0], 3, 2, 1, bias=False), nn.BatchNorm2d(d[0]), nn.ReLU(inplace=True),
                  nn.Conv2d(d[0], d[0], 3, 1, 1, groups=d[0], bias=False), nn.BatchNorm2d(d[0]), nn.ReLU(inplace=True),
                  nn.Conv2d(d[0], d[1], 1, bias=False), nn.BatchNorm2d(d[1])]
        stack = [(d[1], d[2], 3, 2, 3, 2), (d[2], d[3], 5, 2, 3, 2), (d[3], d[4], 5, 2, 6, 2),
                 (d[4], d[5], 3, 1, 6, 1), (d[5], d[6], 5, 2, 6, 1)]
        for cin, cout, k, s, e, reps in stack:
            layers.append(MnasInvRes(cin, cout, k, s, e))
            layers += [MnasInvRes(cout, cout, k, 1, e) for _ in range(reps - 1)]
        layers += [nn.Conv2d(d[6], 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True)]
        self.layers = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(128, num_classes))

    def forward(self, x):
        x = self.layers(x).mean([2, 3])
        return self.classifier(x)


# ---- EfficientNet (B0 style: SiLU + SE; lite: ReLU6, no SE) --------------------------------------

class MBConv(nn.Module):
    def __init__(self, cin, cout, k, stride, exp, se: bool, act):
        super().__init__()
        self.use_res_connect = stride == 1 and cin == cout
        mid = _make_divisible(cin * exp)
        layers = []
        if mid != cin:
            layers.append(ConvBNAct(cin, mid, 1, act=act))
        layers.append(ConvBNAct(mid, mid, k, stride, groups=mid, act=act))
        if se:
            layers.append(SqueezeExcitation(mid, max(1, cin // 4), act=nn.SiLU, scale_act=nn.Sigmoid))
        layers.append(ConvBNAct(mid, cout, 1, act=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        y = self.block(x)
        return y + x if self.use_res_connect else y


class EfficientNet(nn.Module):
    def __init__(self, lite=False, width=0.25, num_classes=10):
        super().__init__()
        act = nn.ReLU6 if lite else nn.SiLU
        c = lambda n: _make_divisible(n * width)  # noqa: E731
        cfg = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 2),
               (6, 5, 1, 80, 112, 1), (6, 5, 2, 112, 192, 1)]
        layers = [ConvBNAct(3, c(32), 3, 2, act=act)]
        for e, k, s, cin, cout, n in cfg:
            for i in range(n):
                layers.append(MBConv(c(cin) if i == 0 else c(cout), c(cout), k, s if i == 0 else 1, e, not lite, act))
        layers.append(ConvBNAct(c(192), 96, 1, act=act))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(96, num_classes))

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


# ---- ResNet (basic blocks) -----------------------------------------------------------------------

class BasicBlock(nn.Module):
    def __init__(self, inp, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inp != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inp, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, in_ch=3, widths=(8, 16, 32, 64), num_classes=10, stem_stride=2, stem_pool=True):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, widths[0], 3 if not stem_pool else 7, stem_stride,
                               1 if not stem_pool else 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if stem_pool else nn.Identity()
        layers, cin = [], widths[0]
        for i, w in enumerate(widths):
            layers.append(nn.Sequential(BasicBlock(cin, w, 1 if i == 0 else 2), BasicBlock(w, w)))
            cin = w
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# ---- DS-CNN (keyword spotting, 49 MFCC frames x 10 coefficients) ---------------------------------

class DSCNN(nn.Module):
    def __init__(self, ch=32, blocks=4, num_classes=12):
        super().__init__()
        layers = [nn.Conv2d(1, ch, (10, 4), (2, 2), (5, 1), bias=False), nn.BatchNorm2d(ch), nn.ReLU()]
        for _ in range(blocks):
            layers += [nn.Conv2d(ch, ch, 3, 1, 1, groups=ch, bias=False), nn.BatchNorm2d(ch), nn.ReLU(),
                       nn.Conv2d(ch, ch, 1, bias=False), nn.BatchNorm2d(ch), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AvgPool2d((25, 5))
        self.fc = nn.Linear(ch, num_classes)

    def forward(self, x):
        x = self.pool(self.features(x))
        return self.fc(x.view(x.size(0), -1))


# ---- U-Net (ConvTranspose2d and nn.Upsample / F.interpolate decoders) ----------------------------

class DoubleConv(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """Encoder with max pools; decoder: ConvTranspose2d up, then nn.Upsample (bilinear, align_corners
    as in the reference U-Net code), then F.interpolate nearest; skip connections by concat."""

    def __init__(self, in_ch=3, classes=2, w=(8, 16, 32, 48)):
        super().__init__()
        self.inc = DoubleConv(in_ch, w[0])
        self.down1 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(w[0], w[1]))
        self.down2 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(w[1], w[2]))
        self.down3 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(w[2], w[3]))
        self.up1 = nn.ConvTranspose2d(w[3], w[2], 2, stride=2)
        self.conv1 = DoubleConv(2 * w[2], w[2])
        self.up2 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.conv2 = DoubleConv(w[2] + w[1], w[1])
        self.conv3 = DoubleConv(w[1] + w[0], w[0])
        self.outc = nn.Conv2d(w[0], classes, 1)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        y = self.conv1(torch.cat([x3, self.up1(x4)], 1))
        y = self.conv2(torch.cat([x2, self.up2(y)], 1))
        y = self.conv3(torch.cat([x1, F.interpolate(y, scale_factor=2, mode="nearest")], 1))
        return self.outc(y)


# ---- Keyword transformer (KWT-style) -------------------------------------------------------------

class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))


class TransformerBlock(nn.Module):
    def __init__(self, dim, heads, mlp):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class KWT(nn.Module):
    """Patches of 49x10 MFCCs: one time frame per token through a conv patch embedding (kernel (1, 10)),
    learned position embedding, pre-norm blocks, mean pooling over tokens, linear head."""

    def __init__(self, frames=49, mfcc=10, dim=32, depth=2, heads=2, mlp=64, num_classes=12):
        super().__init__()
        self.embed = nn.Conv2d(1, dim, (1, mfcc))
        self.pos = nn.Parameter(torch.randn(1, frames, dim) * 0.1)
        self.blocks = nn.Sequential(*[TransformerBlock(dim, heads, mlp) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2) + self.pos  # (B, frames, dim)
        x = self.norm(self.blocks(x))
        return self.head(x.mean(dim=1))


# ---- Tiny YOLO-style detector (two heads, upsample + concat) -------------------------------------

class TinyYolo(nn.Module):
    def __init__(self, anchors=3, classes=2):
        super().__init__()
        out = anchors * (5 + classes)
        act = lambda: nn.LeakyReLU(0.1)  # noqa: E731
        cba = lambda i, o, k=3, s=1: nn.Sequential(nn.Conv2d(i, o, k, s, k // 2, bias=False),  # noqa: E731
                                                   nn.BatchNorm2d(o), act())
        self.b1 = nn.Sequential(cba(3, 8), nn.MaxPool2d(2), cba(8, 16), nn.MaxPool2d(2), cba(16, 32))
        self.b2 = nn.Sequential(nn.MaxPool2d(2), cba(32, 32), cba(32, 32))
        self.head1 = nn.Sequential(cba(32, 32), nn.Conv2d(32, out, 1))
        self.lat = cba(32, 16, 1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.head2 = nn.Sequential(cba(16 + 32, 32), nn.Conv2d(32, out, 1))

    def forward(self, x):
        f1 = self.b1(x)
        f2 = self.b2(f1)
        y1 = self.head1(f2)
        y2 = self.head2(torch.cat([self.up(self.lat(f2)), f1], 1))
        return y1, y2


# ---- Small MLP / autoencoder (anomaly detection style) -------------------------------------------

class AutoEncoder(nn.Module):
    def __init__(self, n=64, hidden=(32, 16, 8)):
        super().__init__()
        dims = (n,) + hidden + tuple(reversed(hidden[:-1])) + (n,)
        layers = []
        for i in range(len(dims) - 1):
            layers += [nn.Linear(dims[i], dims[i + 1]), nn.BatchNorm1d(dims[i + 1]), nn.ReLU()]
        self.net = nn.Sequential(*layers[:-2])  # last layer: linear only

    def forward(self, x):
        return self.net(x)


# ---- registry ------------------------------------------------------------------------------------

NETWORKS = {
    # name: (builder, input shape)
    "mobilenet_v1": (lambda: MobileNetV1(width=0.125), (1, 3, 32, 32)),
    "mobilenet_v2": (lambda: MobileNetV2(), (1, 3, 32, 32)),
    "mobilenet_v3_small": (lambda: MobileNetV3Small(), (1, 3, 32, 32)),
    "shufflenet_v2": (lambda: ShuffleNetV2(), (1, 3, 32, 32)),
    "squeezenet": (lambda: SqueezeNet(), (1, 3, 33, 33)),
    "mnasnet": (lambda: MNASNet(), (1, 3, 32, 32)),
    "efficientnet_b0": (lambda: EfficientNet(lite=False), (1, 3, 32, 32)),
    "efficientnet_lite": (lambda: EfficientNet(lite=True), (1, 3, 32, 32)),
    "resnet": (lambda: ResNet(widths=(8, 16, 24, 32)), (1, 3, 32, 32)),
    "ds_cnn": (lambda: DSCNN(), (1, 1, 49, 10)),
    "unet": (lambda: UNet(w=(8, 12, 16, 24)), (1, 3, 32, 32)),
    "kwt": (lambda: KWT(), (1, 1, 49, 10)),
    "tiny_yolo": (lambda: TinyYolo(), (1, 3, 32, 32)),
    "autoencoder": (lambda: AutoEncoder(), (1, 64)),
}


def build(name: str, seed: int = 0):
    """(module in eval mode with settled BN statistics, example input tensor)."""
    builder, shape = NETWORKS[name]
    torch.manual_seed(seed)
    model = builder()
    # non-trivial BN running statistics: a few train-mode batches with shifted, scaled inputs
    g = torch.Generator().manual_seed(seed + 1)
    bn = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bn:
        m.momentum = 0.5
        with torch.no_grad():  # affine parameters that are not 1 / 0 either
            m.weight.uniform_(0.5, 1.5, generator=g)
            m.bias.uniform_(-0.2, 0.2, generator=g)
    if bn:
        model.train()
        with torch.no_grad():
            for _ in range(4):
                model(torch.randn((8,) + shape[1:], generator=g) * 1.5 + 0.3)
    model.eval()
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed + 2))
    return model, x


def input_batch(name: str, n: int, seed: int = 7):
    """n input samples (float32 numpy, batch on axis 0) for calibration or tests."""
    import numpy as np
    _, shape = NETWORKS[name]
    return np.random.default_rng(seed).standard_normal((n,) + tuple(shape[1:])).astype(np.float32)


def param_bytes(model) -> int:
    return sum(p.numel() * 4 for p in model.parameters()) + sum(
        b.numel() * 4 for b in model.buffers() if b.dtype.is_floating_point)


if __name__ == "__main__":
    for n in NETWORKS:
        m, x = build(n)
        y = m(x)
        ys = y if isinstance(y, tuple) else (y,)
        print(f"{n:20s} {param_bytes(m) / 1024:7.1f} KB  in {tuple(x.shape)} out {[tuple(t.shape) for t in ys]}"
              f"  {math.prod(x.shape)}")
