"""The search space: named knobs with finite choices; a configuration is a dict knob -> choice.

Every knob is a real option of the quantizer or the compiler:
- calib: activation range method (quant/calibrate.py): minmax, percentile at 99.9 / 99.99 /
  99.999 %, the MSE-optimal clip, or KL (entropy) calibration;
- clip: a clipping ratio applied to the chosen ranges;
- weights: per-channel or per-tensor weight scales (quant/int8.py);
- acts: asymmetric or symmetric (zero point 0) activations (quant/int8.py);
- n_calib: how many calibration samples are used;
- data: real calibration samples or ZeroQ's distilled ones (search/zeroq.py);
- kernels: the fastest kernels or the leanest arena (compile_model's min_arena), a cost-only knob;
- w_first, w_mid, w_last: weight widths (8, 4 or 2 = ternary; quant/subbyte.py) of the first
  weight layer, the layers between, and the last one. Three groups, not one knob per layer, so
  an exhaustive grid stays affordable; the first and last layers are the ones the literature
  keeps wide, so they get knobs of their own.
int16 activations are not in the space: the float ONNX quantizer has no int16 scheme.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..errors import McuforgeError

CALIB_CHOICES = ("minmax", "p99.9", "p99.99", "p99.999", "mse", "kl")


@dataclass(frozen=True)
class Knob:
    name: str
    choices: tuple

    def __post_init__(self):
        if not self.choices:
            raise McuforgeError(f"knob {self.name} has no choices")


class Space:
    def __init__(self, knobs: list[Knob]):
        self.knobs = list(knobs)
        self.names = [k.name for k in self.knobs]
        self._index = {k.name: {c: i for i, c in enumerate(k.choices)} for k in self.knobs}

    @property
    def size(self) -> int:
        return int(np.prod([len(k.choices) for k in self.knobs]))

    def all(self) -> list[dict]:
        """Every configuration in grid order (the last knob varies fastest)."""
        return [dict(zip(self.names, combo)) for combo in itertools.product(*(k.choices for k in self.knobs))]

    def key(self, config: dict) -> str:
        return ",".join(f"{n}={config[n]}" for n in self.names)

    def validate(self, config: dict) -> dict:
        for k in self.knobs:
            if config.get(k.name) not in self._index[k.name]:
                raise McuforgeError(f"configuration {config}: {k.name} must be one of {list(k.choices)}")
        return {n: config[n] for n in self.names}

    def indices(self, config: dict) -> list[int]:
        return [self._index[n][config[n]] for n in self.names]

    def from_indices(self, idx) -> dict:
        return {k.name: k.choices[i] for k, i in zip(self.knobs, idx)}

    def random(self, rng: np.random.Generator) -> dict:
        return {k.name: k.choices[int(rng.integers(len(k.choices)))] for k in self.knobs}

    def features(self, config: dict) -> np.ndarray:
        """One-hot encoding of every knob (the configuration part of Quantune's features)."""
        out = []
        for k in self.knobs:
            v = np.zeros(len(k.choices), np.float32)
            v[self._index[k.name][config[k.name]]] = 1.0
            out.append(v)
        return np.concatenate(out)

    def to_json(self) -> dict:
        return {k.name: list(k.choices) for k in self.knobs}


WIDTH_KNOBS = ("w_first", "w_mid", "w_last")


def default_space(objective: str = "acc", distilled: bool = False, n_calib: tuple = (32, 256),
                  weight_bits: tuple = ()) -> Space:
    """The space `mcuforge tune` searches: 6 x 3 x 2 x 2 x len(n_calib) configurations, twice that
    with distilled data, twice again with the kernel knob (objective 'pareto'), times
    len(weight_bits) ** 3 with weight widths (e.g. (8, 4, 2))."""
    knobs = [
        Knob("calib", CALIB_CHOICES),
        Knob("clip", (1.0, 0.9, 0.75)),
        Knob("weights", ("per_channel", "per_tensor")),
        Knob("acts", ("asymmetric", "symmetric")),
        Knob("n_calib", tuple(n_calib)),
    ]
    if distilled:
        knobs.append(Knob("data", ("real", "distilled")))
    if objective == "pareto":
        knobs.append(Knob("kernels", ("fast", "min_arena")))
    knobs += width_knobs(weight_bits)
    return Space(knobs)


def width_knobs(weight_bits: tuple) -> list[Knob]:
    """The three weight-width knobs (empty when weight_bits has at most one width)."""
    bits = tuple(int(b) for b in weight_bits)
    if len(bits) <= 1:
        return []
    bad = [b for b in bits if b not in (8, 4, 2)]
    if bad:
        raise McuforgeError(f"weight widths must be 8, 4 or 2 (ternary), not {bad}")
    return [Knob(name, bits) for name in WIDTH_KNOBS]


def weight_bits_of(config: dict, layers: list[str]) -> dict[str, int] | None:
    """{layer: width} for the configuration's width knobs over the weight layers in execution
    order (first, middle ones, last); None when the configuration has no width knobs."""
    if not any(k in config for k in WIDTH_KNOBS) or not layers:
        return None
    widths = {n: int(config.get("w_mid", 8)) for n in layers[1:-1]}
    widths[layers[-1]] = int(config.get("w_last", 8))
    widths[layers[0]] = int(config.get("w_first", 8))
    return widths


def calib_options(config: dict) -> tuple[str, float]:
    """The quantizer's (method, percentile) for the `calib` knob."""
    c = config.get("calib", "minmax")
    if c.startswith("p"):
        return "percentile", float(c[1:])
    return c, 99.99
