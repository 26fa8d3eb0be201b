"""Quantune's learned tuner: an XGBoost regressor over features of (model, configuration)
predicts the accuracy of every configuration not evaluated yet; it is refitted on all results
at each ask and the best-predicted configurations are evaluated next.

Features: the one-hot knobs of the configuration, and optionally features of the model (for
instance its calibration statistics, see `model_features`) so that results of other models can
warm-start the cost model (`transfer`), as Quantune transfers across networks.
"""
from __future__ import annotations

import numpy as np

from .space import Space
from .tuners import RandomSearch, Tuner


def _xgboost():
    try:
        import xgboost
    except ImportError:
        from ..errors import McuforgeError
        raise McuforgeError("the quantune tuner needs xgboost: pip install 'mcuforge[search]'") from None
    return xgboost


class Quantune(Tuner):
    name = "quantune"

    def __init__(self, space: Space, seed: int = 0, n_init: int = 4, model_features=None,
                 transfer: list[tuple[np.ndarray, dict, float]] | None = None, explore: float = 0.0):
        """n_init: random configurations before the first fit (fewer with transfer data);
        model_features: a vector describing this model; transfer: (model_features, config,
        accuracy) triples measured on other models; explore: chance of a random proposal."""
        super().__init__(space, seed)
        self.n_init = n_init if not transfer else min(n_init, 1)
        self.model_features = np.zeros(0, np.float32) if model_features is None else np.asarray(model_features, np.float32)
        self.transfer = transfer or []
        self.explore = explore
        self._random = RandomSearch(space, seed)

    def _row(self, mf, config):
        return np.concatenate([mf, self.space.features(config)])

    def ask(self, n, history):
        if len(history) < self.n_init and not self.transfer:
            return self._random.ask(min(n, self.n_init - len(history)) or n, history)
        unseen = self._unseen(history)
        if not unseen:
            return []
        xs = [self._row(np.asarray(mf, np.float32), c) for mf, c, _ in self.transfer]
        ys = [a for _, _, a in self.transfer]
        xs += [self._row(self.model_features, c) for c, _ in history]
        ys += [s for _, s in history]
        if len(history) < self.n_init and not xs:
            return self._random.ask(n, history)
        xgb = _xgboost()
        weights = [1.0] * len(self.transfer) + [4.0] * len(history)
        model = xgb.XGBRegressor(n_estimators=80, max_depth=4, learning_rate=0.3, subsample=1.0,
                                 random_state=self.seed, n_jobs=1, tree_method="exact")
        model.fit(np.stack(xs), np.asarray(ys, np.float32), sample_weight=np.asarray(weights))
        pred = model.predict(np.stack([self._row(self.model_features, c) for c in unseen]))
        # ties (many configurations share a prediction) are broken by a seeded random order
        tiebreak = self.rng.random(len(unseen))
        order = np.lexsort((tiebreak, -pred))
        picks = [unseen[i] for i in order[:n]]
        for i in range(len(picks)):
            if self.explore and self.rng.random() < self.explore:
                rest = [c for c in unseen if c not in picks]
                if rest:
                    picks[i] = rest[int(self.rng.integers(len(rest)))]
        return picks


def model_features(evaluator, data: str = "real", n: int = 64) -> np.ndarray:
    """A fixed-length description of a model from its float calibration statistics: layer count,
    share of depthwise convolutions, and, over the activation tensors, quantiles of how far the
    maximum sits from the 99.99th percentile (the outliers that make min/max calibration fail)."""
    from ..quant.calibrate import _percentile_range
    g = evaluator.graph
    stats = evaluator.stats(data, n)
    ratios = []
    for s in stats.values():
        if s.hist is None or s.hi <= s.lo:
            continue
        lo, hi = _percentile_range(s, 99.99)
        span = max(hi - lo, 1e-12)
        ratios.append(np.log2(max(s.hi - s.lo, 1e-12) / span))
    convs = [nd for nd in g.nodes.values() if nd.op == "conv2d"]
    dw = sum(1 for nd in convs if nd.attrs.get("groups", 1) > 1)
    r = np.asarray(ratios or [0.0])
    return np.asarray([len(g.nodes), dw / max(len(convs), 1), *np.quantile(r, [0.5, 0.9, 1.0])], np.float32)
