"""DSP sub-byte convolutions over more than one block of channels (mcf_subbyte_dsp.h,
codegen/c/variants/dsp_subbyte.py: sub_dsp_schedule, codegen/c/slack.py).

A layer whose unpacked weights do not fit its scratch runs in blocks of channels, either
block-outer (each block builds every pixel pair's column again, cols = 0) or with the columns of
`cols` pixel pairs kept while the blocks cycle (mcf_conv2d_s8_dsp_cols / _run_cols; the blocks
unpacked again per chunk when cols does not cover the image). Its scratch may grow into the
arena's slack at its step, never raising the arena. Everything bit-exact with the golden model on
QEMU Cortex-M4 (default run), the host, M7 and M33 (slow); left-shift channels (_dsp_lsh) against
tflite-micro."""
from __future__ import annotations

import re

import numpy as np
import pytest

from mcuforge.api import compile_model, simulate
from mcuforge.codegen.c.variants import dsp_subbyte
from mcuforge.codegen.c.variants.dsp_subbyte import sub_dsp_schedule, sub_dsp_scratch

from kernels.layer_models import build_model, conv_spec
from test_subbyte import BOARDS, _toolchain, run_subbyte
from test_subbyte_lsh import check_lsh, conv_chain


def _win(hw, batch=1):
    return {"out_h": hw[0], "out_w": hw[1], "batch": batch}


def test_scaled_ok_rules():
    """Scaled unpacking needs every multiplier a multiple of 8 (int4) / 32 (ternary) and the 8x / 32x
    accumulator within 32 bits."""
    w = np.array([[7, -7, 3, 0], [1, 0, -1, 1]])
    b2 = np.array([1000, -20])
    m = np.array([(1 << 30) + (5 << 15), 3 << 28])
    assert dsp_subbyte.scaled_ok(w, b2, m, 4) and dsp_subbyte.scaled_ok(w, b2, m, 2)
    assert not dsp_subbyte.scaled_ok(w, b2, m + 8, 2) and dsp_subbyte.scaled_ok(w, b2, m + 8, 4)
    assert not dsp_subbyte.scaled_ok(w, b2, m + 4, 4)
    assert not dsp_subbyte.scaled_ok(w, np.array([2 ** 28, 0]), m, 4)      # 8 x 2^28 overflows


def test_schedule_fits_one_block():
    # 3x3 16 -> 16: 144 K, 4.6 KB unpacked: one block, the int8 kernel as it is
    assert sub_dsp_schedule(_win((16, 16)), 16, 144, 48) == (16, 0)


def test_schedule_few_pixels_keeps_all_columns():
    """vww_mbv1_96's 256 -> 256 pointwise at 3x3: 128 KB unpacked. Within the scratch the 8 KB rule
    asks, all 5 pairs' columns are kept and the blocks cycle over them (no column built twice)."""
    k4, L = 256, 256
    default = sub_dsp_scratch(k4, L, 16, 0)         # the rule's block: 16 channels
    block, cols = sub_dsp_schedule(_win((3, 3)), 256, k4, L)
    assert cols == 5 and 2 <= block < 256 and block % 2 == 0
    assert sub_dsp_scratch(k4, L, block, cols) <= default
    # more scratch (the arena's slack): larger blocks, still every column kept
    b2, c2 = sub_dsp_schedule(_win((3, 3)), 256, k4, L, budget=4 * default)
    assert c2 == 5 and b2 > block and sub_dsp_scratch(k4, L, b2, c2) <= 4 * default
    # enough for the whole layer: one block
    assert sub_dsp_schedule(_win((3, 3)), 256, k4, L, budget=sub_dsp_scratch(k4, L, 256, 0)) == (256, 0)


def test_schedule_many_pixels_stays_in_budget():
    """A 3x3 32 -> 32 conv at 8x8 (32 pairs, 1,152 B of columns a pair): whatever the choice, the
    scratch stays within the budget and blocks are even."""
    for budget in (None, 6000, 20000):
        block, cols = sub_dsp_schedule(_win((8, 8)), 32, 288, 96, budget)
        limit = budget or sub_dsp_scratch(288, 96, 14, 0)
        assert sub_dsp_scratch(288, 96, block, cols) <= limit
        assert block == 32 or block % 2 == 0
        assert 0 <= cols <= 32


def _schedules(out_dir) -> dict[tuple[int, int, int], tuple[int, int]]:
    """{(in_c, out_c, out_w): (block, cols)} of the sub-byte conv layer structs in the generated C."""
    src = next(p for p in out_dir.glob("mcf_*.c") if not p.name.endswith("_weights.c")).read_text()
    out = {}
    for body in re.findall(r"static const mcf_conv2d_sub_args \w+ = \{(.*?)\n\};", src, re.S):
        f = {k: int(re.search(rf"\.{k} = (\d+)", body).group(1)) if re.search(rf"\.{k} = (\d+)", body) else 0
             for k in ("in_c", "out_c", "out_w", "block", "cols")}
        out[f["in_c"], f["out_c"], f["out_w"]] = (f["block"], f["cols"])
    return out


def _no_slack(monkeypatch):
    """Schedules from the block rule alone (codegen/c/slack.py off)."""
    import mcuforge.codegen.c.emit as emit
    monkeypatch.setattr(emit, "grow_scratch", lambda g, o, layers, plan, *a: (layers, plan))


# few pixels (1x1, 3x3 pixels: an odd last pixel), odd channel counts, 3x3 with padding and odd
# groups (in_c 12: 27 groups of 4 K, the ternary words' half-used last word), stride 2
SPECS = [conv_spec(24, 21, 3, k=1, pad=0), conv_spec(12, 9, 5), conv_spec(16, 30, (4, 5), k=1, pad=0),
         conv_spec(12, 11, 6, stride=2)]


@pytest.mark.parametrize("target", ["cortex-m4"] + [pytest.param(t, marks=pytest.mark.slow)
                                                     for t in ("host", "cortex-m7", "cortex-m33")])
@pytest.mark.parametrize("wb", ["mixed", pytest.param(2, marks=pytest.mark.slow)])
@pytest.mark.parametrize("scaled", [True, False])
def test_blocks_bit_exact(tmp_path, monkeypatch, target, wb, scaled):
    """Tiny block budget: every layer takes several blocks; both orders appear (columns kept and
    block-outer); int4 and ternary (alternating, or all ternary); the scaled unpacking (16 w / 64 w,
    multipliers / 8 / 32: these layers' 16-bit-mantissa multipliers allow it) and the offset-binary
    one (scaled_ok refused); bit-exact."""
    monkeypatch.setattr(dsp_subbyte, "DSP_BLOCK_BYTES", 600)
    if not scaled:
        monkeypatch.setattr(dsp_subbyte, "scaled_ok", lambda *a: False)
    _no_slack(monkeypatch)
    info = run_subbyte(tmp_path, target, SPECS, weight_bits=None if wb == "mixed" else wb)
    src = next(p for p in (tmp_path / target).glob("mcf_*.c") if not p.name.endswith("_weights.c")).read_text()
    assert src.count(".scaled = 1") == (len(SPECS) if scaled else 0)
    convs = [l for l in info["layers"] if l["op"] == "conv2d"]
    assert all(l["kernel"].endswith("_dsp") or l["kernel"].endswith("_dsp_lsh") for l in convs), convs
    sched = _schedules(tmp_path / target)
    assert len(sched) == len(SPECS)
    assert all(b < oc for (_, oc, _), (b, _) in sched.items()), sched    # every layer in several blocks
    assert any(c for _, c in sched.values()), sched                     # columns kept somewhere ...
    assert any(not c for _, c in sched.values()), sched                 # ... block-outer elsewhere


@pytest.mark.slow
def test_blocks_chunked_columns(tmp_path, monkeypatch):
    """Columns kept in chunks (cols < the image's pairs: the blocks unpacked again per chunk), forced
    by a column cost far above the unpacking's; int4 and ternary, bit-exact on M4."""
    monkeypatch.setattr(dsp_subbyte, "DSP_BLOCK_BYTES", 700)
    monkeypatch.setattr(dsp_subbyte, "IM2COL_PER_K4", 1000.0)
    _no_slack(monkeypatch)
    specs = [conv_spec(12, 10, 6), conv_spec(24, 20, 7, k=1, pad=0)]
    run_subbyte(tmp_path, "cortex-m4", specs)
    sched = _schedules(tmp_path / "cortex-m4")
    pairs = {10: 18, 20: 25}
    assert len(sched) == 2 and all(0 < c < pairs[oc] and b < oc for (_, oc, _), (b, c) in sched.items()), sched


@pytest.mark.parametrize("cols_first", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_blocks_left_shift_vs_tflm(tmp_path, monkeypatch, cols_first):
    """Channels with multipliers >= 1/2 (_dsp_lsh: the shift folded into the unpacked weights)
    over several blocks, columns kept or block-outer: ternary vs tflite-micro (within 1 LSB, the
    nudged scales), QEMU M4 == golden byte for byte (check_lsh)."""
    monkeypatch.setattr(dsp_subbyte, "DSP_BLOCK_BYTES", 120)
    if cols_first:
        monkeypatch.setattr(dsp_subbyte, "IM2COL_PER_K4", 1000.0)
    else:
        monkeypatch.setattr(dsp_subbyte, "UNPACK_PER_WEIGHT", 1000.0)
    _no_slack(monkeypatch)
    kernels = check_lsh(tmp_path, 2, "cortex-m4", "mps2-an386", model=conv_chain)
    assert all(k.endswith("_dsp_lsh") for k in kernels), kernels
    sched = _schedules(tmp_path / "cortex-m4")
    assert len(sched) == 2 and all(b < oc for (_, oc, _), (b, _) in sched.items()), sched
    assert all(bool(c) == cols_first for _, c in sched.values()), sched


def test_slack_grows_scratch_without_raising_arena(tmp_path, monkeypatch):
    """codegen/c/slack.py: a multi-block layer off the arena's peak gets a larger scratch (larger
    blocks / all columns) and the arena is the same as without the hook; bit-exact on M4."""
    import mcuforge.codegen.c.emit as emit
    _toolchain(BOARDS["cortex-m4"])
    monkeypatch.setattr(dsp_subbyte, "DSP_BLOCK_BYTES", 1024)
    # a 3x3 conv over 64 channels into 2 (one block, 4.8 KB of scratch: the arena's peak) beside a
    # 64 -> 64 pointwise layer at 3x3 (1.5 KB of scratch by the rule, 8 blocks)
    specs = [conv_spec(64, 2, 6), conv_spec(64, 64, 3, k=1, pad=0)]
    model, calib, x = build_model(specs, tmp_path / "m.onnx")
    runs = {}
    real = emit.grow_scratch
    for hook in (False, True):
        monkeypatch.setattr(emit, "grow_scratch", real if hook else lambda g, o, layers, plan, *a: (layers, plan))
        out = tmp_path / str(hook)
        res = compile_model(model, out, target="cortex-m4", calib=calib, quiet=True, weight_bits=4)
        y, _ = simulate(out, board="mps2-an386", x=x, quiet=True)
        ref, _ = simulate(out, board="reference", x=x, quiet=True)
        for a, b in zip(y, ref):
            np.testing.assert_array_equal(a, b)
        runs[hook] = (res.info["arena_bytes"], _schedules(out))
    (a0, s0), (a1, s1) = runs[False], runs[True]
    assert a1 <= a0, runs
    key = (64, 64, 3)
    assert s0[key][0] < 64 and (s1[key][0] > s0[key][0] or s1[key][1] > s0[key][1]), runs    # it grew


def test_plan_stop_at():
    """plan_with_overlaps(stop_at=N) (codegen/c/slack.py's replans) ends at the first plan of at most
    N bytes: valid, no larger than N, and with N below the best possible the full search runs."""
    from mcuforge.schedule.arena_search import check_plan, plan_with_overlaps
    from mcuforge.schedule.lifetimes import Lifetime
    rng = np.random.default_rng(0)
    lts = [Lifetime(f"t{i}", int(rng.integers(8, 400)), int(s), int(s + rng.integers(0, 5)))
           for i, s in enumerate(rng.integers(0, 20, 30))]
    full = plan_with_overlaps(lts, [], tries=50)
    check_plan(full, [])
    quick = plan_with_overlaps(lts, [], tries=50, stop_at=full.size + 400)
    check_plan(quick, [])
    assert full.size <= quick.size <= full.size + 400
    assert plan_with_overlaps(lts, [], tries=50, stop_at=0).size == full.size
