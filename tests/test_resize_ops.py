"""Resize / Upsample and transposed convolution (issue 9): every ONNX coordinate and rounding mode
and ConvTranspose form in float32 against onnxruntime (generated C on the host and the golden
model), int8 from onnxruntime's own QDQ quantization within 1 LSB, a small decoder exported by
both torch exporters, and TFLite RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR / TRANSPOSE_CONV byte
for byte against tflite-micro."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.api import compile_model as _compile_model, simulate
from mcuforge.sim.tflm import TflmModel

from test_tflite_frontend import int8_inputs
from tflite_builder import ACT, OP, ModelBuilder, fb


def compile_model(*args, **kw):
    """compile_model without the report's plot (0.5 s to 6 s a model, nothing these tests read)."""
    import onnx_cases
    with onnx_cases.no_matplotlib():
        return _compile_model(*args, **kw)


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
_GEOMETRIES = {"2x": ((1, 5, 4, 3), (10, 8)), "odd": ((2, 5, 7, 2), (8, 11)), "down": ((1, 9, 7, 2), (4, 3))}
for _align, _half in ((False, False), (True, False), (False, True)):
    _tag = "align" if _align else "half" if _half else "plain"
    for _op, _code in (("nearest", OP.RESIZE_NEAREST_NEIGHBOR), ("bilinear", OP.RESIZE_BILINEAR)):
        for _g, (_in, _out) in _GEOMETRIES.items():
            TFL_CASES[f"{_op}_{_g}_{_tag}"] = (lambda c=_code, i=_in, o=_out, a=_align, h=_half:
                                               _tfl_resize(c, i, o, a, h))
TFL_CASES.update({
    "tconv_k2s2_valid": lambda: _tfl_transpose_conv((1, 4, 5, 3), 6, (2, 2), (2, 2), "VALID", (8, 10)),
    "tconv_k3s2_same": lambda: _tfl_transpose_conv((1, 4, 5, 3), 4, (3, 3), (2, 2), "SAME", (8, 10)),
    "tconv_k3s2_valid_nobias_relu": lambda: _tfl_transpose_conv((1, 4, 4, 5), 3, (3, 3), (2, 2), "VALID", (9, 9),
                                                              bias=False, act="relu"),
    "tconv_k4s1_same_odd": lambda: _tfl_transpose_conv((1, 3, 5, 2), 3, (4, 3), (1, 1), "SAME", (3, 5)),
    "tconv_k3s3_same_odd_out": lambda: _tfl_transpose_conv((1, 3, 3, 4), 2, (3, 3), (3, 3), "SAME", (9, 8)),
})


# one fast representative per operator and flag in the default run, the rest with -m slow
TFL_FAST = ("nearest_2x_half", "nearest_odd_align", "bilinear_odd_plain", "bilinear_down_half",
            "bilinear_2x_align", "tconv_k3s2_same", "tconv_k3s2_valid_nobias_relu")


@pytest.mark.parametrize("case", [c if c in TFL_FAST else pytest.param(c, marks=pytest.mark.slow)
                                  for c in sorted(TFL_CASES)])
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


# -- ONNX float32 against onnxruntime ------------------------------------------------------------
COORDS = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
LINEAR_COORDS = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric")


def _onnx_model(nodes, x_shape, outputs, inits, opset):
    from onnx import TensorProto, helper, numpy_helper
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _resize_nodes(specs, opset):
    """specs: (mode, coord, nearest_mode, scales or None, sizes or None) -> nodes, outputs, inits."""
    from onnx import helper
    nodes, outs, inits = [], [], {"roi": np.array([], np.float32)}
    for i, (mode, coord, nm, scales, sizes) in enumerate(specs):
        ins = ["x", "roi"]
        if scales is not None:
            inits[f"s{i}"] = np.array(scales, np.float32)
            ins.append(f"s{i}")
        else:
            inits[f"z{i}"] = np.array(sizes, np.int64)
            ins += ["", f"z{i}"]
        attrs = {"mode": mode, "coordinate_transformation_mode": coord}
        if mode == "nearest":
            attrs["nearest_mode"] = nm
        nodes.append(helper.make_node("Resize", ins, [f"y{i}"], **attrs))
        outs.append(f"y{i}")
    return nodes, outs, inits


def _float_specs(x_shape):
    n, c, h, w = x_shape
    specs = []
    for coord in COORDS:
        for nm in NEAREST_MODES:
            specs.append(("nearest", coord, nm, (1, 1, 1.5, 2.7), None))            # non-integer scales
            specs.append(("nearest", coord, nm, None, (n, c, 2 * h + 1, w - 2)))   # odd sizes, up and down
    specs.append(("nearest", "asymmetric", "floor", (1, 1, 2, 2), None))           # torch nn.Upsample(2)
    for coord in LINEAR_COORDS:
        specs.append(("linear", coord, None, (1, 1, 2, 2), None))
        specs.append(("linear", coord, None, (1, 1, 1.7, 0.6), None))
        specs.append(("linear", coord, None, None, (n, c, 2 * h - 1, w + 3)))
        specs.append(("linear", coord, None, None, (n, c, 1, w - 3)))
    return specs


def _run_float(model, x, tmp_path, name="m"):
    """Compile float32 for the host; every output of host C and the golden model vs onnxruntime."""
    import onnx
    import onnxruntime as ort
    path = tmp_path / f"{name}.onnx"
    onnx.save_model(model, str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    want = [np.stack(v) for v in zip(*[sess.run(None, {"x": xi}) for xi in x])]
    out = tmp_path / f"{name}_out"
    compile_model(path, out, target="host", quant="float32", quiet=True)
    for board in ("host", "reference"):
        ys, _ = simulate(out, board, x=x[:, None] if x.ndim == 4 else x, quiet=True)
        ys = ys if isinstance(ys, list) else [ys]
        assert len(ys) == len(want)
        for k, (y, wnt) in enumerate(zip(ys, want)):
            y = y.reshape(wnt.shape)
            np.testing.assert_allclose(y, wnt, rtol=1e-4, atol=1e-5, err_msg=f"{board} output {k} ({model.graph.node[k].name or k})")
    return want


@pytest.mark.parametrize("opset", [13, pytest.param(19, marks=pytest.mark.slow)])
def test_onnx_resize_every_mode_float(opset, tmp_path):
    x_shape = (1, 3, 5, 7)
    nodes, outs, inits = _resize_nodes(_float_specs(x_shape), opset)
    model = _onnx_model(nodes, x_shape, outs, inits, opset)
    x = np.random.default_rng(opset).standard_normal((2,) + x_shape).astype(np.float32)
    _run_float(model, x, tmp_path)


def test_onnx_resize_axes_policy_upsample_float(tmp_path):
    """Opset 18 axes and keep_aspect_ratio_policy; Upsample (opset 7 attribute, opset 9 input) and
    Resize-10."""
    from onnx import helper
    x_shape = (1, 2, 4, 6)
    n = helper.make_node
    m18 = _onnx_model([
        n("Resize", ["x", "", "s"], ["a"], mode="nearest", axes=[2, 3], coordinate_transformation_mode="asymmetric",
          nearest_mode="floor"),
        n("Resize", ["x", "", "", "z"], ["b"], mode="linear", axes=[3, 2], keep_aspect_ratio_policy="not_larger"),
        n("Resize", ["x", "", "", "z"], ["c"], mode="nearest", axes=[3, 2], keep_aspect_ratio_policy="not_smaller"),
    ], x_shape, ["a", "b", "c"], {"s": np.array([2.0, 3.0], np.float32), "z": np.array([9, 7], np.int64)}, 18)
    x = np.random.default_rng(3).standard_normal((2,) + x_shape).astype(np.float32)
    _run_float(m18, x, tmp_path, "m18")
    m9 = _onnx_model([n("Upsample", ["x", "s"], ["a"], mode="nearest"),
                      n("Upsample", ["x", "s"], ["b"], mode="linear")],
                     x_shape, ["a", "b"], {"s": np.array([1, 1, 2, 3], np.float32)}, 9)
    _run_float(m9, x, tmp_path, "m9")
    m7 = _onnx_model([n("Upsample", ["x"], ["a"], mode="nearest", scales=[1.0, 1.0, 3.0, 2.0]),
                      n("Upsample", ["x"], ["b"], mode="linear", scales=[1.0, 1.0, 2.0, 1.5])],
                     x_shape, ["a", "b"], {}, 7)
    _run_float(m7, x, tmp_path, "m7")
    m10 = _onnx_model([n("Resize", ["x", "s"], ["a"], mode="nearest"), n("Resize", ["x", "s"], ["b"], mode="linear")],
                      x_shape, ["a", "b"], {"s": np.array([1, 1, 2.5, 0.5], np.float32)}, 10)
    _run_float(m10, x, tmp_path, "m10")
    # scales that keep the shape (4 * 1.2 -> 4, 6 * 1.1 -> 6): onnxruntime copies the tensor
    keep = _onnx_model([n("Resize", ["x", "", "s"], ["a"], mode="nearest", nearest_mode="floor"),
                        n("Resize", ["x", "", "s"], ["b"], mode="linear", coordinate_transformation_mode="asymmetric")],
                       x_shape, ["a", "b"], {"s": np.array([1, 1, 1.2, 1.1], np.float32)}, 13)
    _run_float(keep, x, tmp_path, "keep")


CONV_T = [  # (weights shape [Cin, Cout/g, KH, KW], group, attrs)
    ((4, 3, 2, 2), 1, dict(strides=[2, 2])),
    ((4, 3, 3, 3), 1, dict(strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])),
    ((4, 2, 3, 3), 2, dict(strides=[2, 1], pads=[1, 0, 0, 1], dilations=[1, 2])),
    ((4, 1, 3, 3), 4, dict(strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])),   # depthwise
    ((4, 3, 3, 3), 1, dict(strides=[3, 2], output_shape=[16, 12])),
    ((4, 3, 3, 3), 1, dict(strides=[2, 2], auto_pad="SAME_UPPER")),
    ((4, 3, 4, 3), 1, dict(strides=[2, 2], auto_pad="SAME_LOWER")),
    ((4, 3, 3, 3), 1, dict(strides=[2, 2], auto_pad="VALID")),
    ((4, 3, 3, 3), 1, dict(strides=[2, 2], output_shape=[9, 10], auto_pad="SAME_UPPER")),
    ((4, 3, 3, 3), 1, dict(strides=[2, 2], output_shape=[10, 12])),
    ((4, 6, 1, 1), 2, dict()),
]


def _conv_t_model(rng, x_shape, cases, opset=17, bias=True, relu=False, grouped_bias=True):
    from onnx import helper
    nodes, outs, inits = [], [], {}
    for i, (wshape, group, attrs) in enumerate(cases):
        inits[f"w{i}"] = (rng.standard_normal(wshape) * 0.3).astype(np.float32)
        ins = ["x", f"w{i}"]
        if bias and i % 2 == 0 and (grouped_bias or group == 1):
            inits[f"b{i}"] = (rng.standard_normal(wshape[1] * group) * 0.1).astype(np.float32)
            ins.append(f"b{i}")
        y = f"y{i}"
        nodes.append(helper.make_node("ConvTranspose", ins, [f"t{i}" if relu else y], group=group, **attrs))
        if relu:
            nodes.append(helper.make_node("Relu", [f"t{i}"], [y]))
        outs.append(y)
    return _onnx_model(nodes, x_shape, outs, inits, opset)


def test_onnx_conv_transpose_float(tmp_path):
    rng = np.random.default_rng(5)
    x_shape = (1, 4, 5, 5)
    model = _conv_t_model(rng, x_shape, CONV_T)
    x = rng.standard_normal((2,) + x_shape).astype(np.float32)
    _run_float(model, x, tmp_path)


# -- ONNX int8: onnxruntime's QDQ quantization, within 1 LSB ----------------------------------------
def _qdq(float_path, calib, out_path, in_name="x"):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{in_name: c[None]} for c in calib])

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(float_path), str(out_path), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True)


def _check_qdq(model, calib, x, tmp_path, name="q", min_exact=0.9, network=False):
    """Our int8 C (and golden model) vs onnxruntime running the QDQ model without graph
    optimizations: every output within 1 LSB (a network of several int8 layers: 99% of the values
    within 1 LSB, none off by more than 2; rounding differences add up layer by layer). Returns the
    fraction of identical values."""
    import onnx
    import onnxruntime as ort
    fpath, qpath = tmp_path / f"{name}_f.onnx", tmp_path / f"{name}_qdq.onnx"
    onnx.save_model(model, str(fpath))
    in_name = model.graph.input[0].name
    _qdq(fpath, calib, qpath, in_name)
    qdq = onnx.load(str(qpath))
    producers = {o: n.op_type for n in qdq.graph.node for o in n.output}
    # (onnxruntime leaves a Resize on the float graph input as it is: our compiler quantizes the input)
    ours = [n for n in qdq.graph.node if n.op_type in ("Resize", "ConvTranspose") and n.input[0] != in_name]
    assert ours and all(producers.get(n.input[0]) == "DequantizeLinear" for n in ours), "not quantized by onnxruntime"
    res = compile_model(qpath, tmp_path / f"{name}_lib", target="host", quant="int8", calib=calib, quiet=True)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(qpath), opts, providers=["CPUExecutionProvider"])
    want = [np.stack(v) for v in zip(*[sess.run(None, {in_name: xi[None]}) for xi in x])]
    same = []
    for board in ("host", "reference"):
        ys, _ = simulate(tmp_path / f"{name}_lib", board, x[:, None], quiet=True)
        ys = ys if isinstance(ys, list) else [ys]
        for k, (y, wnt) in enumerate(zip(ys, want)):
            q = res.info["outputs"][k]["quant"]
            wq = np.round(wnt / q["scale"]) + q["zero_point"]
            diff = np.abs(y.reshape(wq.shape).astype(np.int64) - wq.astype(np.int64))
            if network:
                assert diff.max() <= 2 and np.mean(diff <= 1) >= 0.99, f"{name} {board} output {k}: {diff.max()} LSB"
            else:
                assert diff.max() <= 1, f"{name} {board} output {k}: {diff.max()} LSB"
            same.append(float(np.mean(diff == 0)))
    assert min(same) >= min_exact, same
    return min(same)


def test_onnx_resize_int8_qdq(tmp_path):
    x_shape = (1, 3, 5, 7)
    # (few outputs: every parallel branch multiplies the execution-order search of the planner)
    specs = [("nearest", "half_pixel", "round_prefer_floor", (1, 1, 1.5, 2.7), None),
             ("nearest", "asymmetric", "floor", (1, 1, 2, 2), None),
             ("nearest", "tf_half_pixel_for_nn", "round_prefer_ceil", (1, 1, 0.6, 1.3), None)]
    specs += [("linear", c, None, (1, 1, 1.7, 0.6) if i % 2 else (1, 1, 2, 2), None)
              for i, c in enumerate(LINEAR_COORDS)]
    nodes, outs, inits = _resize_nodes(specs, 13)
    # a 1x1 conv in front: onnxruntime's quantizer quantizes a Resize only behind a quantized op
    from onnx import helper
    for nd in nodes:
        nd.input[0] = "c"
    rng = np.random.default_rng(11)
    inits["w"] = rng.standard_normal((3, 3, 1, 1)).astype(np.float32)
    nodes.insert(0, helper.make_node("Conv", ["x", "w"], ["c"]))
    calib = rng.standard_normal((8,) + x_shape[1:]).astype(np.float32)
    x = rng.standard_normal((3,) + x_shape[1:]).astype(np.float32)
    # bilinear weights in 1/1024 (TFLM's integer rule) vs onnxruntime's float resize: random inputs
    # (neighbours far apart) round the other way on up to ~1/5 of the values, never by more than 1
    model = _onnx_model(nodes, x_shape, outs, inits, 13)
    exact = _check_qdq(model, calib, x, tmp_path, min_exact=0.75)
    print(f"\nresize int8 vs onnxruntime QDQ: worst output {exact:.3f} identical, all within 1 LSB")


def test_onnx_conv_transpose_int8_qdq(tmp_path):
    rng = np.random.default_rng(12)
    x_shape = (1, 4, 5, 5)
    # (onnxruntime's quantizer cannot quantize the bias of a grouped ConvTranspose per channel)
    model = _conv_t_model(rng, x_shape, CONV_T[:4] + CONV_T[-1:], relu=True, grouped_bias=False)
    calib = rng.standard_normal((16,) + x_shape[1:]).astype(np.float32)
    x = rng.standard_normal((4,) + x_shape[1:]).astype(np.float32)
    _check_qdq(model, calib, x, tmp_path)


# -- a small torch decoder through both exporters -------------------------------------------------
def _decoder():
    """One chain (no parallel branches, which multiply the planner's execution-order search)."""
    import torch
    from torch import nn
    import torch.nn.functional as F

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.near = nn.Upsample(scale_factor=2, mode="nearest")
            self.grouped = nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1, groups=2, bias=False)
            self.bil = nn.Upsample(scale_factor=0.5, mode="bilinear", align_corners=False)
            self.bil_ac = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.up_t2 = nn.ConvTranspose2d(4, 6, 2, stride=2)
            self.up_t3 = nn.ConvTranspose2d(6, 4, 3, stride=2, padding=1, output_padding=1)
            self.head = nn.Conv2d(4, 3, 3, padding=1)

        def forward(self, x):                                    # 4x5
            x = self.grouped(self.near(x))                       # 8x10 -> 16x20
            x = self.bil_ac(self.bil(x))                         # 8x10 -> 16x20
            x = F.interpolate(x, size=(8, 10), mode="nearest")   # 8x10
            x = torch.relu(self.up_t2(x))                        # 16x20
            x = F.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=False)  # 24x30
            x = torch.relu(self.up_t3(x))                        # 48x60
            return self.head(x)
    torch.manual_seed(0)
    return Decoder().eval()


@pytest.mark.parametrize("dynamo", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_torch_decoder_both_exporters(dynamo, tmp_path):
    """nn.Upsample (nearest, bilinear with and without align_corners), F.interpolate (size and
    scale_factor), ConvTranspose2d (k2 s2; k3 s2 p1 output_padding 1; grouped) exported by the
    TorchScript and the dynamo exporter: float32 C vs onnxruntime, then int8 via onnxruntime's QDQ
    within 1 LSB."""
    torch = pytest.importorskip("torch")
    import onnx
    net = _decoder()
    example = torch.randn(1, 4, 4, 5)
    path = tmp_path / "dec.onnx"
    kw = dict(dynamo=True, external_data=False, optimize=True) if dynamo else dict(dynamo=False, opset_version=17)
    torch.onnx.export(net, (example,), str(path), input_names=["x"], **kw)
    model = onnx.load(str(path))
    ops = {n.op_type for n in model.graph.node}
    assert {"Resize", "ConvTranspose"} <= ops, ops
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 1, 4, 4, 5)).astype(np.float32)
    want = _run_float(model, x, tmp_path, "dec")
    with torch.no_grad():
        t = np.stack([net(torch.from_numpy(xi)).numpy() for xi in x])
    np.testing.assert_allclose(want[0].reshape(t.shape), t, rtol=1e-4, atol=1e-5)
    calib = rng.standard_normal((8, 4, 4, 5)).astype(np.float32)
    _check_qdq(model, calib, x[:, 0], tmp_path, "decq", min_exact=0.8, network=True)


# -- onnx's own node test cases of Resize, Upsample and ConvTranspose -----------------------------
REFUSED = ("cubic", "tf_crop_and_resize", "linear_antialias", "convtranspose_1d", "convtranspose_3d")
# onnx's expected output computes align_corners with the fractional resized length (scale * in);
# onnxruntime, our float oracle, uses the integer output length, and so do we
ORT_ORACLE = ("test_resize_downsample_scales_linear_align_corners",)


@pytest.mark.slow
def test_onnx_node_cases(tmp_path, monkeypatch):
    """Every onnx node case of these ops: the supported ones match their expected outputs (host C
    and golden model, rtol 1e-5), the rest (cubic, crop-and-resize, antialiased linear
    downscaling, 1-D / 3-D) are refused with an error naming the op and node."""
    import onnx_cases as oc
    monkeypatch.setattr(oc, "PARAM_INPUTS", dict(oc.PARAM_INPUTS, Resize=(1, 2, 3), ConvTranspose=(1, 2),
                                                 Upsample=(1,)))
    # these ops' cases only (collect_node_cases' defaults are the conformance suite's op list)
    tcs = oc.collect_node_cases(modules=("resize", "convtranspose", "upsample"),
                                prefixes=("test_resize", "test_convtranspose", "test_upsample"))
    cases = oc.generate_node_cases(tmp_path / "cases", tcs)
    assert len(cases) > 40
    failures, passed, refused = [], 0, 0
    for case in cases:
        if any(k in case.name for k in REFUSED):
            msg = oc.compile_error(case, tmp_path / "refused" / case.name)
            assert msg is not None and "at node" in msg and "\n" not in msg, (case.name, msg)
            refused += 1
            continue
        if case.name in ORT_ORACLE:
            _ort_expected(oc, case)
        r = oc.run_case(case, tmp_path / "work" / case.name)
        passed += r.ok
        if not r.ok:
            failures.append(f"{case.name}: {r.message}")
    print(f"\nonnx node cases: {passed} pass, {refused} refused")
    assert not failures, failures


def _ort_expected(oc, case):
    """Rewrite the case's expected outputs with onnxruntime's."""
    import onnxruntime as ort
    from onnx import numpy_helper
    model, inputs, _ = oc.load_case(case)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    outs = sess.run(None, {vi.name: v for vi, v in zip(model.graph.input, inputs)})
    for j, y in enumerate(outs):
        (case.path / "test_data_set_0" / f"output_{j}.pb").write_bytes(numpy_helper.from_array(y).SerializeToString())


# -- Cortex-M4 under QEMU ----------------------------------------------------------------------------
def _tfl_decoder_chain():
    """TRANSPOSE_CONV (k3 s2 SAME, bias, relu) -> RESIZE_BILINEAR (half-pixel) -> RESIZE_NEAREST."""
    rng = np.random.default_rng(3)
    b = ModelBuilder()
    x = b.tensor((1, 5, 6, 8), scale=0.05, zp=-4)
    shape = b.tensor((4,), dtype="int32", data=np.array([1, 10, 12, 8], np.int32))
    ws = rng.uniform(0.002, 0.006, 8)
    w = b.tensor((8, 3, 3, 8), scale=ws, zp=0, axis=0, data=rng.integers(-127, 128, (8, 3, 3, 8)))
    bias = b.tensor((8,), dtype="int32", scale=0.05 * ws, zp=0, axis=0, data=rng.integers(-500, 500, 8))
    t = b.tensor((1, 10, 12, 8), scale=0.03, zp=-128)
    o = fb.TransposeConvOptionsT()
    o.padding, o.strideH, o.strideW, o.fusedActivationFunction = fb.Padding.SAME, 2, 2, ACT["relu"]
    b.op(OP.TRANSPOSE_CONV, [shape, w, x, bias], [t], options=o, options_type=fb.BuiltinOptions.TransposeConvOptions)
    s1 = b.tensor((2,), dtype="int32", data=np.array([19, 23], np.int32))
    r1 = b.tensor((1, 19, 23, 8), scale=0.03, zp=-128)
    b.op(OP.RESIZE_BILINEAR, [t, s1], [r1], **_resize_opts(OP.RESIZE_BILINEAR, False, True))
    s2 = b.tensor((2,), dtype="int32", data=np.array([38, 46], np.int32))
    r2 = b.tensor((1, 38, 46, 8), scale=0.03, zp=-128)
    b.op(OP.RESIZE_NEAREST_NEIGHBOR, [r1, s2], [r2], **_resize_opts(OP.RESIZE_NEAREST_NEIGHBOR, False, False))
    return b.build([x], [r2])


def test_qemu_m4_decoder_chain_matches_tflm(tmp_path):
    """The chain on Cortex-M4 (mps2-an386, the DSP transposed convolution) and on the host (portable
    kernels) equals tflite-micro byte for byte; prints the M4 instruction count."""
    buf = _tfl_decoder_chain()
    path = tmp_path / "chain.tflite"
    path.write_bytes(buf)
    ref = TflmModel(buf)
    feeds = int8_inputs((1, 5, 6, 8), 2, seed=4)
    for target, board in (("cortex-m4", "mps2-an386"), ("host", "host")):
        res = compile_model(path, tmp_path / target, target=target, quiet=True)
        dsp = "mcf_conv_transpose2d_s8_dsp.c" in res.info["runtime_sources"]
        assert dsp == (target == "cortex-m4"), res.info["runtime_sources"]
        ours, info = simulate(tmp_path / target, board, np.stack(feeds))
        for k, f in enumerate(feeds):
            theirs = ref.run(f)[0]
            assert np.array_equal(ours[k].reshape(theirs.shape), theirs), f"{board}: sample {k}"
        if board != "host":
            print(f"\ndecoder chain on {board}: {info['instructions']} instructions per inference")


def test_fpga_backends_refuse_resize_and_conv_transpose(tmp_path):
    """No FPGA lowering yet: both backends refuse in one line naming the op, the node and the backend."""
    import onnx
    from mcuforge.codegen.hls.project import write_hls_project
    from mcuforge.codegen.rtl.project import write_rtl_project
    from mcuforge.errors import McuforgeError
    nodes, outs, inits = _resize_nodes([("nearest", "asymmetric", "floor", (1, 1, 2, 2), None)], 13)
    rng = np.random.default_rng(0)
    models = {"resize": _onnx_model(nodes, (1, 2, 3, 3), outs, inits, 13),
              "conv_transpose2d": _conv_t_model(rng, (1, 4, 5, 5), CONV_T[:1])}
    for op, model in models.items():
        path = tmp_path / f"{op}.onnx"
        onnx.save_model(model, str(path))
        calib = rng.standard_normal((4,) + tuple(d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim)[1:])
        for write in (write_hls_project, write_rtl_project):
            with pytest.raises(McuforgeError) as e:
                write(path, tmp_path / f"{op}_{write.__name__}", calib=calib.astype(np.float32))
            msg = str(e.value)
            assert op in msg and "at node" in msg and "FPGA" in msg and "\n" not in msg, msg
