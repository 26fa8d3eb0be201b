"""Calibration: run the float golden model on the user's samples, histogram every activation,
and choose a clipping range per tensor (min/max, percentile, the MSE-optimal clip, or the clip
whose int8 histogram is closest to the float one in KL divergence); a clipping ratio < 1 shrinks
whatever range the method chose."""
from __future__ import annotations

import numpy as np

from ..ir.graph import Graph
from ..reference.executor import Executor

BINS = 2048
METHODS = ("minmax", "percentile", "mse", "kl")


class TensorStats:
    def __init__(self):
        self.lo, self.hi = np.inf, -np.inf
        self.hlo = self.hhi = None   # the histogram's range (lo, hi widened for a constant tensor)
        self.hist = None

    def edges(self):
        return np.linspace(self.hlo, self.hhi, BINS + 1)


def collect_stats(g: Graph, samples: list[dict[str, np.ndarray]]) -> dict[str, TensorStats]:
    """Two passes over the samples: ranges, then histograms over those ranges."""
    ex = Executor(g)
    names = [t for n in g.topo_order() for t in n.outputs] + list(g.inputs)
    stats = {t: TensorStats() for t in names}
    envs = []
    for feeds in samples:
        env = ex.run(feeds, keep_all=True)
        for t in names:
            v = env[t]
            stats[t].lo = min(stats[t].lo, float(v.min()))
            stats[t].hi = max(stats[t].hi, float(v.max()))
        envs.append(env) if len(samples) <= 64 else None
    for t in names:
        s = stats[t]
        if not (np.isfinite(s.lo) and np.isfinite(s.hi)):
            from ..errors import McuforgeError
            raise McuforgeError(f"tensor {t!r} reaches {s.lo if not np.isfinite(s.lo) else s.hi} on the "
                                f"calibration samples; int8 needs finite activations")
        s.hlo, s.hhi = _histogram_range(s.lo, s.hi)
    for i, feeds in enumerate(samples):
        env = envs[i] if envs else ex.run(feeds, keep_all=True)
        for t in names:
            s = stats[t]
            h, _ = np.histogram(np.asarray(env[t], np.float64), bins=BINS, range=(s.hlo, s.hhi))
            s.hist = h if s.hist is None else s.hist + h
    return stats


def _histogram_range(lo: float, hi: float) -> tuple[float, float]:
    """A range numpy can split into BINS finite bins: a constant or nearly constant tensor (all
    0.5, say) gets a small interval around its value, wide enough for float64 bin edges."""
    width = hi - lo
    need = max(abs(lo), abs(hi), 1.0) * 1e-9 * BINS
    if width < need:
        mid = (lo + hi) / 2
        return mid - need / 2, mid + need / 2
    return lo, hi


def _percentile_range(s: TensorStats, pct: float = 99.99):
    cdf = np.cumsum(s.hist) / max(s.hist.sum(), 1)
    e = s.edges()
    lo = e[np.searchsorted(cdf, (100 - pct) / 100)]
    hi = e[min(np.searchsorted(cdf, pct / 100) + 1, BINS)]
    return float(lo), float(hi)


def _quant_error(centers, counts, lo, hi):
    scale = (hi - lo) / 255.0
    zp = np.round(-128 - lo / scale)
    q = np.clip(np.round(centers / scale) + zp, -128, 127)
    return float(np.sum(counts * ((q - zp) * scale - centers) ** 2))


def _kl_divergence(hist: np.ndarray, e: np.ndarray, lo: float, hi: float, levels: int = 255) -> float:
    """KL(P || Q) as TensorRT's entropy calibration defines it (on both sides here): P is the
    histogram restricted to [lo, hi] with the mass outside folded into its end bins; Q is the
    restricted histogram without that mass, rounded to `levels` steps (each step's mass spread
    evenly over the step's non-empty bins). Clipping costs through the folded end bins, coarse
    steps through the rounding."""
    i0 = int(np.clip(np.searchsorted(e, lo, "right") - 1, 0, BINS - 1))
    i1 = int(np.clip(np.searchsorted(e, hi, "left"), i0 + 1, BINS))
    inside = hist[i0:i1].astype(np.float64)
    p = inside.copy()
    p[0] += hist[:i0].sum()
    p[-1] += hist[i1:].sum()
    n = len(p)
    step = np.minimum((np.arange(n) * levels) // n, levels - 1)
    nonzero = (inside > 0).astype(np.float64)
    mass = np.bincount(step, weights=inside, minlength=levels)
    count = np.bincount(step, weights=nonzero, minlength=levels)
    q = np.where(inside > 0, mass[step] / np.maximum(count[step], 1), 0.0)
    # a bin of P that Q leaves empty (an end bin holding only folded mass) gets a tiny floor
    q = np.where((p > 0) & (q == 0), 1e-4 * p.sum() / n, q)
    keep = p > 0
    ps, qs = p[keep] / p.sum(), q[keep] / q.sum()
    return float(np.sum(ps * np.log(ps / qs)))


def _kl_range(s: TensorStats):
    e = s.edges()
    best = (np.inf, s.lo, s.hi)
    lo0, hi0 = min(s.lo, 0.0), max(s.hi, 0.0)
    # fractions below 1/4 would keep fewer bins than int8 levels: KL would be 0 for any of them
    for frac in np.linspace(0.25, 1.0, 76):
        lo, hi = lo0 * frac, hi0 * frac
        if hi - lo <= 0:
            continue
        kl = _kl_divergence(s.hist, e, lo, hi)
        if kl < best[0] - 1e-12:
            best = (kl, lo, hi)
    return best[1], best[2]


def _mse_range(s: TensorStats):
    e = s.edges()
    centers = (e[:-1] + e[1:]) / 2
    best = (np.inf, s.lo, s.hi)
    lo0, hi0 = min(s.lo, 0.0), max(s.hi, 0.0)
    for frac in np.linspace(0.3, 1.0, 71):
        lo, hi = lo0 * frac, hi0 * frac
        if hi - lo <= 0:
            continue
        err = _quant_error(centers, s.hist, lo, hi)
        if err < best[0]:
            best = (err, lo, hi)
    return best[1], best[2]


def choose_ranges(stats: dict[str, TensorStats], method: str = "minmax", percentile: float = 99.99,
                  clip_ratio: float = 1.0) -> dict[str, tuple[float, float]]:
    """percentile: the two-sided percentile kept by method 'percentile'; clip_ratio in (0, 1]
    scales every chosen range towards 0."""
    if method not in METHODS:
        raise ValueError(f"calibration method must be one of {METHODS}, not {method!r}")
    if not 50.0 < percentile <= 100.0:
        raise ValueError(f"percentile must be in (50, 100], not {percentile}")
    if not 0.0 < clip_ratio <= 1.0:
        raise ValueError(f"clip ratio must be in (0, 1], not {clip_ratio}")
    out = {}
    for name, s in stats.items():
        if method == "minmax" or s.hist is None or s.hi <= s.lo:
            lo, hi = s.lo, s.hi
        elif method == "percentile":
            lo, hi = _percentile_range(s, percentile)
        elif method == "kl":
            lo, hi = _kl_range(s)
        else:
            lo, hi = _mse_range(s)
        out[name] = (lo * clip_ratio, hi * clip_ratio) if clip_ratio != 1.0 else (lo, hi)
    return out


def calibrate(g: Graph, samples, method: str = "minmax", percentile: float = 99.99,
              clip_ratio: float = 1.0) -> dict[str, tuple[float, float]]:
    return choose_ranges(collect_stats(g, samples), method, percentile, clip_ratio)
