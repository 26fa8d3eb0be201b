"""The Helium fully connected kernel (mcf_fully_connected_s8_mve: four channels per pass, weights
reordered so one pointer walks them, the input's tail predicated) bit-exact with the golden model
on the Cortex-M55: K a multiple of 16, K with a tail, K < 16, channel counts not a multiple of 4,
ReLU, no bias. On ad_fcae and kws_dscnn it is checked against tflite-micro in tests/test_pareto.py."""
from __future__ import annotations

from mcuforge.api import compile_model

from .layer_models import assert_branches_exact, build_model, fc_spec, need_qemu

SPECS = [
    fc_spec(64, 16),
    fc_spec(40, 7, relu=True),       # K % 16 = 8, a last group of 3 channels
    fc_spec(8, 5, bias=False),       # K < 16: the predicated step only
    fc_spec(130, 6),                 # K % 16 = 2, a last group of 2
    fc_spec(16, 1),                  # one channel
]


def test_mve_fc_bit_exact_on_m55(tmp_path):
    need_qemu()
    model, calib, x = build_model(SPECS, tmp_path / "model.onnx", seed=5)
    res = compile_model(model, tmp_path / "m55", target="cortex-m55", calib=calib, quiet=True, speed_first=True)
    kernels = [l.get("kernel") for l in res.info["layers"]]
    assert kernels.count("mcf_fully_connected_s8_mve") == len(SPECS), kernels
    assert_branches_exact(tmp_path / "m55", "mps3-an547", x, SPECS)
