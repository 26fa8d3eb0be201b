"""The fixed-point contract's integer rules, checked against values worked out by hand (the
meaning of AP_RND/AP_TRN/AP_SAT/AP_WRAP in Xilinx's ap_fixed documentation)."""
import numpy as np

from mcuforge.reference.fixed_arith import FixedType, act_bounds, cast, from_float, to_float
from mcuforge.quant.fixed import int_bits_for


def test_rounding_modes_on_halves():
    # raw at 2 fractional bits -> 0 fractional bits: -1.5, -0.5, 0.5, 1.5, 1.25, -1.25
    raw = np.array([-6, -2, 2, 6, 5, -5])
    rnd = cast(raw, 2, FixedType(8, 0, "rnd", "sat"))
    trn = cast(raw, 2, FixedType(8, 0, "trn", "sat"))
    assert rnd.tolist() == [-1, 0, 1, 2, 1, -1]  # ties toward +inf
    assert trn.tolist() == [-2, -1, 0, 1, 1, -2]  # floor


def test_overflow_modes():
    t_sat, t_wrap = FixedType(4, 0, "trn", "sat"), FixedType(4, 0, "trn", "wrap")
    raw = np.array([7, 8, 9, -8, -9, 23])
    assert cast(raw, 0, t_sat).tolist() == [7, 7, 7, -8, -8, 7]
    assert cast(raw, 0, t_wrap).tolist() == [7, -8, -7, -8, 7, 7]


def test_widening_is_exact_and_64_bits_hold():
    t = FixedType(64, 10, "rnd", "wrap")
    raw = np.array([-(1 << 40), (1 << 40) + 3])
    assert cast(raw, 0, t).tolist() == [-(1 << 50), ((1 << 40) + 3) << 10]
    assert cast(np.array([1 << 62]), 0, FixedType(64, 2, "trn", "wrap")).tolist() == [0]  # bit 64 wraps away


def test_float_quantization_and_clamp_bounds():
    t = FixedType(8, 4, "rnd", "sat")  # step 1/16, range [-8, 127/16]
    assert from_float(np.array([0.03125, -0.03125, 100.0, -100.0]), t).tolist() == [1, 0, 127, -128]
    assert to_float(np.array([24]), t).tolist() == [1.5]
    assert act_bounds(t, 0.0, 6.0) == (0, 96)
    assert act_bounds(t, None, None) == (-128, 127)
    assert int_bits_for(0.9) == 1 and int_bits_for(1.0) == 2 and int_bits_for(5.9) == 4
