"""A tiny real search (compile + golden model per trial) on a local Ray with 1 and with 2
workers: same trials, same best; and `mcuforge tune` end to end, resumed from its results file."""
import json

import numpy as np
import pytest

from mcuforge.cli import main
from mcuforge.search.runner import run_search
from mcuforge.search.space import default_space
from mcuforge.search.tuners import make_tuner


def test_ray_one_and_two_workers_give_the_same_search(evaluator):
    ray = pytest.importorskip("ray")
    from mcuforge.search.ray_runner import RayBackend
    space = default_space(n_calib=(128,))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        runs = {}
        for workers in (1, 2):
            backend = RayBackend(evaluator, workers)
            assert len(backend.actors) == workers
            runs[workers] = run_search(evaluator, space, make_tuner("random", space, 7), 4, backend=backend,
                                       batch=2, progress=False)
            backend.close()
    finally:
        ray.shutdown()
    keys = {w: [space.key(t.config) for t in r.trials] for w, r in runs.items()}
    assert keys[1] == keys[2] and len(keys[1]) == 4
    assert [t.result["accuracy"] for t in runs[1].trials] == [t.result["accuracy"] for t in runs[2].trials]
    assert runs[1].best.config == runs[2].best.config and runs[1].best.result["accuracy"] > 0.5


def test_cli_tune_writes_library_table_plot_and_resumes(digits_cnn, tmp_path, capsys):
    path, _, (xtr, _, xte, yte) = digits_cnn
    np.save(tmp_path / "x.npy", xte[:120])
    np.save(tmp_path / "y.npy", yte[:120])
    np.save(tmp_path / "c.npy", xtr[:64])
    out = tmp_path / "tuned"
    argv = ["tune", str(path), "--data", str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy"),
            "--calib", str(tmp_path / "c.npy"), "--no-ray", "--tuner", "genetic", "--batch", "1", "-o", str(out)]
    assert main(argv + ["--trials", "3"]) == 0
    for f in ("lib/model.json", "lib/graph.json", "trials.csv", "trials.jsonl", "pareto.png", "best.json"):
        assert (out / f).is_file(), f
    assert len((out / "trials.csv").read_text().splitlines()) == 4
    assert main(argv + ["--trials", "4"]) == 0
    best = json.loads((out / "best.json").read_text())
    assert best["evaluated"] == 1 and best["result"]["accuracy"] > 0.5
    assert "1 evaluated now, 3 from trials.jsonl" in capsys.readouterr().out
    np.save(tmp_path / "bad.npy", yte[:5])
    assert main(argv[:5] + [str(tmp_path / "bad.npy")] + argv[6:] + ["-o", str(tmp_path / "t2")]) == 1
    assert "120 samples but 5 labels" in capsys.readouterr().err
