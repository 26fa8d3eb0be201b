"""Quantune against the baselines on measured results (fast: a cached table, no compile).

tests/search/data/tuner_tables.json holds, for the three digits CNNs of benchmarks/tune.py
(MobileNet-, ShuffleNet-, ResNet-style), every configuration's measured accuracy and weight bytes
and Quantune's ModelProfile of each model (`ModelProfile.table`: the noise / bytes features of
every configuration):
- "subbyte": the 216-configuration weight-width space under a flash budget, CNNs trained on 600
  digits, accuracy on the other 1,197 (`benchmarks/tune.py --only-subbyte --train-digits 600
  --write-tables ...`);
- "subbyte_400": the same space on the earlier CNNs (1,000 training digits), 400 test digits;
- "int8": the 72-configuration int8 space, 797 test digits.
A tuner here searches the table exactly as benchmarks/tune.py does, so a regression of the
tuner's logic (its features, the cold start, the budget filter, transfer, the tie-break) shows up
as more trials."""
import json
from pathlib import Path

import numpy as np
import pytest

from mcuforge.search.quantune import ModelProfile, Quantune
from mcuforge.search.runner import run_search, score
from mcuforge.search.space import Knob, Space
from mcuforge.search.tuners import make_tuner

pytest.importorskip("xgboost")
DATA = json.loads((Path(__file__).parent / "data" / "tuner_tables.json").read_text())
ARCHS = ("mobilenet", "shufflenet", "resnet")
TOL = 0.002


class TableProfile:
    """A ModelProfile read back from the table (vector and describe())."""

    def __init__(self, space, m):
        self.space = space
        self.vector = np.asarray(m["vector"], np.float32)
        self.flash_budget = m["flash_budget"]
        self._d = {space.key(c): np.asarray(d, np.float32) for c, d in zip(space.all(), m["describe"])}

    def describe(self, config):
        return self._d[self.space.key(config)]

    def bytes_ratio(self, config):
        return float(self.describe(config)[ModelProfile.FEATURES.index("weight_bytes_ratio")])


def load(which):
    space = Space([Knob(k, tuple(v)) for k, v in DATA[which]["space"].items()])
    out = {}
    for arch, m in DATA[which]["models"].items():
        prof = TableProfile(space, m)
        table = {space.key(c): {"accuracy": a, "weights_bytes": b}
                 for c, a, b in zip(space.all(), m["accuracy"], m["weights_bytes"])}
        out[arch] = (table, m["flash_budget"], prof)
    return space, out


def trials(which, arch, tuner, seeds=range(5), tol=TOL):
    space, models = load(which)
    table, budget, prof = models[arch]
    best = max(score(r, "acc", budget) for r in table.values())
    transfer = [(models[o][2], c, score(models[o][0][space.key(c)], "acc", models[o][1]))
                for o in ARCHS if o != arch for c in space.all()]
    runs = []
    for s in seeds:
        t = (Quantune(space, s, model_features=prof, transfer=transfer) if tuner == "quantune+transfer" else
             Quantune(space, s, model_features=prof) if tuner == "quantune" else make_tuner(tuner, space, s))
        res = run_search(lambda c: table[space.key(c)], space, t, space.size, progress=False,
                         stop_at=best - tol, flash_budget=budget)
        runs.append(res.trials_to(best, tol))
    return float(np.median(runs))


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("tuner", ["quantune", "quantune+transfer"])
def test_first_trial_within_0_2_points_on_1197_digits(arch, tuner):
    # measured over 30 seeds: 1 / 1 / 1 trials with and without transfer (the least-noise
    # configuration that fits the budget); random search needs a median of 9 / 39.5 / 10.5
    assert trials("subbyte", arch, tuner, seeds=range(3)) == 1


def test_random_search_needs_five_times_more_trials():
    # the claim of the issue, on the 1,197-digit tables: random search's median over 10 seeds
    for arch in ARCHS:
        assert trials("subbyte", arch, "random", seeds=range(10)) >= 5, arch


@pytest.mark.parametrize("arch,measured", [("mobilenet", 4), ("shufflenet", 7), ("resnet", 5)])
def test_transfer_reaches_the_exact_best(arch, measured):
    # tolerance 0: the first guess is not the best, the cost model (transfer + this model's
    # results) has to find it; measured (30 seeds, every seed the same): 4 / 7 / 5 trials,
    # random search 35 / 90 / 45
    assert trials("subbyte", arch, "quantune+transfer", seeds=range(2), tol=0.0) <= measured


def test_without_transfer_the_cost_model_beats_random_to_the_exact_best():
    # ShuffleNet: 1 of 144 feasible configurations has the best accuracy; measured medians over
    # 30 seeds: quantune 13.5, random 90
    q = trials("subbyte", "shufflenet", "quantune", seeds=range(4), tol=0.0)
    r = trials("subbyte", "shufflenet", "random", seeds=range(4), tol=0.0)
    assert q * 3 <= r, (q, r)


@pytest.mark.parametrize("arch", ARCHS)
def test_400_digit_tables_still_take_one_trial(arch):
    # the earlier CNNs (400 test digits): 1 / 1 / 1 trials with transfer (2 / 2 / 1 before the
    # zero-shot guess respected the budget and came first with transfer data)
    assert trials("subbyte_400", arch, "quantune+transfer", seeds=range(2)) == 1


def test_over_budget_configurations_come_last():
    space, models = load("subbyte")
    table, budget, prof = models["mobilenet"]
    q, hist = Quantune(space, 0, model_features=prof), []
    for _ in range(20):
        c = q.ask(1, hist)[0]
        assert table[space.key(c)]["weights_bytes"] <= budget
        hist.append((c, score(table[space.key(c)], "acc", budget)))
    # with transfer data the first trial is the zero-shot guess too, and a batch starts with it
    transfer = [(models[o][2], c, 0.5) for o in ("resnet",) for c in space.all()]
    first = Quantune(space, 0, model_features=prof).ask(1, [])[0]
    batch = Quantune(space, 0, model_features=prof, transfer=transfer).ask(3, [])
    assert batch[0] == first and len({space.key(c) for c in batch}) == 3


@pytest.mark.parametrize("arch", ARCHS)
def test_int8_space_first_trial_is_near_best(arch):
    # the least-noise configuration (the profile's zero-shot guess) is within 0.2 points
    assert trials("int8", arch, "quantune", seeds=range(2)) == 1


def test_cold_start_is_the_least_noise_configuration():
    space, models = load("int8")
    prof = models["shufflenet"][2]
    first = Quantune(space, 0, model_features=prof).ask(1, [])[0]
    total = ModelProfile.TOTAL
    assert prof.describe(first)[total] == min(prof.describe(c)[total] for c in space.all())   # no budget here
    # a batch is filled with random configurations, the same ones one-by-one asks give
    batch = Quantune(space, 0, model_features=prof).ask(4, [])
    assert batch[0] == first and len({space.key(c) for c in batch}) == 4
    q, hist = Quantune(space, 0, model_features=prof), []
    for _ in range(4):
        hist.append((q.ask(1, hist)[0], 0.9))
    assert [space.key(c) for c, _ in hist] == [space.key(c) for c in batch]


def test_profiles_and_plain_vectors_do_not_mix():
    space, models = load("int8")
    from mcuforge.errors import McuforgeError
    with pytest.raises(McuforgeError, match="ModelProfile"):
        Quantune(space, 0, model_features=models["resnet"][2], transfer=[(np.zeros(5), space.all()[0], 0.9)])
