"""Reductions, matrix products and layer normalization (issue 9), each anchored to an outside oracle:
- ONNX float32: ReduceMean / Sum / Max / Min (axes as attribute and as input, keepdims, reduce-all,
  noop_with_empty_axes, after a Conv where the frontend holds NHWC), MatMul with two variable operands
  (batched, broadcast batch dims), LayerNormalization and the decomposed layer norm of opset < 17:
  generated C on the host and the golden model vs onnxruntime (rel 1e-4 / abs 1e-5).
- ONNX int8: onnxruntime's own QDQ quantization, run with ORT_DISABLE_ALL, within 1 LSB.
- int8 layer norm: our integer rule (ir/ops/layernorm.py) within 1 LSB of the float layer norm
  quantized to the output grid.
- TFLite int8: MEAN / SUM / REDUCE_MAX / REDUCE_MIN / BATCH_MATMUL byte-exact with tflite-micro
  (golden model and host C).
- A tiny keyword-spotting transformer written in torch, exported by both torch exporters: float C
  vs onnxruntime; int8 (our calibration) host C == golden, close to float; one QEMU M4 run.
"""
import collections

import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper as oh
from onnx import numpy_helper as nh

from mcuforge.api import compile_model, simulate
from mcuforge.errors import McuforgeError

import test_tflite_ops_c as tflite_c
from test_tflite_frontend import assert_parity, int8_inputs
from tflite_builder import OP, ModelBuilder, fb, reducer_opts

RTOL, ATOL = 1e-4, 1e-5


# -- helpers ------------------------------------------------------------------------------------
def _model(nodes, inputs, inits=(), opset=13):
    g = oh.make_graph(nodes, "m", [oh.make_tensor_value_info(n, TP.FLOAT, s) for n, s in inputs],
                      [oh.make_tensor_value_info(nodes[-1].output[0], TP.FLOAT, None)], list(inits))
    return oh.make_model(g, opset_imports=[oh.make_opsetid("", opset)])


def _ort(path, xs, disable_opt=False):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    if disable_opt:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    names = [i.name for i in s.get_inputs()]
    n = len(xs[0])
    return np.stack([s.run(None, {k: x[i] for k, x in zip(names, xs)})[0] for i in range(n)])


def _float_check(model, xs, tmp_path, boards=("host", "reference")):
    """Compile float32, run every sample (batch on axis 0) on the boards, compare with onnxruntime."""
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    compile_model(path, tmp_path / "lib", target="host", quant="float32", quiet=True)
    want = _ort(path, xs)
    for board in boards:
        y, _ = simulate(tmp_path / "lib", board, x=xs if len(xs) > 1 else xs[0], quiet=True)
        np.testing.assert_allclose(np.asarray(y).reshape(want.shape), want, rtol=RTOL, atol=ATOL, err_msg=board)


def _reduce_node(op, x, out, axes, keep, opset, inits):
    if axes is not None and (opset >= 18 or (op == "ReduceSum" and opset >= 13)):
        inits.append(nh.from_array(np.array(axes, np.int64), out + "_axes"))
        return oh.make_node(op, [x, out + "_axes"], [out], keepdims=keep)
    return oh.make_node(op, [x], [out], keepdims=keep, **({} if axes is None else {"axes": axes}))


def _ort_qdq(src, dst, feeds):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(feeds)

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8, per_channel=False)


# -- ONNX float32 -------------------------------------------------------------------------------
@pytest.mark.parametrize("opset", [pytest.param(11, marks=pytest.mark.slow), 13, 18])
def test_onnx_reductions_float(opset, tmp_path, rng):
    """After a Conv (NHWC on the device): ReduceMean over H, W without keepdims (the global pool of
    torch's dynamo exporter), ReduceMax over C with keepdims, ReduceSum over W of that, ReduceMin
    over H without keepdims (needs the ONNX order back), ReduceMax over everything, and a
    ReduceSum with empty axes and noop_with_empty_axes=1 (the identity; opset 13 on). Opset 11
    has every axes as an attribute, 13 ReduceSum's as an input, 18 all of them as inputs."""
    inits = [nh.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "W")]
    nodes = [oh.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]),
             _reduce_node("ReduceMean", "c", "m", [2, 3], 0, opset, inits),
             _reduce_node("ReduceMax", "c", "mx", [1], 1, opset, inits),
             _reduce_node("ReduceSum", "mx", "s", [-1], 0, opset, inits),
             _reduce_node("ReduceMin", "c", "mn", [2], 0, opset, inits),
             _reduce_node("ReduceMax", "c", "all", None, 1, opset, inits),
             oh.make_node("ReduceSum", ["m"], ["m_same"], noop_with_empty_axes=1) if opset >= 13 else
             oh.make_node("Identity", ["m"], ["m_same"]),
             oh.make_node("Flatten", ["s"], ["sf"]), oh.make_node("Flatten", ["mn"], ["mnf"]),
             oh.make_node("Flatten", ["all"], ["allf"]),
             oh.make_node("Concat", ["m_same", "sf", "mnf", "allf"], ["y"], axis=1)]
    model = _model(nodes, [("x", [1, 3, 5, 6])], inits, opset)
    _float_check(model, [rng.standard_normal((3, 1, 3, 5, 6)).astype(np.float32)], tmp_path)


def test_onnx_matmul_layernorm_float(tmp_path, rng):
    """Attention-shaped products of two variable tensors (rank 4 and broadcast rank 3), a constant
    rank-3 operand with a leading 1 (a dense layer), then LayerNormalization (opset 17)."""
    d = 8
    inits = [nh.from_array(rng.standard_normal((1, d, d)).astype(np.float32), "Wc"),
             nh.from_array(rng.standard_normal(d).astype(np.float32) + 1, "gamma"),
             nh.from_array(rng.standard_normal(d).astype(np.float32), "beta")]
    nodes = [oh.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
             oh.make_node("MatMul", ["q", "kt"], ["att"]),             # [1,2,5,5]
             oh.make_node("MatMul", ["att", "v"], ["o"]),              # v [2,5,8] broadcast -> [1,2,5,8]
             oh.make_node("MatMul", ["o", "Wc"], ["p"]),
             oh.make_node("LayerNormalization", ["p", "gamma", "beta"], ["y"], axis=-1, epsilon=1e-3)]
    model = _model(nodes, [("q", [1, 2, 5, d]), ("k", [1, 2, 5, d]), ("v", [2, 5, d])], inits, opset=17)
    xs = [rng.standard_normal((2, 1, 2, 5, d)).astype(np.float32), rng.standard_normal((2, 1, 2, 5, d)).astype(np.float32),
          rng.standard_normal((2, 2, 5, d)).astype(np.float32)]
    _float_check(model, xs, tmp_path)


def _decomposed_layernorm(rng, d, with_beta=True):
    """What torch's TorchScript exporter writes for nn.LayerNorm below opset 17."""
    c = lambda name, v: nh.from_array(np.asarray(v, np.float32), name)  # noqa: E731
    inits = [c("two", 2.0), c("eps", 1e-5), c("gamma", rng.standard_normal(d) + 1), c("beta", rng.standard_normal(d))]
    nodes = [oh.make_node("Relu", ["x"], ["r"]),
             oh.make_node("ReduceMean", ["r"], ["mu"], axes=[-1]),
             oh.make_node("Sub", ["r", "mu"], ["dx"]),
             oh.make_node("Pow", ["dx", "two"], ["sq"]),
             oh.make_node("ReduceMean", ["sq"], ["var"], axes=[-1]),
             oh.make_node("Add", ["var", "eps"], ["ve"]),
             oh.make_node("Sqrt", ["ve"], ["sd"]),
             oh.make_node("Div", ["dx", "sd"], ["nrm"]),
             oh.make_node("Mul", ["nrm", "gamma"], ["sc"])]
    if with_beta:
        nodes.append(oh.make_node("Add", ["sc", "beta"], ["y"]))
    return _model(nodes, [("x", [1, 6, d])], inits, opset=13)


def test_decomposed_layernorm_is_fused(tmp_path, rng):
    from mcuforge.frontend.onnx import OnnxImporter
    model = _decomposed_layernorm(rng, 16)
    g = OnnxImporter(onnx.ModelProto.FromString(model.SerializeToString())).run()
    assert collections.Counter(n.op for n in g.nodes.values()) == {"relu": 1, "layernorm": 1}
    _float_check(model, [rng.standard_normal((3, 1, 6, 16)).astype(np.float32)], tmp_path)


def test_unsupported_forms_are_refused_in_one_line(tmp_path, rng):
    """An op outside the family, the layer norm's statistics outputs, and the FPGA backends (which
    have no reduction / layer norm layer) each fail naming op and node."""
    from mcuforge.codegen.hls.project import write_hls_project
    model = _model([oh.make_node("ReduceL2", ["x"], ["y"], axes=[1], name="l2norm")], [("x", [1, 4])])
    onnx.save(model, str(tmp_path / "m.onnx"))
    with pytest.raises(McuforgeError, match="'ReduceL2' at node 'l2norm'"):
        compile_model(tmp_path / "m.onnx", tmp_path / "lib", target="host", quant="float32", quiet=True)
    ln = _model([oh.make_node("LayerNormalization", ["x", "g"], ["y", "mu"], name="ln")], [("x", [1, 4])],
                [nh.from_array(np.ones(4, np.float32), "g")], opset=17)
    onnx.save(ln, str(tmp_path / "ln.onnx"))
    with pytest.raises(McuforgeError, match="'LayerNormalization' at node 'ln': the Mean / InvStdDev outputs"):
        compile_model(tmp_path / "ln.onnx", tmp_path / "lib2", target="host", quant="float32", quiet=True)
    pool = _model([oh.make_node("ReduceMean", ["x"], ["y"], axes=[1], name="avg")], [("x", [1, 4])])
    onnx.save(pool, str(tmp_path / "pool.onnx"))
    with pytest.raises(McuforgeError, match="'mean' at node 'avg'.*FPGA"):
        write_hls_project(tmp_path / "pool.onnx", tmp_path / "hls", calib=rng.standard_normal((4, 1, 4)).astype(np.float32))


# -- onnx's own node test cases ------------------------------------------------------------------
NODE_MODULES = ("reducemean", "reducesum", "reducemax", "reducemin", "layernormalization")
NODE_PREFIXES = ("test_reduce_mean", "test_reduce_sum_", "test_reduce_max", "test_reduce_min",
                 "test_layer_normalization")
# bool tensors and zero-sized reductions are outside the float32 device contract; the "_expanded"
# layer norms are function bodies of ops that belong to other areas (Cast, Reciprocal, ...)
NODE_SKIP = ("bool", "empty_set", "_expanded")
NODE_DEFAULT = ("test_reduce_mean_do_not_keepdims_random", "test_reduce_max_negative_axes_keepdims_random",
                "test_reduce_min_default_axes_keepdims_random", "test_reduce_sum_empty_axes_input_noop",
                "test_reduce_sum_keepdims_random", "test_layer_normalization_3d_axis_negative_1_epsilon",
                "test_layer_normalization_4d_axis1", "test_layer_normalization_default_axis")


def _node_case_names():
    import onnx_cases as oc
    return [tc.name for tc in oc.collect_node_cases(NODE_MODULES, NODE_PREFIXES)
            if not any(k in tc.name for k in NODE_SKIP)]


def _drop_layernorm_stats(case_dir):
    """LayerNormalization's node cases also output Mean and InvStdDev (training statistics no
    exporter writes for inference; the compiler refuses them, see below): keep output 0 only."""
    model = onnx.load(str(case_dir / "model.onnx"))
    node = model.graph.node[0]
    if node.op_type != "LayerNormalization" or len(model.graph.output) == 1:
        return
    del node.output[1:]
    del model.graph.output[1:]
    onnx.save(model, str(case_dir / "model.onnx"))
    for extra in case_dir.glob("test_data_set_0/output_[12].pb"):
        extra.unlink()


@pytest.mark.parametrize("subset", ["default", pytest.param("all", marks=pytest.mark.slow)])
def test_onnx_node_cases(subset, tmp_path):
    """onnx's node cases of ReduceMean/Sum/Max/Min (opset 18: axes as an input) and
    LayerNormalization (every axis, 2-D to 4-D): host C and golden at rtol 1e-5 / atol 1e-6."""
    import onnx_cases as oc
    tcs = [tc for tc in oc.collect_node_cases(NODE_MODULES, NODE_PREFIXES) if tc.name in set(_node_case_names())]
    if subset == "default":
        tcs = [tc for tc in tcs if tc.name in NODE_DEFAULT]
        assert len(tcs) == len(NODE_DEFAULT)
    cases = oc.generate_node_cases(tmp_path, tcs)
    for case in cases:
        _drop_layernorm_stats(case.path)
    results = oc.run_all(cases, tmp_path / "work")
    bad = {name: r.message for name, r in results.items() if not r.ok}
    assert not bad, bad


# -- ONNX int8: onnxruntime's QDQ ---------------------------------------------------------------
def _qdq_models(rng):
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    pool = _model([oh.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1]),
                   oh.make_node("ReduceMean", ["c"], ["m"], axes=[2, 3], keepdims=0),
                   oh.make_node("ReduceMax", ["c"], ["mx"], axes=[2, 3], keepdims=0),
                   oh.make_node("ReduceSum", ["c", "ax"], ["s"], keepdims=0),
                   oh.make_node("Add", ["m", "mx"], ["a"]), oh.make_node("Add", ["a", "s"], ["y"])],
                  [("x", [1, 3, 6, 6])], [nh.from_array(w, "W"), nh.from_array(np.array([2, 3], np.int64), "ax"),
                                          nh.from_array(np.linspace(-2, 2, 4).astype(np.float32), "B")])
    matmul = _model([oh.make_node("MatMul", ["a", "b"], ["y"])], [("a", [1, 2, 5, 8]), ("b", [1, 1, 8, 6])])
    # attention scores scaled by a Constant node: onnxruntime quantizes the constant with a
    # QuantizeLinear node of its own, which the frontend folds into stored integers
    scaled = _model([oh.make_node("MatMul", ["a", "b"], ["s"]),
                     oh.make_node("Constant", [], ["c"], value=nh.from_array(np.array(0.25, np.float32))),
                     oh.make_node("Mul", ["s", "c"], ["y"])], [("a", [1, 2, 5, 8]), ("b", [1, 2, 8, 5])])
    # the layer norm's scale and bias arrive as DequantizeLinear of int8 constants
    layernorm = _model([oh.make_node("LayerNormalization", ["x", "g", "b"], ["y"], axis=-1)], [("x", [1, 6, 16])],
                       [nh.from_array(rng.standard_normal(16).astype(np.float32), "g"),
                        nh.from_array(rng.standard_normal(16).astype(np.float32), "b")], opset=17)
    return {"reductions": pool, "batched_matmul": matmul, "scaled_scores": scaled, "layernorm": layernorm}


@pytest.mark.parametrize("case", ["reductions", "batched_matmul", "scaled_scores", "layernorm"])
def test_onnx_qdq_within_one_lsb(case, tmp_path, rng):
    model = _qdq_models(rng)[case]
    src, qdq = tmp_path / "f.onnx", tmp_path / "qdq.onnx"
    onnx.save(model, str(src))
    ins = [(vi.name, tuple(d.dim_value for d in vi.type.tensor_type.shape.dim)) for vi in model.graph.input]
    calib = [{n: rng.standard_normal(s).astype(np.float32) for n, s in ins} for _ in range(16)]
    _ort_qdq(src, qdq, calib)
    qnodes = [n for n in onnx.load(str(qdq)).graph.node if n.op_type == "QuantizeLinear"]
    assert len(qnodes) >= 2
    if case == "scaled_scores":
        assert any(n.input[0] == "c" for n in qnodes)
    np.savez(tmp_path / "calib.npz", **{n: np.concatenate([c[n] for c in calib]) for n, _ in ins})
    res = compile_model(qdq, tmp_path / "lib", target="host", quant="int8", calib=tmp_path / "calib.npz", quiet=True)
    oq = res.info["outputs"][0]["quant"]
    xs = [rng.standard_normal((12,) + s).astype(np.float32) for _, s in ins]
    want = np.round(_ort(qdq, xs, disable_opt=True) / oq["scale"]) + oq["zero_point"]
    outs = {}
    for board in ("host", "reference"):
        y, _ = simulate(tmp_path / "lib", board, x=xs if len(xs) > 1 else xs[0], quiet=True)
        outs[board] = y
        diff = np.abs(y.astype(np.int64).reshape(want.shape) - want)
        assert diff.max() <= 1, f"{board}: {diff.max()} LSB from onnxruntime's QDQ"
    assert np.array_equal(outs["host"], outs["reference"])


# -- int8 layer norm rule -----------------------------------------------------------------------
def test_int8_layernorm_rule_within_one_lsb(rng):
    """The integer rule against the float layer norm of the same int8 input, quantized to the output
    grid, over rows of several widths and spreads (C == golden: the transformer tests below)."""
    from mcuforge.ir.graph import Graph, Node
    from mcuforge.ir.ops import get_op, infer_node
    from mcuforge.ir.tensor import QuantParams, Tensor
    op = get_op("layernorm")
    worst = 0
    for n, spread in ((8, 3), (32, 40), (64, 127), (192, 10)):
        g = Graph("ln")
        g.add_tensor(Tensor("x", (4, n), "int8", quant=QuantParams(0.03, 5)))
        node = Node("ln", "layernorm", ["x"], ["y"], {"epsilon": 1e-5, "gamma": rng.uniform(-2, 2, n),
                                                      "beta": rng.uniform(-1, 1, n)})
        g.add_node(node)
        infer_node(g, node)
        g.tensors["y"].dtype, g.tensors["y"].quant = "int8", QuantParams(0.025, -3)
        q = np.clip(rng.integers(-spread, spread + 1, (4, n)) + 5, -128, 127).astype(np.int8)
        q[3] = 5  # a constant row: only epsilon keeps the variance off zero
        y = op.run_int8(node, [q], op.int8_params(node, g))[0]
        f = op.run_float(node, [(q.astype(np.float64) - 5) * 0.03])[0].astype(np.float64)
        want = np.clip(np.round(f / 0.025) - 3, -128, 127)
        worst = max(worst, int(np.abs(y.astype(np.int64) - want).max()))
    assert worst <= 1, f"integer layer norm is {worst} LSB from the float one"


# -- TFLite int8 byte-exact with tflite-micro ----------------------------------------------------
def _reduce_model(code, shape, axes, keep, same_quant):
    b = ModelBuilder()
    x = b.tensor(shape, scale=0.05, zp=3)
    red = [a % len(shape) for a in axes]
    out = [1 if i in red else d for i, d in enumerate(shape)] if keep else \
        [d for i, d in enumerate(shape) if i not in red]
    y = b.tensor(out, scale=0.05 if same_quant else 0.17, zp=3 if same_quant else -7)
    a = b.tensor((len(axes),), dtype="int32", data=np.array(axes))
    b.op(code, [x, a], [y], **reducer_opts(keep))
    return b.build([x], [y])


def _batch_matmul_model(a_shape, b_shape, adj_x, adj_y, const_b=False):
    rng = np.random.default_rng(3)
    b = ModelBuilder()
    ta = b.tensor(a_shape, scale=0.05, zp=3)
    tb = b.tensor(b_shape, scale=0.04, zp=-2 if not const_b else 0,
                  data=rng.integers(-128, 128, b_shape) if const_b else None)
    m = a_shape[-1] if adj_x else a_shape[-2]
    n = b_shape[-2] if adj_y else b_shape[-1]
    batch = np.broadcast_shapes(tuple(a_shape[:-2]), tuple(b_shape[:-2]))
    y = b.tensor(tuple(batch) + (m, n), scale=0.3, zp=1)
    o = fb.BatchMatMulOptionsT()
    o.adjX, o.adjY = adj_x, adj_y
    b.op(OP.BATCH_MATMUL, [ta, tb], [y], options=o, options_type=fb.BuiltinOptions.BatchMatMulOptions)
    return b.build([ta] if const_b else [ta, tb], [y])


TFLITE_CASES = {
    "sum_hw": lambda: _reduce_model(OP.SUM, (1, 4, 5, 6), [1, 2], False, False),
    "sum_c_keep": lambda: _reduce_model(OP.SUM, (1, 4, 5, 6), [3], True, False),
    "mean_all_but_batch": lambda: _reduce_model(OP.MEAN, (1, 4, 5, 6), [1, 2, 3], False, False),
    "mean_rank3_last": lambda: _reduce_model(OP.MEAN, (2, 7, 9), [-1], True, False),
    "reduce_max_hw": lambda: _reduce_model(OP.REDUCE_MAX, (1, 4, 5, 6), [1, 2], False, True),
    "reduce_min_c_keep": lambda: _reduce_model(OP.REDUCE_MIN, (1, 4, 5, 6), [3], True, True),
    "batch_matmul": lambda: _batch_matmul_model((2, 3, 4), (2, 4, 5), False, False),
    "batch_matmul_adj_y_bcast": lambda: _batch_matmul_model((2, 2, 3, 8), (1, 2, 5, 8), False, True),
    "batch_matmul_adj_x": lambda: _batch_matmul_model((3, 6, 4), (3, 6, 5), True, False),
    "batch_matmul_const_rhs": lambda: _batch_matmul_model((1, 5, 8), (1, 8, 3), False, False, const_b=True),
}


@pytest.mark.parametrize("case", sorted(TFLITE_CASES))
def test_tflite_golden_matches_tflm(case):
    buf = TFLITE_CASES[case]()
    from mcuforge.frontend.tflite import load_tflite_bytes
    g = load_tflite_bytes(buf)
    shapes = [g.tensors[t].shape for t in g.inputs]
    feeds = list(zip(*[int8_inputs(s, 4, seed=i) for i, s in enumerate(shapes)]))
    assert_parity(buf, feeds, case)


@pytest.mark.parametrize("case", ["sum_hw", "reduce_min_c_keep", "batch_matmul_adj_y_bcast", "batch_matmul_const_rhs"])
def test_tflite_c_matches_tflm(case, tmp_path, monkeypatch):
    monkeypatch.setitem(tflite_c.CASES, case, TFLITE_CASES[case])
    tflite_c.test_c_matches_tflm(case, tmp_path)


def test_tflite_reduce_max_needs_one_grid():
    from mcuforge.frontend.tflite import load_tflite_bytes
    with pytest.raises(McuforgeError, match="REDUCE_MAX.*quantization differ"):
        load_tflite_bytes(_reduce_model(OP.REDUCE_MAX, (1, 4, 5, 6), [1, 2], False, False))


# -- a tiny keyword-spotting transformer through both torch exporters --------------------------------
def _kwt(seed=0, d=32, heads=2, mha=False):
    """Patch embedding (a strided conv over a 40x16 spectrogram), two pre-norm encoder blocks with
    hand-written multi-head attention (Q @ K^T, softmax, @ V on rank-4 tensors) and a ReLU MLP,
    LayerNorm, mean pooling over the tokens, a linear head (12 keywords). mha: torch's
    nn.MultiheadAttention instead (its export slices the packed projection with Gather/Slice)."""
    import torch
    import torch.nn as nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            if mha:
                self.att = nn.MultiheadAttention(d, heads, batch_first=True)
            self.q, self.k, self.v, self.proj = (nn.Linear(d, d) for _ in range(4))
            self.ff = nn.Sequential(nn.Linear(d, 2 * d), nn.ReLU(), nn.Linear(2 * d, d))

        def forward(self, x):
            b, t, _ = x.shape
            y = self.ln1(x)
            if mha:
                return self._mlp(x + self.att(y, y, y, need_weights=False)[0])
            q, k, v = (lin(y).reshape(b, t, heads, d // heads).transpose(1, 2) for lin in (self.q, self.k, self.v))
            a = torch.softmax(q @ k.transpose(-2, -1) * (d // heads) ** -0.5, dim=-1)
            return self._mlp(x + self.proj((a @ v).transpose(1, 2).reshape(b, t, d)))

        def _mlp(self, x):
            return x + self.ff(self.ln2(x))

    class KWT(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Conv2d(1, d, (10, 4), stride=(10, 4))
            self.blocks = nn.Sequential(Block(), Block())
            self.ln = nn.LayerNorm(d)
            self.head = nn.Linear(d, 12)

        def forward(self, x):
            t = self.embed(x).flatten(2).transpose(1, 2)
            return self.head(self.ln(self.blocks(t)).mean(dim=1))

    torch.manual_seed(seed)
    return KWT().eval()


def _fast_plan(g):
    """The memory plan in the graph's own order: the default order search plans up to 200
    topological orders, minutes for a 70-node transformer on a loaded machine (see the report)."""
    from mcuforge.schedule.memory import plan_memory
    return plan_memory(g, search_order=False)[1]


@pytest.fixture(scope="module", params=["torchscript", pytest.param("dynamo", marks=pytest.mark.slow)])
def kwt(request, tmp_path_factory):
    import torch
    tmp = tmp_path_factory.mktemp(f"kwt_{request.param}")
    path = tmp / "kwt.onnx"
    kw = {"dynamo": True} if request.param == "dynamo" else {"dynamo": False, "opset_version": 13}
    torch.onnx.export(_kwt(), (torch.randn(1, 1, 40, 16),), str(path), input_names=["x"], output_names=["y"], **kw)
    return request.param, path, tmp


def test_kwt_float_matches_onnxruntime(kwt, rng):
    exporter, path, tmp = kwt
    ops = collections.Counter(n.op_type for n in onnx.load(str(path)).graph.node)
    assert ops["MatMul"] >= 4 and ops["ReduceMean"] >= 1 and ops["Softmax"] == 2
    # opset 13 TorchScript writes the layer norm decomposed, dynamo writes LayerNormalization
    assert ops["LayerNormalization"] == (5 if exporter == "dynamo" else 0)
    compile_model(path, tmp / "f32", target="host", quant="float32", quiet=True, planner=_fast_plan)
    xs = rng.standard_normal((4, 1, 1, 40, 16)).astype(np.float32)
    want = _ort(path, [xs])
    for board in ("host", "reference"):
        y, _ = simulate(tmp / "f32", board, x=xs, quiet=True)
        np.testing.assert_allclose(y.reshape(want.shape), want, rtol=RTOL, atol=ATOL, err_msg=board)


def test_kwt_int8_host_equals_golden_and_tracks_float(kwt, rng):
    exporter, path, tmp = kwt
    calib = rng.standard_normal((32, 1, 40, 16)).astype(np.float32)
    res = compile_model(path, tmp / "int8", target="host", quant="int8", calib=calib, quiet=True,
                        planner=_fast_plan)
    oq = res.info["outputs"][0]["quant"]
    xs = rng.standard_normal((16, 1, 1, 40, 16)).astype(np.float32)
    host, _ = simulate(tmp / "int8", "host", x=xs, quiet=True)
    gold, _ = simulate(tmp / "int8", "reference", x=xs, quiet=True)
    assert np.array_equal(host, gold)
    want = _ort(path, [xs]).reshape(len(xs), -1)
    real = (host.reshape(want.shape).astype(np.float64) - oq["zero_point"]) * oq["scale"]
    err = np.abs(real - want).max() / oq["scale"]
    print(f"\n{exporter}: int8 transformer within {err:.1f} output LSB of float; "
          f"argmax agreement {np.mean(real.argmax(1) == want.argmax(1)):.3f}")
    assert err <= 6
    assert np.mean(real.argmax(1) == want.argmax(1)) >= 0.9


@pytest.mark.slow
def test_kwt_int8_on_qemu_m4(tmp_path, rng):
    """The int8 transformer (TorchScript export) on an emulated Cortex-M4 == the golden model."""
    import torch
    path = tmp_path / "kwt.onnx"
    torch.onnx.export(_kwt(), (torch.randn(1, 1, 40, 16),), str(path), dynamo=False, opset_version=17)
    calib = rng.standard_normal((16, 1, 40, 16)).astype(np.float32)
    compile_model(path, tmp_path / "m4", target="cortex-m4", quant="int8", calib=calib, quiet=True, planner=_fast_plan)
    xs = rng.standard_normal((3, 1, 1, 40, 16)).astype(np.float32)
    m4, info = simulate(tmp_path / "m4", "mps2-an386", x=xs, quiet=True)
    gold, _ = simulate(tmp_path / "m4", "reference", x=xs, quiet=True)
    assert np.array_equal(m4, gold)
    print(f"\nkwt int8 on M4: {info['instructions']} instructions per inference, arena {info['arena_bytes']} B")


def test_dynamo_global_pool_is_reduce_mean(tmp_path, rng):
    """torch's dynamo exporter writes AdaptiveAvgPool2d(1) as ReduceMean over H, W: a small CNN
    with it compiles, float32 matches onnxruntime, int8 host C == golden and tracks float."""
    import torch
    import torch.nn as nn
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2, padding=1),
                        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5)).eval()
    path = tmp_path / "gap.onnx"
    torch.onnx.export(net, (torch.randn(1, 3, 12, 12),), str(path), dynamo=True, input_names=["x"])
    assert "ReduceMean" in {n.op_type for n in onnx.load(str(path)).graph.node}
    xs = rng.standard_normal((6, 1, 3, 12, 12)).astype(np.float32)
    want = _ort(path, [xs])
    compile_model(path, tmp_path / "f32", target="host", quant="float32", quiet=True)
    y, _ = simulate(tmp_path / "f32", "host", x=xs, quiet=True)
    np.testing.assert_allclose(y.reshape(want.shape), want, rtol=RTOL, atol=ATOL)
    res = compile_model(path, tmp_path / "int8", target="host", quant="int8",
                        calib=rng.standard_normal((16, 1, 3, 12, 12)).astype(np.float32)[:, 0], quiet=True)
    oq = res.info["outputs"][0]["quant"]
    host, _ = simulate(tmp_path / "int8", "host", x=xs, quiet=True)
    gold, _ = simulate(tmp_path / "int8", "reference", x=xs, quiet=True)
    assert np.array_equal(host, gold)
    real = (host.reshape(want.shape).astype(np.float64) - oq["zero_point"]) * oq["scale"]
    assert np.abs(real - want).max() <= 3 * oq["scale"]


def test_batch_matmul_dsp_kernel_on_m4_matches_tflm(tmp_path):
    """BATCH_MATMUL compiled for the Cortex-M4 takes the SMLAD kernel (odd k, a broadcast batch
    that reuses B's transposed columns); under QEMU its bytes equal tflite-micro's."""
    from mcuforge.sim.tflm import TflmModel
    buf = _batch_matmul_model((2, 3, 4, 7), (1, 3, 7, 5), False, False)
    path = tmp_path / "bmm.tflite"
    path.write_bytes(buf)
    res = compile_model(path, tmp_path / "lib", target="cortex-m4", quiet=True)
    assert "mcf_matmul_s8_dsp" in (tmp_path / "lib" / f"{res.info['prefix']}.c").read_text()
    feeds = [int8_inputs(s, 2, seed=i) for i, s in enumerate([(2, 3, 4, 7), (1, 3, 7, 5)])]
    ours, _ = simulate(tmp_path / "lib", "mps2-an386", [np.stack(f) for f in feeds], quiet=True)
    ref = TflmModel(buf)
    for k in range(len(feeds[0])):
        assert np.array_equal(ours[k], ref.run(feeds[0][k], feeds[1][k])[0]), f"sample {k}"


@pytest.mark.slow
@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_kwt_with_torch_multihead_attention(exporter, tmp_path, rng):
    """The same transformer with nn.MultiheadAttention: float C = onnxruntime, int8 host == golden."""
    import torch
    path = tmp_path / "kwt_mha.onnx"
    kw = {"dynamo": True} if exporter == "dynamo" else {"dynamo": False, "opset_version": 17}
    torch.onnx.export(_kwt(mha=True), (torch.randn(1, 1, 40, 16),), str(path), input_names=["x"], **kw)
    xs = rng.standard_normal((4, 1, 1, 40, 16)).astype(np.float32)
    want = _ort(path, [xs])
    compile_model(path, tmp_path / "f32", target="host", quant="float32", quiet=True, planner=_fast_plan)
    y, _ = simulate(tmp_path / "f32", "host", x=xs, quiet=True)
    np.testing.assert_allclose(y.reshape(want.shape), want, rtol=RTOL, atol=ATOL)
    calib = rng.standard_normal((16, 1, 40, 16)).astype(np.float32)
    compile_model(path, tmp_path / "int8", target="host", quant="int8", calib=calib, quiet=True, planner=_fast_plan)
    host, _ = simulate(tmp_path / "int8", "host", x=xs, quiet=True)
    gold, _ = simulate(tmp_path / "int8", "reference", x=xs, quiet=True)
    assert np.array_equal(host, gold)
