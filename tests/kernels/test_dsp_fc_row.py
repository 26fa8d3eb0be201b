"""The scratch-free DSP fully connected kernel (mcf_fully_connected_s8_dsp_row: four channels per
pass over the int8 row, widened in the K loop) bit-exact with the golden model on the Cortex-M4:
channel counts with a leftover pair and an odd channel, K not a multiple of 16 (the unrolled loop's
remainder), K = 4 (no unrolled step), ReLU, no bias. On ad_fcae it is checked against tflite-micro
in tests/test_pareto.py."""
from __future__ import annotations

from mcuforge.api import compile_model
from mcuforge.codegen.c import kernel_select, variants  # noqa: F401  (registers the variants)

from .layer_models import assert_branches_exact, build_model, fc_spec, need_qemu

SPECS = [
    fc_spec(64, 16),                 # quads only, K a multiple of 16
    fc_spec(40, 7, relu=True),       # a quad, a pair, an odd channel; K % 16 = 8
    fc_spec(4, 5, bias=False),       # K = 4: only the single-step loop
    fc_spec(132, 6),                 # a quad and a pair
    fc_spec(36, 1),                  # one channel
]


def test_dsp_fc_row_bit_exact_on_m4(tmp_path, monkeypatch):
    need_qemu()
    # the faster DSP kernel withheld: every layer takes the scratch-free one
    row = [v for v in kernel_select.VARIANTS["mcf_fully_connected_s8"] if v.function != "mcf_fully_connected_s8_dsp"]
    monkeypatch.setitem(kernel_select.VARIANTS, "mcf_fully_connected_s8", row)
    model, calib, x = build_model(SPECS, tmp_path / "model.onnx", seed=3)
    res = compile_model(model, tmp_path / "m4", target="cortex-m4", calib=calib, quiet=True, speed_first=True)
    kernels = [l.get("kernel") for l in res.info["layers"]]
    assert kernels.count("mcf_fully_connected_s8_dsp_row") == len(SPECS), kernels
    assert_branches_exact(tmp_path / "m4", "mps2-an386", x, SPECS)
