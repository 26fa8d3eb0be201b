"""The Helium paths added for kws_dscnn's shapes, bit-exact with the golden model on the Cortex-M55:
the convolution's word-by-word patch copy for windows with short rows (one input channel, 10x4 taps,
stride 2 and padding as kws's first layer; 2 channels x 2 taps), and the depthwise kernel's
2-pixel build for a row's last two pixels (rows 5, 8 and 2 wide, a channel tail, all three
requantization forms)."""
from __future__ import annotations


from mcuforge.api import compile_model

from .layer_models import assert_branches_exact, build_model, conv_spec, dw_spec, need_qemu
from .test_mve_conv import patch_shifts

SPECS = [
    conv_spec(1, 16, (21, 10), k=(10, 4), stride=2, pad=(4, 1), relu=True),   # kws's first layer, smaller
    conv_spec(2, 6, (6, 7), k=(3, 2), pad=(1, 0)),                             # rows of 4 bytes, 6 = 4 + 2 channels
    dw_spec(64, (4, 5)),                                                       # 5 = 3 + 2 pixels
    dw_spec(6, (3, 8), relu=True),                                             # 8 = 3 + 3 + 2, a tail of 2 channels
    dw_spec(8, (3, 2)),                                                        # rows of 2 pixels only
]


def test_mve_kws_paths(tmp_path, monkeypatch):
    need_qemu()
    patch_shifts(monkeypatch, [0, "norshift", "left"], depthwise=True)
    model, calib, x = build_model(SPECS, tmp_path / "model.onnx", seed=7)
    res = compile_model(model, tmp_path / "m55", target="cortex-m55", calib=calib, quiet=True, speed_first=True)
    kernels = [l.get("kernel") for l in res.info["layers"] if l.get("kernel", "").startswith("mcf_")]
    assert kernels.count("mcf_conv2d_s8_mve") == 2 and kernels.count("mcf_depthwise_conv2d_s8_mve_ch") == 3, kernels
    assert_branches_exact(tmp_path / "m55", "mps3-an547", x, SPECS)
