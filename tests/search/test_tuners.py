"""Tuners and the search loop on a synthetic accuracy table (fast, no compiler involved):
grid / random / genetic never repeat a configuration, the same seed proposes the same, Quantune
finds the optimum of a structured table in fewer trials than random search, and the results
file resumes an interrupted search."""
import json

import numpy as np
import pytest

from mcuforge.errors import McuforgeError
from mcuforge.search.runner import run_search
from mcuforge.search.space import default_space
from mcuforge.search.tuners import make_tuner

SPACE = default_space()


def synthetic(config):
    """Accuracy with structure a learned model can find: a few knobs matter, together."""
    acc = 0.90
    acc += {"minmax": -0.05, "p99.9": 0.0, "p99.99": 0.01, "p99.999": 0.005, "mse": 0.02, "kl": -0.02}[config["calib"]]
    acc += {1.0: 0.0, 0.9: 0.004, 0.75: -0.03}[config["clip"]]
    acc += -0.25 if config["weights"] == "per_tensor" else 0.0
    acc += -0.01 if config["acts"] == "symmetric" else 0.0
    acc += 0.003 if config["n_calib"] == 256 else 0.0
    return {"accuracy": round(acc, 4), "weights_bytes": 1000, "arena_bytes": 500}


BEST = max(synthetic(c)["accuracy"] for c in SPACE.all())


def _search(name, seed, budget=SPACE.size, **kw):
    return run_search(synthetic, SPACE, make_tuner(name, SPACE, seed), budget, progress=False, **kw)


@pytest.mark.parametrize("name", ["grid", "random", "genetic", "quantune"])
def test_no_repeats_and_same_seed_same_trials(name):
    budget = 16
    a = _search(name, 3, budget)
    keys = [SPACE.key(t.config) for t in a.trials]
    assert len(keys) == budget == len(set(keys))
    b = _search(name, 3, budget)
    assert keys == [SPACE.key(t.config) for t in b.trials]


def test_grid_is_exhaustive_and_finds_the_best():
    res = _search("grid", 0)
    assert len(res.trials) == SPACE.size == 144
    assert res.best.result["accuracy"] == BEST


def test_quantune_needs_fewer_trials_than_random_on_a_structured_table():
    def median(name):
        return float(np.median([_search(name, s, stop_at=BEST).trials_to(BEST, 0.0) for s in range(5)]))
    q, r = median("quantune"), median("random")
    assert q < r / 2, (q, r)


def test_resume_from_the_results_file(tmp_path):
    path = tmp_path / "trials.jsonl"
    calls = []

    def counted(config):
        calls.append(config)
        return synthetic(config)

    first = run_search(counted, SPACE, make_tuner("quantune", SPACE, 1), 10, path, batch=2, progress=False)
    assert first.evaluated == 10 and len(calls) == 10
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:7]) + "\n" + lines[7][:20])   # interrupted mid-write after 6 results
    calls.clear()
    again = run_search(counted, SPACE, make_tuner("quantune", SPACE, 1), 12, path, batch=2, progress=False)
    assert len(calls) == again.evaluated == 6
    assert [SPACE.key(t.config) for t in again.trials[:10]] == [SPACE.key(t.config) for t in first.trials]
    with pytest.raises(McuforgeError, match="another search"):
        run_search(counted, SPACE, make_tuner("random", SPACE, 1), 3, path, progress=False)
    assert json.loads(path.read_text().splitlines()[0])["header"]["tuner"] == "quantune"


def test_flash_budget_demotes_configurations_over_it():
    def costly(config):
        r = synthetic(config)
        r["weights_bytes"] = 2000 if config["calib"] == "mse" else 1000
        return r
    res = run_search(costly, SPACE, make_tuner("grid", SPACE, 0), SPACE.size, flash_budget=1500, progress=False)
    assert res.best.config["calib"] != "mse" and res.best.result["weights_bytes"] <= 1500
