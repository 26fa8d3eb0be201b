"""QFX layers: each output is cast to its own trainable <W, F>; the arithmetic between casts is the
golden model's (reference/fixed_arith.py and the ops' run_fixed):

- conv / dense: exact accumulator at F = Fx + Fw; the bias stored at that binary point (round half
  up, as quant/fixed.py stores it); activation clamp; cast to the output type.
- add: exact sum, clamp, cast.  max pool, flatten: the input's type.  global average pool (a power-
  of-two count): exact mean cast back to the input's type.
- hardswish (QfxHardswish, or act="hardswish" on a conv / dense / add / batchnorm: their output
  type, then a hardswish with its own): x * clamp(x + 3, 0, 6) / 6 rounded exactly into the
  output type (reference/fixed_arith.hardswish).
- concat (QfxConcat): every input cast to the one output type.
- batchnorm kept as its own layer (QfxBatchNorm2d): per-channel scale and shift on their own
  trainable grids, x * s + b exact, activation, cast (deployed as a 1x1 depthwise convolution).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...reference import fixed_arith
from ...reference.fixed_arith import FixedType, bits_for_sum
from .core import FixedQuant, KHotQuant, cast, round_ste, tag, type_of

ACTS = (None, "relu", "relu6", "hardswish")


def _act(y: torch.Tensor, act: str | None) -> torch.Tensor:
    if act == "relu":
        return torch.relu(y)
    if act == "relu6":
        return torch.clamp(y, 0.0, 6.0)
    return y


def _observing(*ts) -> bool:
    return any(getattr(t, "qfx", None) is not None and t.qfx.width == 64 for t in ts)


class QfxHardswish(nn.Module):
    """x * relu6(x + 3) / 6 of a QFX tensor cast to its own trainable type, rounded exactly: the
    forward's values are the integer rule's (fixed_arith.hardswish, the golden model's code), the
    gradients those of the float expression cast by `oq` (STE). The two agree anyway: in float64
    x * clamp(x + 3, 0, 6) is exact and the division by 6 correctly rounded, so an exact tie stays a
    tie and any other value lies at least 2^-(2 F1) / 6 from a rounding boundary."""

    def __init__(self, act_bits=8, rounding="rne"):
        super().__init__()
        self.oq = FixedQuant(act_bits, rounding)

    def forward(self, x):
        t = type_of(x, "QfxHardswish")
        y = self.oq(x * torch.clamp(x + 3.0, 0.0, 6.0) / 6.0)
        if _observing(x, y):
            return y
        o = y.qfx
        raw = fixed_arith.hardswish(fixed_arith.from_float(x.detach().numpy(), t), fixed_arith.hardswish_params(t, o))
        exact = torch.from_numpy(fixed_arith.to_float(raw, o))
        return tag(y + (exact - y).detach(), o)


class _Output(nn.Module):
    """The output of a layer: fused clamp (relu, relu6) and cast to `oq`, or for act="hardswish" the
    cast to `oq` followed by a QfxHardswish `hs` with its own type."""

    def _init_out(self, act_bits, act, rounding):
        if act not in ACTS:
            raise ValueError(f"act must be one of {ACTS}")
        self.act = act
        self.oq = FixedQuant(act_bits, rounding)
        if act == "hardswish":
            self.hs = QfxHardswish(act_bits, rounding)

    def finish(self, acc):
        if self.act == "hardswish":
            return self.hs(self.oq(acc))
        return self.oq(_act(acc, self.act))


class QfxInput(nn.Module):
    def __init__(self, width: int = 8, rounding: str = "rne"):
        super().__init__()
        self.q = FixedQuant(width, rounding)

    def forward(self, x):
        return self.q(x)


class _Mac(_Output):
    """Shared by QfxConv2d and QfxLinear: weight / output quantizers, bias at the accumulator."""

    def _init_quant(self, weight_bits, act_bits, act, rounding, khot=None):
        self.wq = FixedQuant(weight_bits, "rne") if khot is None else KHotQuant(weight_bits, khot)
        self._init_out(act_bits, act, rounding)

    def observe_weights(self):
        self.wq(self.weight)

    def acc_type(self, xt: FixedType, wt: FixedType) -> FixedType:
        terms = int(math.prod(self.weight.shape[1:]))
        return FixedType(bits_for_sum(xt.width + wt.width, terms + 1), xt.frac + wt.frac, "rnd", "sat")

    def quantized(self, x):
        """(weights, bias) on their grids, and whether this is a calibration pass."""
        xt = type_of(x, type(self).__name__)
        w = self.wq(self.weight)
        if _observing(x, w):
            return w, self.bias, True
        b = None
        if self.bias is not None:  # stored at the accumulator's binary point, rounded half up
            bt = self.acc_type(xt, w.qfx)
            scale = 2.0 ** bt.frac
            v = torch.clamp(self.bias.to(torch.float64) * scale, float(bt.raw_min), float(bt.raw_max))
            b = round_ste(v + 0.5, "trn") / scale
        return w, b, False


class QfxConv2d(_Mac):
    def __init__(self, cin, cout, kernel, stride=1, padding=0, groups=1, bias=True, weight_bits=8,
                 act_bits=8, act=None, rounding="rne", khot=None):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=bias, dtype=torch.float64)
        self._init_quant(weight_bits, act_bits, act, rounding, khot)

    @property
    def weight(self):
        return self.conv.weight

    @property
    def bias(self):
        return self.conv.bias

    def forward(self, x):
        w, b, _ = self.quantized(x)
        c = self.conv
        return self.finish(F.conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups))


class QfxLinear(_Mac):
    def __init__(self, cin, cout, bias=True, weight_bits=8, act_bits=8, act=None, rounding="rne", khot=None):
        super().__init__()
        self.fc = nn.Linear(cin, cout, bias=bias, dtype=torch.float64)
        self._init_quant(weight_bits, act_bits, act, rounding, khot)

    @property
    def weight(self):
        return self.fc.weight

    @property
    def bias(self):
        return self.fc.bias

    def forward(self, x):
        w, b, _ = self.quantized(x)
        return self.finish(F.linear(x, w, b))


class QfxAdd(_Output):
    """Residual add: exact sum of two QFX tensors, optional activation, cast to its own type."""

    def __init__(self, act_bits=8, act=None, rounding="rne"):
        super().__init__()
        self._init_out(act_bits, act, rounding)

    def forward(self, a, b):
        type_of(a, "QfxAdd"), type_of(b, "QfxAdd")
        return self.finish(a + b)


class QfxConcat(nn.Module):
    """Concatenation (channels by default) of QFX tensors with any binary points: every input cast
    to the one trainable output type (its rounding, saturation)."""

    def __init__(self, act_bits=8, rounding="rne", dim=1):
        super().__init__()
        self.dim = dim
        self.oq = FixedQuant(act_bits, rounding)

    def forward(self, *xs):
        for x in xs:
            type_of(x, "QfxConcat")
        return self.oq(torch.cat(xs, self.dim))


class QfxBatchNorm2d(_Output):
    """BatchNorm kept as its own fixed-point layer (not folded): y = x * s[c] + b[c], the scale s and
    shift b per channel on their own trainable grids (`scale_bits`, `shift_bits` wide), the sum exact,
    then the activation and the cast to the output type. `from_batchnorm` takes an eval BatchNorm's
    s = gamma / sqrt(var + eps), b = beta - mean * s."""

    def __init__(self, channels, scale_bits=8, shift_bits=8, act_bits=8, act=None, rounding="rne"):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(channels, dtype=torch.float64))
        self.shift = nn.Parameter(torch.zeros(channels, dtype=torch.float64))
        self.sq = FixedQuant(scale_bits, "rne")
        self.bq = FixedQuant(shift_bits, "rne")
        self._init_out(act_bits, act, rounding)

    @torch.no_grad()
    def from_batchnorm(self, bn: nn.BatchNorm2d) -> "QfxBatchNorm2d":
        s = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
        self.scale.copy_(s)
        self.shift.copy_(bn.bias.double() - bn.running_mean.double() * s)
        return self

    def observe_weights(self):
        self.sq(self.scale), self.bq(self.shift)

    def quantized(self):
        return self.sq(self.scale), self.bq(self.shift)

    def forward(self, x):
        type_of(x, "QfxBatchNorm2d")
        s, b = self.quantized()
        return self.finish(x * s.reshape(1, -1, 1, 1) + b.reshape(1, -1, 1, 1))


class QfxMaxPool(nn.Module):
    def __init__(self, kernel, stride=None):
        super().__init__()
        self.kernel, self.stride = kernel, stride or kernel

    def forward(self, x):
        return tag(F.max_pool2d(x, self.kernel, self.stride), type_of(x, "QfxMaxPool"))


class QfxAvgPool(nn.Module):
    """Global average pooling over a power-of-two number of pixels (the mean is a shift)."""

    def forward(self, x):
        t = type_of(x, "QfxAvgPool")
        count = x.shape[2] * x.shape[3]
        if count & (count - 1):
            raise ValueError(f"QfxAvgPool: {count} pixels is not a power of two")
        y = x.mean(dim=(2, 3), keepdim=True)
        return tag(y, t) if _observing(x) else cast(y, t)


class QfxFlatten(nn.Module):
    def forward(self, x):
        return tag(torch.flatten(x, 1), type_of(x, "QfxFlatten"))


@torch.no_grad()
def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights and bias of conv followed by an eval-mode BatchNorm, folded (float64)."""
    g = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    w = conv.weight.double() * g.reshape(-1, 1, 1, 1)
    b = conv.bias.double() if conv.bias is not None else torch.zeros_like(g)
    return w, (b - bn.running_mean.double()) * g + bn.bias.double()
