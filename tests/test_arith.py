"""The integer rules of the int8 contract: numpy golden model and C (mcf_arith.h, mcf_fixedpoint.h)
agree on random and edge-case values; the numpy rules match hand-checked TFLite examples."""
import subprocess

import numpy as np

from mcuforge import resources
from mcuforge.reference import arith, fixedpoint

EDGES = [0, 1, -1, 2, -2, 127, -128, 255, -255, (1 << 30), -(1 << 30), (1 << 31) - 1, -(1 << 31)]

C_PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include "mcf_fixedpoint.h"
int main(void) {
    long long x, m, s;
    while (scanf("%lld %lld %lld", &x, &m, &s) == 3) {
        printf("%d %d %d %d\n", mcf_requantize((int32_t)x, (int32_t)m, (int32_t)s),
               mcf_srdhm((int32_t)x, (int32_t)m), mcf_rounding_divide_by_pot((int32_t)x, (int32_t)(s < 0 ? -s : s) % 31),
               mcf_one_over_one_plus_x((int32_t)(x < 0 ? -(x + 1) : x)));
    }
    return 0;
}
"""


def test_quantize_multiplier_examples():
    assert arith.quantize_multiplier(0.5) == (1 << 30, 0)
    assert arith.quantize_multiplier(1.0) == (1 << 30, 1)
    m, s = arith.quantize_multiplier(0.0037)
    assert abs(m * 2.0 ** (s - 31) - 0.0037) < 1e-12
    assert arith.quantize_multiplier(0.0) == (0, 0)


def test_rounding_rules():
    # ties go away from zero
    assert list(arith.rounding_divide_by_pot([5, -5, 6, -6, 7, -7], 1)) == [3, -3, 3, -3, 4, -4]
    assert arith.saturating_rounding_doubling_high_mul(-(1 << 31), -(1 << 31)) == (1 << 31) - 1
    m, s = arith.quantize_multiplier(0.25)
    assert list(arith.multiply_by_quantized_multiplier([2, -2, 6, -6], m, s)) == [1, -1, 2, -2]


def test_c_matches_numpy(tmp_path, rng):
    src = tmp_path / "arith.c"
    src.write_text(C_PROGRAM)
    exe = tmp_path / "arith"
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror",
                    f"-I{resources.runtime_c() / 'include'}", str(src), "-o", str(exe)], check=True)
    xs = np.concatenate([EDGES * 3, rng.integers(-(1 << 31), 1 << 31, 3000)])
    ms = np.concatenate([[(1 << 30), (1 << 31) - 1, 1518500250] * len(EDGES), rng.integers(1 << 30, 1 << 31, 3000)])
    ss = np.concatenate([[-31, 0, 5] * len(EDGES), rng.integers(-31, 8, 3000)])
    # keep left shifts from overflowing int32, as the compiler guarantees for real layers
    ss = np.where(ss > 0, np.minimum(ss, 31 - np.ceil(np.log2(np.abs(xs) + 2))).astype(np.int64), ss)
    ss = np.maximum(ss, -31)
    inp = "\n".join(f"{x} {m} {s}" for x, m, s in zip(xs, ms, ss))
    out = subprocess.run([str(exe)], input=inp, capture_output=True, text=True, check=True).stdout
    got = np.array([list(map(int, ln.split())) for ln in out.strip().splitlines()])
    assert np.array_equal(got[:, 0], arith.multiply_by_quantized_multiplier(xs, ms, ss))
    assert np.array_equal(got[:, 1], arith.saturating_rounding_doubling_high_mul(xs, ms))
    assert np.array_equal(got[:, 2], arith.rounding_divide_by_pot(xs, np.abs(ss) % 31))
    pos = np.where(xs < 0, -(xs + 1), xs)
    assert np.array_equal(got[:, 3], fixedpoint.one_over_one_plus_x_for_x_in_0_1(pos))


def test_softmax_int8_close_to_float(rng):
    for scale in (0.02, 0.1, 0.5):
        m, s, dmin = fixedpoint.softmax_input_scaling(1.0, scale)
        table = fixedpoint.softmax_exp_table(m, s, dmin)
        x = rng.integers(-128, 128, size=(20, 10))
        y = (fixedpoint.softmax_int8(x, table) + 128) / 256.0
        e = np.exp(scale * (x - x.max(1, keepdims=True)))
        assert np.abs(y - e / e.sum(1, keepdims=True)).max() <= 1.5 / 256
