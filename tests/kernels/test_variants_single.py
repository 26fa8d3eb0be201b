"""requant="single" (one rounding of the exact product, for models quantized from ONNX) in every
optimized kernel variant: the same variants as TFLite's double rounding are selected (DSP on
M4 / M7 / M33, Helium on M55, the tuned C on M3 and M0), switched by the generated mcf_config.h,
and the board's bytes equal the golden model's single-rounding bytes. The rounding identities the
kernels rely on are checked first against the golden model's rule in numpy.

Outside oracle of the single rule itself: tests/test_requant_single.py (exact rational rounding;
onnxruntime's QDQ model end to end)."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.reference import arith

from .layer_models import build_model
from .test_fast_m0 import FAST_SPECS as M0_SPECS, _check_selected, run_case as run_m0
from .test_variants import CORES, FAST_SPECS, POOL_ADD, kernels_of, random_specs, run_case, _valid


def _single(x, m, shift):
    with arith.rounding("single"):
        return arith.multiply_by_quantized_multiplier(x, m, shift)


def test_kernel_rounding_identities_match_the_golden_single_rule():
    rng = np.random.default_rng(1)
    n = 20000
    m = rng.integers(1 << 30, (1 << 31) - 1, n)
    zp = rng.integers(-128, 128, n)
    # DSP (mcf_dsp_requant, MCF_SINGLE_ROUNDING): SMMLA(acc2, m, rcz) >> e, |acc| < 2^30, 1 <= e <= 22
    acc = rng.integers(-(1 << 30) + 1, 1 << 30, n)
    e = rng.integers(1, 23, n)
    rcz = (1 << (e - 1)) + zp * (1 << e)
    smmla = (rcz * (1 << 32) + 2 * acc * m) >> 32
    assert np.array_equal(smmla >> e, _single(acc, m, -e) + zp)
    # tuned C (mcf_fast_requant): (floor(2 acc m / 2^32) + rcz) >> e; on ARMv6-M from 16-bit halves
    a29 = acc >> 1
    A = 2 * a29
    al = ((A + (1 << 15)) & 0xFFFF) - (1 << 15)
    ah = (A - al) >> 16
    ml = ((m + (1 << 15)) & 0xFFFF) - (1 << 15)
    mh = (m - ml) >> 16
    hi16 = ah * mh + ((ah * ml + al * mh + ((al * ml) >> 16)) >> 16)
    assert np.array_equal(hi16, (A * m) >> 32)
    assert np.array_equal((hi16 + rcz) >> e, _single(a29, m, -e) + zp)
    # Helium (mcf_mve_requant.h): VRSHL(VMULH(x << l', m), -r') with mve_shifts' l', r'
    from mcuforge.codegen.c.variants.mve import mve_shifts
    shift = rng.integers(-24, 3, n)
    with arith.rounding("single"):
        left, right, mask = mve_shifts(shift)
    assert (right >= 1).all() and not mask.any()
    x = rng.integers(-(1 << 20), 1 << 20, n) >> np.maximum(shift, 0)
    X = x << left
    assert (np.abs(X) < (1 << 31)).all()
    hi = (X * m) >> 32
    assert np.array_equal((hi + (1 << (right - 1))) >> right, _single(x, m, shift))


def _check_variants(info, target):
    used = kernels_of(info)
    want = CORES[target][1]
    assert any(k.startswith("mcf_conv2d") and k.endswith(want["conv2d"]) for k in used), used
    assert any(k.startswith("mcf_depthwise") and k.endswith(want["depthwise"]) for k in used), used
    assert any(k.startswith("mcf_fully") and k.endswith(want["dense"]) for k in used), used
    for kind in ("maxpool", "avgpool", "add"):
        ks = [k for k in used if k.startswith(f"mcf_{kind}_s8")]
        assert ks and all(k == f"mcf_{kind}_s8{POOL_ADD[target]}" for k in ks), used


# by default the DSP (M4) and Helium (M55) kernels; the tuned C (M3, and M0's 16-bit-halves path,
# whose arithmetic the identities test checks in numpy), M7 and M33 (the M4's code) in the slow run
SLOW_CORES = {"cortex-m3", "cortex-m7", "cortex-m33"}


@pytest.mark.parametrize("target", [pytest.param(t, marks=pytest.mark.slow) if t in SLOW_CORES else t
                                    for t in CORES])
def test_single_rounding_variants_bit_exact(tmp_path, target):
    info, _ = run_case(tmp_path, target, FAST_SPECS, requant="single")
    assert (tmp_path / target / "mcuforge_runtime" / "include" / "mcf_config.h").read_text().count(
        "MCF_SINGLE_ROUNDING 1") == 1
    _check_variants(info, target)


@pytest.mark.slow
def test_single_rounding_fast_variants_bit_exact_on_m0(tmp_path):
    info = run_m0(tmp_path, M0_SPECS, requant="single")
    _check_selected(info, M0_SPECS)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["cortex-m3", "cortex-m4", "cortex-m55"])
def test_single_rounding_variants_random_layers(tmp_path, target):
    rng = np.random.default_rng(11)
    specs = [s for s in random_specs(rng, 14) if _valid(s)]
    run_case(tmp_path, target, specs, seed=5, requant="single")


@pytest.mark.slow
def test_single_and_double_differ_on_these_layers(tmp_path):
    """The cases above would prove little if both roundings gave the same bytes on them."""
    from mcuforge.api import compile_model, simulate
    model, calib, x = build_model(FAST_SPECS, tmp_path / "model.onnx", seed=0)
    outs = {}
    for mode in ("double", "single"):
        compile_model(model, tmp_path / mode, calib=calib, quiet=True, requant=mode)
        outs[mode], _ = simulate(tmp_path / mode, board="reference", x=x, quiet=True)
    differ = sum(not np.array_equal(a, b) for a, b in zip(outs["double"], outs["single"]))
    assert differ >= len(FAST_SPECS) // 3, differ
