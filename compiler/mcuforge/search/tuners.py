"""Search strategies over a Space: grid, random and genetic search (the baselines), and the base
class Quantune (quantune.py) shares. A tuner proposes configurations not evaluated yet; the
runner evaluates them and passes the whole history back at the next ask, so a tuner keeps no
state but its random generator, and the same seed with the same history proposes the same."""
from __future__ import annotations

import numpy as np

from .space import Space


class Tuner:
    name = "base"

    def __init__(self, space: Space, seed: int = 0):
        self.space = space
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def ask(self, n: int, history: list[tuple[dict, float]]) -> list[dict]:
        """Up to n distinct configurations absent from history (fewer when the space runs out)."""
        raise NotImplementedError

    def _unseen(self, history) -> list[dict]:
        seen = {self.space.key(c) for c, _ in history}
        return [c for c in self.space.all() if self.space.key(c) not in seen]


class GridSearch(Tuner):
    """Exhaustive search in the space's fixed order."""
    name = "grid"

    def ask(self, n, history):
        return self._unseen(history)[:n]


class RandomSearch(Tuner):
    """Uniform sampling without replacement (a seeded permutation of the space). fits: an
    optional predicate (a configuration can meet the flash budget); the permutation then tries
    the configurations it accepts first, in the same relative order (a budget-aware baseline)."""
    name = "random"

    def __init__(self, space, seed=0, fits=None):
        super().__init__(space, seed)
        self.order = [self.space.all()[i] for i in self.rng.permutation(space.size)]
        if fits is not None:
            self.order = [c for c in self.order if fits(c)] + [c for c in self.order if not fits(c)]

    def ask(self, n, history):
        seen = {self.space.key(c) for c, _ in history}
        return [c for c in self.order if self.space.key(c) not in seen][:n]


class GeneticSearch(Tuner):
    """A steady-state genetic algorithm: a random first population, then children of two parents
    picked by tournament among the evaluated configurations (uniform crossover, each gene mutated
    with probability 1/knobs); a child already evaluated is mutated again, then replaced by a
    random unseen configuration."""
    name = "genetic"

    def __init__(self, space, seed=0, population: int = 8, tournament: int = 3):
        super().__init__(space, seed)
        self.population, self.tournament = population, tournament

    def ask(self, n, history):
        seen = {self.space.key(c) for c, _ in history}
        out: list[dict] = []
        while len(out) < n:
            taken = seen | {self.space.key(c) for c in out}
            if len(taken) >= self.space.size:
                break
            if len(history) < self.population:
                child = self.space.random(self.rng)
            else:
                a, b = self._pick(history), self._pick(history)
                mask = self.rng.random(len(self.space.knobs)) < 0.5
                child = {k.name: (a if m else b)[k.name] for k, m in zip(self.space.knobs, mask)}
                child = self._mutate(child)
            for _ in range(20):
                if self.space.key(child) not in taken:
                    break
                child = self._mutate(child, force=True)
            if self.space.key(child) in taken:
                child = self._random_unseen(taken)
            out.append(child)
        return out

    def _pick(self, history):
        idx = self.rng.choice(len(history), size=min(self.tournament, len(history)), replace=False)
        best = max(idx, key=lambda i: (history[i][1], -i))
        return history[best][0]

    def _mutate(self, config, force: bool = False):
        knobs = self.space.knobs
        flip = self.rng.random(len(knobs)) < 1.0 / len(knobs)
        if force and not flip.any():
            flip[self.rng.integers(len(knobs))] = True
        out = dict(config)
        for k, f in zip(knobs, flip):
            if f and len(k.choices) > 1:
                others = [c for c in k.choices if c != config[k.name]]
                out[k.name] = others[int(self.rng.integers(len(others)))]
        return out

    def _random_unseen(self, taken):
        left = [c for c in self.space.all() if self.space.key(c) not in taken]
        return left[int(self.rng.integers(len(left)))]


def make_tuner(name: str, space: Space, seed: int = 0, **kw) -> Tuner:
    from ..errors import McuforgeError
    if name == "quantune":
        from .quantune import Quantune
        return Quantune(space, seed, **kw)
    tuners = {"grid": GridSearch, "random": RandomSearch, "genetic": GeneticSearch}
    if name not in tuners:
        raise McuforgeError(f"unknown tuner {name!r}: one of quantune, {', '.join(tuners)}")
    return tuners[name](space, seed, **kw)
