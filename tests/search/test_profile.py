"""Quantune's ModelProfile on a real model: the weight bytes it predicts for a configuration are
the bytes the compiler lays out (one code generation per width, added per layer), and its noise
features order the configurations as quantization error does."""
import numpy as np

from mcuforge.search.quantune import ModelProfile
from mcuforge.search.space import default_space


def test_profile_bytes_and_noise(evaluator):
    prof = ModelProfile(evaluator, flash_budget=10_000)
    base = dict(calib="minmax", clip=1.0, weights="per_channel", acts="asymmetric", n_calib=128)
    names = list(ModelProfile.FEATURES)
    for widths in [(8, 4, 8), (4, 2, 8), (2, 2, 2)]:
        cfg = dict(base, w_first=widths[0], w_mid=widths[1], w_last=widths[2])
        measured = evaluator(cfg)["weights_bytes"]
        assert round(prof.bytes_ratio(cfg) * 10_000) == measured
    d = {b: prof.describe(dict(base, w_first=8, w_mid=b, w_last=8)) for b in (8, 4, 2)}
    mid = names.index("w_mid_noise_mean")
    assert d[8][mid] < d[4][mid] < d[2][mid]
    assert d[8][names.index("total_noise")] < d[2][names.index("total_noise")]
    assert d[8][names.index("w_first_noise")] == d[2][names.index("w_first_noise")]
    # per-tensor weight scales add noise; the activation features do not see the weights
    pt = prof.describe(dict(base, weights="per_tensor"))
    pc = prof.describe(base)
    assert pt[names.index("w_mid_noise_max")] >= pc[names.index("w_mid_noise_max")]
    assert pt[0] == pc[0]
    # clipping every range to 75 % adds clipping error on the activations
    assert prof.describe(dict(base, clip=0.75))[names.index("act_noise_max")] > pc[names.index("act_noise_max")]
    # without a budget the bytes feature is relative to the int8 weights
    space = default_space(n_calib=(128,))
    assert all(np.isclose(ModelProfile(evaluator).describe(c)[-1], 1.0) for c in space.all()[:3])
