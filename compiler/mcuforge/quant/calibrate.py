"""Calibration: run the float golden model on the user's samples, histogram every activation,
and choose a clipping range per tensor (min/max, percentile, or the MSE-optimal clip)."""
from __future__ import annotations

import numpy as np

from ..ir.graph import Graph
from ..reference.executor import Executor

BINS = 2048
METHODS = ("minmax", "percentile", "mse")


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


def choose_ranges(stats: dict[str, TensorStats], method: str = "minmax") -> dict[str, tuple[float, float]]:
    if method not in METHODS:
        raise ValueError(f"calibration method must be one of {METHODS}, not {method!r}")
    out = {}
    for name, s in stats.items():
        if method == "minmax" or s.hist is None or s.hi <= s.lo:
            out[name] = (s.lo, s.hi)
        elif method == "percentile":
            out[name] = _percentile_range(s)
        else:
            out[name] = _mse_range(s)
    return out


def calibrate(g: Graph, samples, method: str = "minmax") -> dict[str, tuple[float, float]]:
    return choose_ranges(collect_stats(g, samples), method)
