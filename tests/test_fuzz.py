"""The mutation campaign of issue 15 as tests: byte-level and structured mutants of small ONNX
models (CNN, MLP, QDQ), a small int8 .tflite and the MLPerf Tiny int8 models go through
`mcuforge compile`; none may end in an internal error, a library that does not build or run, a
sanitizer finding, a host/golden mismatch, a leftover folder or a hang (tests/fuzz/harness.py).
The default run takes a fixed-seed sample of 100 mutants of the small seeds; the slow run takes
1000 over every seed (benchmarks/fuzz.py prints the same counts)."""
from __future__ import annotations

import pytest

from fuzz.harness import HostBuilder, run_campaign
from fuzz.seeds import mlperf_seeds, small_seeds


def _assert_clean(camp):
    print("\n" + camp.table())
    lines = [f"{seed}: [{o.desc}] -> {o.cls}: {o.detail}" for seed, o in camp.bad]
    assert not camp.bad, "\n".join(lines[:20])
    # a campaign that only feeds garbage would prove nothing: both outcomes must occur
    assert camp.counts["refused"] > 0 and camp.counts["accepted"] > 0


def test_fuzz_sample_of_100_small_mutants(tmp_path):
    camp = run_campaign(small_seeds(), 100, tmp_path, seed=2026, build=True, build_every=5)
    _assert_clean(camp)
    assert sum(camp.counts.values()) == 100


@pytest.mark.slow
def test_fuzz_campaign_1000_mutants_both_formats(tmp_path):
    seeds = small_seeds() + mlperf_seeds()
    if not any(s.suffix == ".tflite" and s.name.endswith("int8") for s in seeds):
        pytest.skip("MLPerf Tiny models not found (set MCUFORGE_MLPERF_TINY)")
    camp = run_campaign(seeds, 1000, tmp_path, seed=15, build=True)
    _assert_clean(camp)
    assert sum(camp.counts.values()) == 1000


@pytest.fixture(scope="module")
def builder(tmp_path_factory):
    """One sanitized object cache for the runtime kernels, shared by the family tests."""
    return HostBuilder(tmp_path_factory.mktemp("objcache"))


def _family_check(seed, tmp_path, builder, quant_rng_seed=0):
    """Compile the unmutated seed, build the host library with ASan + UBSan
    (-fno-sanitize-recover), run all -128 / all 127 / random inputs, compare with the golden model."""
    import numpy as np

    from fuzz.harness import compile_one
    o = compile_one(seed, seed.data, {}, tmp_path, np.random.default_rng(quant_rng_seed), builder)
    assert o.cls == "accepted", f"{seed.name}: {o.cls}: {o.detail}"


@pytest.mark.parametrize("name", [s.name for s in small_seeds()])
def test_sanitized_host_library_small_families(name, tmp_path, builder):
    _family_check(next(s for s in small_seeds() if s.name == name), tmp_path, builder)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["kws_dscnn_int8", "ic_resnet8_int8", "vww_mbv1_96_int8", "ad_fcae_int8"])
def test_sanitized_host_library_mlperf(name, tmp_path, builder):
    seeds = {s.name: s for s in mlperf_seeds()}
    if name not in seeds:
        pytest.skip(f"{name}.tflite not found (set MCUFORGE_MLPERF_TINY)")
    _family_check(seeds[name], tmp_path, builder)
