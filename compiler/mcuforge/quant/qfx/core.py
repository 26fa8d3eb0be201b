"""The trainable fixed-point quantizer and the exact cast it shares with every QFX layer.

A QFX tensor is a float64 torch tensor whose values lie on the grid of its FixedType, with that type
attached as the attribute ``qfx`` (so the next layer knows its binary point, e.g. for the bias).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ...reference.fixed_arith import FixedType
from ..fixed import int_bits_for

QFX_ROUNDING = ("rne", "trn")  # the modes a QONNX Quant expresses: ROUND (ties to even), FLOOR


def round_ste(v: torch.Tensor, rounding: str) -> torch.Tensor:
    """Rounding in the forward, identity in the backward (straight-through estimator)."""
    r = torch.round(v) if rounding == "rne" else torch.floor(v)  # torch.round: ties to even
    return v + (r - v).detach()


def cast(x: torch.Tensor, t: FixedType, frac: torch.Tensor | None = None) -> torch.Tensor:
    """x stored into fixed type t (t's rounding, saturation), exact in float64. `frac` (a float
    tensor equal to t.frac in the forward) carries the gradient to a trainable binary point."""
    f = torch.tensor(float(t.frac), dtype=torch.float64) if frac is None else frac
    scale = torch.pow(2.0, f)
    v = torch.clamp(x * scale, float(t.raw_min), float(t.raw_max))
    y = round_ste(v, t.rounding) / scale
    return tag(y, t)


def tag(y: torch.Tensor, t: FixedType) -> torch.Tensor:
    y.qfx = t
    return y


def type_of(x: torch.Tensor, who: str) -> FixedType:
    t = getattr(x, "qfx", None)
    if t is None:
        raise TypeError(f"{who}: input is not a QFX tensor (start the model with QfxInput and use QFX "
                        "layers only between quantized tensors)")
    return t


class FixedQuant(nn.Module):
    """<width, frac> with a trainable binary point: frac is a float parameter rounded (STE) to the
    integer F the forward uses. Before calibration it observes max |x| (see `calibrate`)."""

    def __init__(self, width: int, rounding: str = "rne", frac: float | None = None, trainable: bool = True):
        super().__init__()
        if rounding not in QFX_ROUNDING:
            raise ValueError(f"rounding must be one of {QFX_ROUNDING} (QONNX can carry them), not {rounding!r}")
        if not 2 <= width <= 32:
            raise ValueError(f"width {width} outside 2..32")
        self.width, self.rounding = int(width), rounding
        self.frac = nn.Parameter(torch.tensor(0.0 if frac is None else float(frac), dtype=torch.float64),
                                 requires_grad=trainable)
        self.observing = frac is None
        self.register_buffer("max_abs", torch.zeros((), dtype=torch.float64))

    @property
    def type(self) -> FixedType:
        return FixedType(self.width, int(torch.round(self.frac.detach()).item()), self.rounding, "sat")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(torch.float64)
        if self.observing:
            self.max_abs = torch.maximum(self.max_abs, x.detach().abs().max())
            return tag(x, FixedType(64, 0))  # calibration pass: float through
        f = self.frac + (torch.round(self.frac) - self.frac).detach()
        return cast(x, self.type, f)

    def extra_repr(self):
        return f"width={self.width}, frac={self.type.frac}, rounding={self.rounding}"


def quantizers(model: nn.Module) -> list[tuple[str, FixedQuant]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, FixedQuant)]


@torch.no_grad()
def calibrate(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Binary points from ranges, as quant/fixed.py picks them (I = floor(log2 max|x|) + 2 integer
    bits, sign included): one float pass observes every tensor, then F = W - I. This is the
    fixed-point PTQ starting point; QFX training then moves F."""
    qs = quantizers(model)
    for _, q in qs:
        q.observing = True
        q.max_abs.zero_()
    # weights first (they do not depend on data), then activations in forward order
    for m in model.modules():
        if hasattr(m, "observe_weights"):
            m.observe_weights()
    model(x)
    for _, q in qs:
        q.frac.fill_(float(q.width - int_bits_for(float(q.max_abs))))
        q.observing = False
    return model


def float_mode(model: nn.Module) -> nn.Module:
    """Every quantizer passes values through (and observes them): the float network, e.g. to
    pretrain before `calibrate`."""
    for _, q in quantizers(model):
        q.observing = True
    return model


def frac_bits(model: nn.Module) -> dict[str, int]:
    """The binary point every quantizer uses now (for reports: bits learned per layer)."""
    return {n: q.type.frac for n, q in quantizers(model)}


class KHotQuant(FixedQuant):
    """K-hot weights: each value on the <width, frac> grid is a sum of at most k signed powers of two
    (a multiply becomes k shifts and adds). The k terms are picked greedily, each the power of two
    nearest the remaining residual (ties to the smaller, never leaving the W-bit range); gradients
    pass straight through, to the weights and to the binary point."""

    def __init__(self, width: int, k: int, frac: float | None = None, trainable: bool = True):
        super().__init__(width, "rne", frac, trainable)
        if not 1 <= k <= 3:
            raise ValueError(f"k = {k}: K-hot weights take k = 1, 2 or 3")
        self.k = int(k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(torch.float64)
        if self.observing:
            return super().forward(x)
        t = self.type
        f = self.frac + (torch.round(self.frac) - self.frac).detach()
        scale = torch.pow(2.0, f)
        v = torch.clamp(x * scale, float(t.raw_min), float(t.raw_max))
        q = khot_project(v.detach(), self.k, t.raw_min, t.raw_max)
        return tag((v + (q - v).detach()) / scale, t)

    def extra_repr(self):
        return super().extra_repr() + f", k={self.k}"


def khot_project(v: torch.Tensor, k: int, lo: int, hi: int) -> torch.Tensor:
    """Integers with at most k signed power-of-two terms near v (in LSB units, within [lo, hi])."""
    q = torch.zeros_like(v)
    for _ in range(k):
        r = v - q
        a = r.abs()
        sign = torch.sign(r)
        e_lo = torch.floor(torch.log2(torch.clamp(a, min=1.0)))
        p_lo, p_hi = torch.pow(2.0, e_lo), torch.pow(2.0, e_lo + 1)
        up = (p_hi - a) < (a - p_lo)
        cand = q + sign * p_hi
        up &= (cand >= lo) & (cand <= hi)
        p = torch.where(up, p_hi, p_lo)
        q = torch.where(a > 0.5, q + sign * p, q)  # below half an LSB the nearest term is none
    return q
