"""fast_subbyte_fc.pair_layout (the M0 / M3 `_pair` FC kernels' flash layout) for layers with an odd
number of output channels, one included: a one-output dense layer crashed the compile with
"cannot reshape array of size 0" (test_subbyte_fc_heads' int4_1 head, @slow, found it)."""
import numpy as np
import pytest

from mcuforge.codegen.c.variants.fast_subbyte_fc import pair_layout


@pytest.mark.parametrize("bits", [4, 2])
def test_odd_last_channel_is_the_single_channel_layout(bits):
    n = 32 // bits
    lo, hi = (-7, 8) if bits == 4 else (-1, 2)
    w = np.random.default_rng(bits).integers(lo, hi, (3, 2 * n))
    three, one = pair_layout(w, bits), pair_layout(w[2:], bits)
    assert one.size == 2 * 4                      # one channel: its 2 words, 4 bytes each
    assert three.size == 3 * 2 * 4
    np.testing.assert_array_equal(three[-one.size:], one)    # the odd last channel's words follow alone
    np.testing.assert_array_equal(three[:-one.size], pair_layout(w[:2], bits))
