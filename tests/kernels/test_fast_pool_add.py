"""Tuned portable C pooling and add (mcf_*_s8_fast.c) on the Cortex-M3 (mps2-an385) and the
Cortex-M0 (micro:bit, 16 KB RAM: small shapes), bit-exact with the golden model: odd channel
counts, padding, stride 2, count_include_pad, fused ReLU, x + x (both inputs of one scale)."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.api import compile_model

from .layer_models import add_spec, assert_branches_exact, build_model, pool_spec

BOARDS = {"cortex-m3": "mps2-an385", "cortex-m0": "microbit"}

M3_SPECS = [
    pool_spec("maxpool", 13, 9, k=3, stride=2, pad=1),
    pool_spec("maxpool", 16, 8),
    pool_spec("avgpool", 13, 9, k=3, stride=2, pad=1),                     # counts 4, 6, 9
    pool_spec("avgpool", 16, 8),                                            # even count: negative ties
    pool_spec("avgpool", 7, 6),                                             # 2x2: one word + 3 channels
    pool_spec("avgpool", 7, (7, 6), k=3, stride=1, pad=1),
    pool_spec("avgpool", 21, 5, k=3, stride=2, pad=1, include_pad=True),
    add_spec(13, (5, 7)),
    add_spec(16, 6, relu=True),
    add_spec(7, 5, same=True),
]
M0_SPECS = [
    pool_spec("maxpool", 5, 5, k=3, stride=2, pad=1),
    pool_spec("avgpool", 5, 5, k=3, stride=2, pad=1),
    pool_spec("avgpool", 8, 4),
    pool_spec("avgpool", 7, 5, k=3, stride=1, pad=1, include_pad=True),
    add_spec(13, 3),
    add_spec(5, 4, relu=True),
    add_spec(7, 3, same=True),
]


def kernels_of(info) -> list[str]:
    return [l.get("kernel", "") for l in info["layers"] if l.get("kernel")]


def run_case(tmp_path, target, specs, seed=0, inputs=None):
    model, calib, x = build_model(specs, tmp_path / "model.onnx", seed=seed)
    res = compile_model(model, tmp_path / target, target=target, calib=calib, quiet=True, speed_first=True)
    used = [k for k in kernels_of(res.info) if k.startswith(("mcf_maxpool", "mcf_avgpool", "mcf_add"))]
    assert len(used) == len(specs) and all(k.endswith("_fast") for k in used), used
    for xs in [x] + [[np.full_like(a, v) for a in x] for v in (inputs or ())]:
        assert_branches_exact(tmp_path / target, BOARDS[target], xs, specs)


def test_fast_pool_add_m3(tmp_path):
    run_case(tmp_path, "cortex-m3", M3_SPECS)


def test_fast_pool_add_m0(tmp_path):
    run_case(tmp_path, "cortex-m0", M0_SPECS)


def random_specs(rng, n, small):
    specs = []
    for _ in range(n):
        kind = rng.choice(["maxpool", "avgpool", "add"])
        c = int(rng.integers(1, 12 if small else 40))
        hw = (int(rng.integers(3, 7 if small else 13)), int(rng.integers(3, 7 if small else 13)))
        if kind == "add":
            specs.append(add_spec(c, hw, relu=bool(rng.integers(2)), same=bool(rng.integers(4) == 0)))
            continue
        k = int(rng.choice([2, 3]))
        pad = int(rng.integers(0, k))
        specs.append(pool_spec(kind, c, hw, k=k, stride=int(rng.choice([1, 2])), pad=pad,
                               include_pad=kind == "avgpool" and pad > 0 and bool(rng.integers(2))))
    return specs


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("target", list(BOARDS))
def test_fast_pool_add_random(tmp_path, target, seed):
    """Random shapes; inputs far outside the calibrated range saturate (window sums at their extremes)."""
    rng = np.random.default_rng(seed)
    small = target == "cortex-m0"
    run_case(tmp_path, target, random_specs(rng, 4 if small else 8, small), seed=seed, inputs=(-1e3, 1e3))
