"""The DSP convolution / fully connected kernel (mcf_conv2d_s8_dsp.c) on the paths that calibrated
one-layer models do not reach, bit-exact with the golden model on the Cortex-M4 (M7 and M33 in the slow run):
- a fused clamp narrower than int8 (act_min > -128, act_max < 127, as TFLite's ReLU6 or ReLU with
  a symmetric output gives): the packed SSUB8 / SEL clamp of the channel-pair loop and the odd
  last channel's clamp, with a single last pixel, 1x1 with stride 2, one K step (in_c <= 4);
- pruned output channels (all-zero weights, bias +-2^30, shift beyond -22, as in vww_mbv1_96),
  which the compile-time preparation turns into constants so that the layer still takes the DSP
  kernel.
The graph is changed after quantization, so the golden model runs the same clamp and constants."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.api import compile_model, prepare_graph, simulate
from mcuforge.codegen.c import kernel_select, variants  # noqa: F401  (registers the variants)

from .layer_models import build_model, conv_spec, fc_spec, need_qemu

SPECS = [
    conv_spec(8, 6, 5),                                     # 3x3, 25 pixels (a single last one)
    conv_spec(7, 5, (5, 4), stride=2, relu=True),           # odd channels, stride 2, segbuf
    conv_spec(3, 4, (3, 5), k=1, pad=0, stride=2),          # 1x1 stride 2, one K step
    conv_spec(12, 9, 6, k=(3, 2), dil=2),                   # dilation, odd out_c
    fc_spec(40, 7),                                         # one row
]


def _weighted(g):
    return [n for n in g.nodes.values() if n.op in ("conv2d", "dense")]


BOARDS = {"cortex-m4": "mps2-an386", "cortex-m7": "mps2-an500", "cortex-m33": "mps2-an505"}


def _run(g, x, tmp_path, target):
    res = compile_model(g, tmp_path / target, target=target, quiet=True, speed_first=True)
    kernels = [l.get("kernel") for l in res.info["layers"] if l.get("kernel")]
    y, _ = simulate(tmp_path / target, board=BOARDS[target], x=x, quiet=True)
    ref, _ = simulate(tmp_path / target, board="reference", x=x, quiet=True)
    return kernels, y, ref


# the variant families under test: the fast DSP kernels, the lean (less scratch) ones, and the
# scratch-free row kernel of the fully connected layer (the convolutions keep the fast DSP kernel)
FAMILIES = {"dsp": ("_dsp", "_dsp"), "lean": ("_dsp_lean", "_dsp_lean"), "row": ("_dsp", "_dsp_row")}


@pytest.mark.parametrize("target,family", [
    ("cortex-m4", "dsp"),
    pytest.param("cortex-m7", "dsp", marks=pytest.mark.slow),
    pytest.param("cortex-m33", "dsp", marks=pytest.mark.slow),
    pytest.param("cortex-m4", "lean", marks=pytest.mark.slow),     # same constants, other kernels
    pytest.param("cortex-m4", "row", marks=pytest.mark.slow),
])
def test_dsp_gemm_clamp_and_pruned_channels_bit_exact(tmp_path, monkeypatch, target, family):
    need_qemu()
    conv_suffix, fc_suffix = FAMILIES[family]
    for kernel, suffix in (("mcf_conv2d_s8", conv_suffix), ("mcf_fully_connected_s8", fc_suffix)):
        # keep only the family's variant (and the portable fallback) so the selector must take it
        monkeypatch.setitem(kernel_select.VARIANTS, kernel, [
            v for v in kernel_select.VARIANTS[kernel]
            if v.function == kernel + suffix or not v.function.startswith(kernel + "_dsp")])
    model, calib, x = build_model(SPECS, tmp_path / "model.onnx", seed=3)
    g, _ = prepare_graph(model, "int8", calib)
    nodes = _weighted(g)
    assert len(nodes) == len(SPECS)
    for n in nodes:
        # a clamp to about the middle half of the output's int8 range, in real units
        q = g.tensors[n.outputs[0]].quant
        s, zp = float(q.scale[0]), int(q.zero_point[0])
        n.attrs["act_min"] = (-60 - zp) * s
        n.attrs["act_max"] = (70 - zp) * s
    # prune two channels of the first convolution as vww_mbv1_96's pointwise layers are pruned
    conv = nodes[0]
    w, b = g.tensors[conv.inputs[1]], g.tensors[conv.inputs[2]]
    xs, os_ = float(g.tensors[conv.inputs[0]].quant.scale[0]), float(g.tensors[conv.outputs[0]].quant.scale[0])
    w.data = w.data.copy()
    w.data[[1, 4]] = 0
    b.data = b.data.copy()
    b.data[[1, 4]] = [1 << 30, -(1 << 30)]
    w.quant.scale = w.quant.scale.copy()
    w.quant.scale[[1, 4]] = 2.0 ** -27 * os_ / xs            # shift -27: outside 1..22
    kernels, y, ref = _run(g, x, tmp_path, target)
    assert kernels.count("mcf_conv2d_s8" + conv_suffix) == 4, kernels
    assert kernels.count("mcf_fully_connected_s8" + fc_suffix) == 1, kernels
    for i, (a, r) in enumerate(zip(y, ref)):
        assert np.array_equal(a, r), f"branch {i} ({SPECS[i]}) differs from the golden model"
    # the clamp is reached: outputs at both bounds, none beyond
    first = np.asarray(y[0])
    assert first.min() >= -60 and first.max() <= 70 and (first == -60).any() and (first == 70).any()
