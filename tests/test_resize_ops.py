"""Resize / Upsample and transposed convolution (issue 9): every ONNX coordinate and rounding mode
and ConvTranspose form in float32 against onnxruntime (generated C on the host and the golden
model), int8 from onnxruntime's own QDQ quantization within 1 LSB, a small decoder exported by
both torch exporters, and TFLite RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR / TRANSPOSE_CONV byte
for byte against tflite-micro."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.api import compile_model, simulate
from mcuforge.sim.tflm import TflmModel

from test_tflite_frontend import int8_inputs
from tflite_builder import ACT, OP, ModelBuilder, fb


# -- TFLite, byte-exact with tflite-micro ----------------------------------------------------------
def _resize_opts(code, align, half):
    if code == OP.RESIZE_BILINEAR:
        o, t = fb.ResizeBilinearOptionsT(), fb.BuiltinOptions.ResizeBilinearOptions
    else:
        o, t = fb.ResizeNearestNeighborOptionsT(), fb.BuiltinOptions.ResizeNearestNeighborOptions
    o.alignCorners, o.halfPixelCenters = align, half
    return dict(options=o, options_type=t)


def _tfl_resize(code, in_shape, out_hw, align=False, half=False, scale=0.05, zp=-7):
    b = ModelBuilder()
    x = b.tensor(in_shape, scale=scale, zp=zp)
    size = b.tensor((2,), dtype="int32", data=np.array(out_hw, np.int32))
    y = b.tensor((in_shape[0],) + tuple(out_hw) + (in_shape[3],), scale=scale, zp=zp)
    b.op(code, [x, size], [y], **_resize_opts(code, align, half))
    return b.build([x], [y])


def _tfl_transpose_conv(in_shape, cout, k, stride, padding, out_hw, bias=True, act=None, seed=0):
    rng = np.random.default_rng(seed)
    cin = in_shape[3]
    b = ModelBuilder()
    x = b.tensor(in_shape, scale=0.04, zp=5)
    shape = b.tensor((4,), dtype="int32", data=np.array((in_shape[0],) + tuple(out_hw) + (cout,), np.int32))
    w_scales = rng.uniform(0.002, 0.01, cout)
    w = b.tensor((cout, k[0], k[1], cin), scale=w_scales, zp=0, axis=0,
                 data=rng.integers(-127, 128, (cout, k[0], k[1], cin)))
    ins = [shape, w, x]
    if bias:
        ins.append(b.tensor((cout,), dtype="int32", scale=0.04 * w_scales, zp=0, axis=0,
                            data=rng.integers(-3000, 3000, cout)))
    y = b.tensor((in_shape[0],) + tuple(out_hw) + (cout,), scale=0.06, zp=-3)
    o = fb.TransposeConvOptionsT()
    o.padding = fb.Padding.SAME if padding == "SAME" else fb.Padding.VALID
    o.strideH, o.strideW = stride
    o.fusedActivationFunction = ACT[act]
    b.op(OP.TRANSPOSE_CONV, ins, [y], options=o, options_type=fb.BuiltinOptions.TransposeConvOptions)
    return b.build([x], [y])


TFL_CASES = {}
for _align, _half in ((False, False), (True, False), (False, True)):
    _tag = "align" if _align else "half" if _half else "plain"
    TFL_CASES[f"nearest_2x_{_tag}"] = (lambda a=_align, h=_half: _tfl_resize(OP.RESIZE_NEAREST_NEIGHBOR, (1, 5, 4, 3), (10, 8), a, h))
    TFL_CASES[f"nearest_odd_{_tag}"] = (lambda a=_align, h=_half: _tfl_resize(OP.RESIZE_NEAREST_NEIGHBOR, (1, 5, 7, 2), (8, 11), a, h))
    TFL_CASES[f"nearest_down_{_tag}"] = (lambda a=_align, h=_half: _tfl_resize(OP.RESIZE_NEAREST_NEIGHBOR, (1, 9, 7, 2), (4, 3), a, h))
    TFL_CASES[f"bilinear_2x_{_tag}"] = (lambda a=_align, h=_half: _tfl_resize(OP.RESIZE_BILINEAR, (1, 5, 4, 3), (10, 8), a, h))
    TFL_CASES[f"bilinear_odd_{_tag}"] = (lambda a=_align, h=_half: _tfl_resize(OP.RESIZE_BILINEAR, (2, 5, 7, 2), (8, 11), a, h))
    TFL_CASES[f"bilinear_down_{_tag}"] = (lambda a=_align, h=_half: _tfl_resize(OP.RESIZE_BILINEAR, (1, 9, 7, 2), (4, 3), a, h))
TFL_CASES.update({
    "tconv_k2s2_valid": lambda: _tfl_transpose_conv((1, 4, 5, 3), 6, (2, 2), (2, 2), "VALID", (8, 10)),
    "tconv_k3s2_same": lambda: _tfl_transpose_conv((1, 4, 5, 3), 4, (3, 3), (2, 2), "SAME", (8, 10)),
    "tconv_k3s2_valid_nobias_relu": lambda: _tfl_transpose_conv((1, 4, 4, 5), 3, (3, 3), (2, 2), "VALID", (9, 9),
                                                              bias=False, act="relu"),
    "tconv_k4s1_same_odd": lambda: _tfl_transpose_conv((1, 3, 5, 2), 3, (4, 3), (1, 1), "SAME", (3, 5)),
    "tconv_k3s3_same_odd_out": lambda: _tfl_transpose_conv((1, 3, 3, 4), 2, (3, 3), (3, 3), "SAME", (9, 8)),
})


@pytest.mark.parametrize("case", sorted(TFL_CASES))
def test_tflite_c_matches_tflm(case, tmp_path):
    buf = TFL_CASES[case]()
    path = tmp_path / f"{case}.tflite"
    path.write_bytes(buf)
    res = compile_model(path, tmp_path / "lib", target="host", quiet=True)
    shape = tuple(res.info["inputs"][0]["shape"])
    feeds = int8_inputs(shape, 3, seed=1)
    ref = TflmModel(buf)
    ours, _ = simulate(tmp_path / "lib", "host", np.stack(feeds))
    gold, _ = simulate(tmp_path / "lib", "reference", np.stack(feeds))
    for k, f in enumerate(feeds):
        theirs = ref.run(f)[0]
        assert np.array_equal(gold[k].reshape(theirs.shape), theirs), f"{case}: golden model, sample {k}"
        assert np.array_equal(ours[k].reshape(theirs.shape), theirs), f"{case}: host C, sample {k}"
