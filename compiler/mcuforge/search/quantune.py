"""Quantune's learned tuner: an XGBoost regressor over features of (model, configuration)
predicts the accuracy of every configuration not evaluated yet; it is refitted on all results
at each ask and the best-predicted configurations are evaluated next.

Features (as Quantune describes a model, its layers and the configuration together):
- the one-hot knobs of the configuration;
- with a `ModelProfile`: features of the model (layer count, depthwise share, outliers of its
  activations) and of the configuration applied to this model: how much quantization noise it
  puts into the activations (under its calibration ranges) and into the weights of the first,
  middle and last layers (at its widths and granularity), and its weight bytes. These mean the
  same on every network, so results of other models warm-start the cost model (`transfer`), as
  Quantune transfers across networks. More noise never predicts a higher accuracy (monotone
  constraints of the booster): the model extrapolates from a few results in the right direction.

Without transfer data the first trial is the configuration with the least total noise (the
profile's zero-shot guess), then random ones until `n_init` results, then the learned model.
Under a flash budget the profile knows every configuration's weight bytes before evaluating it
(the compiler's layout): configurations whose weights alone exceed the budget cannot win (their
flash only grows with code), so they are proposed only once every other one has been tried.
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


def _has_profile(x) -> bool:
    return hasattr(x, "describe") and hasattr(x, "vector")


class Quantune(Tuner):
    name = "quantune"

    def __init__(self, space: Space, seed: int = 0, n_init: int = 4, model_features=None,
                 transfer: list[tuple] | None = None, explore: float = 0.0, monotone: bool = True):
        """n_init: results before the first fit (none with transfer data); model_features: a
        ModelProfile of this model (or a plain vector describing it); transfer: (profile or
        vector, config, accuracy) triples measured on other models, of the same kind as
        model_features; explore: chance of a random proposal; monotone: predicted accuracy
        never rises with a noise feature of the profile."""
        super().__init__(space, seed)
        self.transfer = transfer or []
        self.n_init = n_init if not self.transfer else 0
        self.profile = model_features if _has_profile(model_features) else None
        if self.profile is not None:
            self.model_features = np.asarray(self.profile.vector, np.float32)
        else:
            self.model_features = np.asarray(np.zeros(0) if model_features is None else model_features, np.float32)
        if any(_has_profile(mf) != (self.profile is not None) for mf, _, _ in self.transfer):
            from ..errors import McuforgeError
            raise McuforgeError("transfer data and this model must both come with a ModelProfile, or both without")
        self.explore = explore
        self.monotone = monotone
        self._random = RandomSearch(space, seed)

    def _row(self, mf, config):
        if _has_profile(mf):
            return np.concatenate([np.asarray(mf.vector, np.float32), mf.describe(config), self.space.features(config)])
        return np.concatenate([np.asarray(mf, np.float32), self.space.features(config)])

    def _fits(self, config) -> bool:
        """False when the profile's weight bytes alone exceed the flash budget."""
        p = self.profile
        return p is None or getattr(p, "flash_budget", None) is None or p.bytes_ratio(config) <= 1.0

    def _candidates(self, history) -> list[dict]:
        """Unseen configurations, those that can fit the flash budget while any are left."""
        unseen = self._unseen(history)
        fit = [c for c in unseen if self._fits(c)]
        return fit or unseen

    def _random_fits(self, n, history) -> list[dict]:
        """The seeded random order, configurations that can fit the budget first."""
        seen = {self.space.key(c) for c, _ in history}
        order = [c for c in self._random.order if self.space.key(c) not in seen]
        return ([c for c in order if self._fits(c)] + [c for c in order if not self._fits(c)])[:n]

    def _cold(self, n, history):
        """Before n_init results: the profile's least-noise configuration first, then random."""
        n = min(n, self.n_init - len(history))
        if history or self.profile is None:
            return self._random_fits(n, history)
        first = self._zero_shot(history)
        return [first] + self._random_fits(n - 1, [(first, 0.0)])

    def _zero_shot(self, history) -> dict:
        """The profile's guess before any result of this model: the least total noise that fits."""
        unseen = self._candidates(history)
        noise = np.asarray([self.profile.describe(c)[ModelProfile.TOTAL] for c in unseen])
        return unseen[int(np.lexsort((self.rng.random(len(unseen)), noise))[0])]

    def ask(self, n, history):
        if len(history) < self.n_init:
            return self._cold(n, history)
        if not history and self.profile is not None and self.transfer:
            # With transfer data but no result of this model yet, the first trial is still the
            # zero-shot guess: other networks' results rank configurations by what hurt *them*
            # (a 4-bit first layer costs ResNet nothing and MobileNet a point), while the noise this
            # configuration puts into *this* model is measured. The cost model takes over from the
            # second trial, fitted on the transfer data and this model's first result.
            first = self._zero_shot(history)
            return [first] + (self._learned(n - 1, history, skip=self.space.key(first)) if n > 1 else [])
        return self._learned(n, history)

    def _learned(self, n, history, skip=None):
        """The n unseen configurations (but `skip`) the cost model predicts best."""
        unseen = [c for c in self._candidates(history) if self.space.key(c) != skip]
        if not unseen or n < 1:
            return []
        xs = [self._row(mf, c) for mf, c, _ in self.transfer]
        ys = [a for _, _, a in self.transfer]
        xs += [self._row(self.profile if self.profile is not None else self.model_features, c) for c, _ in history]
        ys += [s for _, s in history]
        if not xs:
            return self._random.ask(n, history)
        xgb = _xgboost()
        weights = [1.0] * len(self.transfer) + [4.0] * len(history)
        kw = {}
        if self.monotone and self.profile is not None:
            cons = [0] * len(xs[0])
            for i in ModelProfile.NOISE:
                cons[len(self.model_features) + i] = -1
            kw["monotone_constraints"] = "(" + ",".join(map(str, cons)) + ")"
        me = self.profile if self.profile is not None else self.model_features
        X, y, w = np.stack(xs), np.asarray(ys, np.float32), np.asarray(weights)
        xu = np.stack([self._row(me, c) for c in unseen])
        model = xgb.XGBRegressor(n_estimators=80, max_depth=4, learning_rate=0.3, subsample=1.0,
                                 random_state=self.seed, n_jobs=1, tree_method="exact", **kw)
        model.fit(X, y, sample_weight=w)
        pred = model.predict(xu)
        # ties (many configurations share a prediction) go to the one with less quantization noise,
        # then to a seeded random order
        tiebreak = self.rng.random(len(unseen))
        noise = (np.asarray([self.profile.describe(c)[ModelProfile.TOTAL] for c in unseen])
                 if self.profile is not None else np.zeros(len(unseen)))
        order = np.lexsort((tiebreak, noise, -pred))
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


def _log_noise(x: float) -> float:
    return float(np.log10(max(x, 1e-12)))


def activation_noise(s, lo: float, hi: float, symmetric: bool) -> float:
    """Relative error power (error / signal) of int8 activations on the grid that covers
    [lo, hi] (as quant/int8.py's activation_quant builds it), measured on the histogram of the
    tensor's calibration values: rounding inside the range and clipping outside it."""
    from ..quant.int8 import activation_quant
    e = s.edges()
    c = (e[:-1] + e[1:]) / 2
    qp = activation_quant(lo, hi, symmetric)
    scale, zp = float(qp.s), int(qp.zp)
    q = np.clip(np.round(c / scale) + zp, -127 if symmetric else -128, 127)
    err = float(np.sum(s.hist * ((q - zp) * scale - c) ** 2))
    return err / max(float(np.sum(s.hist * c * c)), 1e-30)


class ModelProfile:
    """What Quantune knows of a model before it evaluates any accuracy (computed once, from the
    float weights, the calibration statistics and one code generation per weight-width choice):

    - `vector`: features of the model (`model_features`);
    - `describe(config)`: features of (model, configuration) that say how much quantization noise
      the configuration puts into this model, in units that mean the same on every model, so that
      results transfer across networks: the relative error power (log10) of the activations under
      the configuration's calibration ranges (mean and worst tensor, measured against the real
      calibration histograms), of the weights of the first layer, the middle layers (mean and
      worst) and the last layer at the configuration's widths and granularity, the sum of all these
      relative noises (independent noise adds), and its weight bytes (the compiler's, known before
      any accuracy run) over the flash budget (without a budget: over the int8 weight bytes).

    The activation ranges come from the configuration's own statistics (its `data` and `n_calib`),
    their error from the largest real-data statistics, so too few or distilled samples show up as
    a range that misfits the data."""

    FEATURES = ("act_noise_mean", "act_noise_max", "w_first_noise", "w_mid_noise_mean", "w_mid_noise_max",
                "w_last_noise", "total_noise", "weight_bytes_ratio")
    NOISE = tuple(range(7))      # the features accuracy can only fall with
    TOTAL = 6

    def __init__(self, evaluator, vector=None, flash_budget: int | None = None):
        g = evaluator.graph
        self.vector = np.asarray(model_features(evaluator) if vector is None else vector, np.float32)
        self.flash_budget = flash_budget
        self._ev = evaluator
        self._weights = [np.asarray(g.tensors[g.nodes[n].inputs[1]].data, np.float64) for n in evaluator.weight_layers]
        self._bytes: dict = {}
        self._wnoise: dict = {}
        self._anoise: dict = {}
        self._cache: dict = {}

    def _weight_bytes(self, config: dict) -> int:
        """The compiler's weight bytes for the configuration's kernels and widths: one code
        generation per (kernels, width) gives every layer's bytes, and a configuration adds them."""
        from .space import weight_bits_of
        layers = self._ev.weight_layers
        bits = weight_bits_of(config, layers) or {n: 8 for n in layers}
        kernels = config.get("kernels", "fast")
        total = 0
        for n in layers:
            key = (kernels, int(bits[n]))
            if key not in self._bytes:
                self._bytes[key] = self._ev.layer_bytes(key[1], kernels)
            total += self._bytes[key][1][n]
        return total + self._bytes[key][0]

    def bytes_ratio(self, config: dict) -> float:
        """Weight bytes over the flash budget, or over the int8 weight bytes without a budget."""
        from .space import WIDTH_KNOBS
        ref = self.flash_budget or self._weight_bytes({k: v for k, v in config.items() if k not in WIDTH_KNOBS})
        return self._weight_bytes(config) / max(ref, 1)

    def _weight_noise(self, i: int, bits: int, per_channel: bool) -> float:
        from ..quant.subbyte import quantize_weights_bits
        key = (i, bits, per_channel)
        if key not in self._wnoise:
            w = self._weights[i]
            q, qp = quantize_weights_bits(w, bits, per_channel)
            deq = q.astype(np.float64) * np.asarray(qp.scale, np.float64).reshape((-1,) + (1,) * (w.ndim - 1))
            self._wnoise[key] = float(np.sum((deq - w) ** 2) / max(np.sum(w * w), 1e-30))
        return self._wnoise[key]

    def _act_noise(self, config) -> tuple[float, float, float]:
        from ..quant.calibrate import choose_ranges
        from .space import calib_options
        data, n = config.get("data", "real"), int(config.get("n_calib", 10 ** 9))
        key = (data, n, config.get("calib", "minmax"), float(config.get("clip", 1.0)), config.get("acts", "asymmetric"))
        if key not in self._anoise:
            method, pct = calib_options(config)
            ranges = choose_ranges(self._ev.stats(data, n), method, pct, float(config.get("clip", 1.0)))
            ref = self._ev.stats("real", 10 ** 9)
            noise = [activation_noise(ref[t], lo, hi, key[-1] == "symmetric")
                     for t, (lo, hi) in ranges.items() if ref[t].hist is not None and ref[t].hi > ref[t].lo] or [0.0]
            logs = [_log_noise(x) for x in noise]
            self._anoise[key] = (float(np.mean(logs)), float(np.max(logs)), float(np.sum(noise)))
        return self._anoise[key]

    def describe(self, config: dict) -> np.ndarray:
        from .space import weight_bits_of
        ckey = tuple(sorted((k, str(v)) for k, v in config.items()))
        if ckey in self._cache:
            return self._cache[ckey]
        layers = self._ev.weight_layers
        bits = weight_bits_of(config, layers) or {n: 8 for n in layers}
        pc = config.get("weights", "per_channel") == "per_channel"
        wn = [self._weight_noise(i, int(bits[n]), pc) for i, n in enumerate(layers)]
        mid = [_log_noise(x) for x in wn[1:-1]] or [_log_noise(wn[0])]
        a_mean, a_max, a_sum = self._act_noise(config)
        # total: the relative noise of every quantized tensor added up, as independent noise adds
        out = np.asarray([a_mean, a_max, _log_noise(wn[0]), float(np.mean(mid)), float(np.max(mid)),
                          _log_noise(wn[-1]), _log_noise(float(np.sum(wn)) + a_sum), self.bytes_ratio(config)],
                         np.float32)
        self._cache[ckey] = out
        return out

    def table(self, space: Space) -> dict[str, np.ndarray]:
        """describe() for every configuration of the space, keyed by space.key."""
        return {space.key(c): self.describe(c) for c in space.all()}
