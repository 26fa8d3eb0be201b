"""Data movement and shape handling from ONNX (issue 9): Slice, Split, Gather, Expand, Tile, Cast,
Pad (edge / reflect), DepthToSpace / SpaceToDepth, channel shuffle, and the shape arithmetic of
both torch exporters. Float32: generated C on the host and the golden model against onnxruntime
(rel 1e-4, abs 1e-5). int8: onnxruntime's own QDQ quantization of the same model, ours within
1 LSB of onnxruntime run without graph optimizations, and host C == golden byte for byte."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mcuforge.api import compile_model, simulate
from mcuforge.errors import McuforgeError

RNG = np.random.default_rng(0)


def _w(name, shape, scale=0.3):
    return numpy_helper.from_array((RNG.standard_normal(shape) * scale).astype(np.float32), name)


def _i(name, values):
    return numpy_helper.from_array(np.array(values, np.int64), name)


def _model(nodes, inits, outputs, in_shape=(1, 3, 8, 8), opset=13):
    g = helper.make_graph(nodes, "mv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _conv(x="x", y="c", cin=3, cout=6, w="w"):
    return helper.make_node("Conv", [x, w], [y], pads=[1, 1, 1, 1]), _w(w, (cout, cin, 3, 3))


def _case_slice():
    conv, w = _conv()
    nodes = [conv, helper.make_node("Slice", ["c", "s", "e", "a", "st"], ["y"]),
             helper.make_node("Pad", ["y", "p"], ["z"], mode="reflect"),
             helper.make_node("Slice", ["x", "s2", "e2"], ["u"])]
    inits = [w, _i("s", [5, 1, -1]), _i("e", [-100, 7, 0]), _i("a", [1, 2, 3]), _i("st", [-2, 2, -1]),
             _i("p", [0, 0, 1, 2, 0, 0, 2, 1]), _i("s2", [0, 1, 2, 3]), _i("e2", [1, 3, 100, -1])]
    return _model(nodes, inits, ["z", "u"])


def _case_slice_opset9():
    nodes = [helper.make_node("Slice", ["x"], ["y"], starts=[1, -6, 0], ends=[3, 1000, 5], axes=[1, 2, 3]),
             helper.make_node("Pad", ["y"], ["z"], mode="edge", pads=[0, 0, 2, 1, 0, 0, 1, 3])]
    return _model(nodes, [], ["z"], opset=9)


def _case_split():
    conv, w = _conv()
    nodes = [conv, helper.make_node("Split", ["c", "sp"], ["a", "b"], axis=1),
             helper.make_node("Split", ["b"], ["b0", "b1", "b2"], axis=2, num_outputs=3),
             helper.make_node("Concat", ["b2", "b0"], ["bc"], axis=2)]
    return _model(nodes, [w, _i("sp", [2, 4])], ["a", "b1", "bc"], opset=18)


def _case_gather():
    conv, w = _conv()
    nodes = [conv, helper.make_node("Gather", ["c", "i1"], ["g1"], axis=1),      # uneven: mcf_gather
             helper.make_node("Gather", ["c", "i2"], ["g2"], axis=2),           # scalar: select + squeeze
             helper.make_node("Gather", ["c", "i3"], ["g3"], axis=-1),          # even: strided copy
             helper.make_node("Gather", ["x", "i4"], ["g4"], axis=1)]           # 2-D indices, plain input
    inits = [w, _i("i1", [4, 0, 2, 2]), _i("i2", 3), _i("i3", [1, 3, 5]), _i("i4", [[2, 0], [1, -1]])]
    return _model(nodes, inits, ["g1", "g2", "g3", "g4"])


def _case_expand_tile():
    conv, w = _conv()
    nodes = [conv, helper.make_node("Conv", ["x", "wg"], ["p"]),                  # [1, 6, 1, 1]
             helper.make_node("Expand", ["p", "shp"], ["pe"]),
             helper.make_node("Mul", ["c", "pe"], ["se"]),
             helper.make_node("Tile", ["c", "reps"], ["t"]),
             helper.make_node("Expand", ["x", "shp2"], ["xe"])]
    inits = [w, _w("wg", (6, 3, 8, 8), 0.1), _i("shp", [1, 6, 8, 8]), _i("reps", [1, 2, 1, 2]),
             _i("shp2", [2, 1, 3, 1, 1])]
    return _model(nodes, inits, ["se", "t", "xe"])


def _case_space_depth():
    conv, w = _conv(cout=8)
    nodes = [conv, helper.make_node("DepthToSpace", ["c"], ["d"], blocksize=2, mode="DCR"),
             helper.make_node("DepthToSpace", ["c"], ["e"], blocksize=2, mode="CRD"),
             helper.make_node("SpaceToDepth", ["x"], ["s"], blocksize=2),
             helper.make_node("Cast", ["s"], ["sc"], to=TensorProto.FLOAT)]
    return _model(nodes, [w], ["d", "e", "sc"])


def _case_shuffle():
    """ShuffleNetV2's channel shuffle: Reshape -> Transpose (rank 5) -> Reshape between convs."""
    conv, w = _conv(cout=8)
    conv2, w2 = _conv("sh", "y", cin=8, cout=4, w="w2")
    nodes = [conv, helper.make_node("Reshape", ["c", "s5"], ["r"]),
             helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1, 3, 4]),
             helper.make_node("Reshape", ["t", "s4"], ["sh"]), conv2]
    return _model(nodes, [w, w2, _i("s5", [1, 2, 4, 8, 8]), _i("s4", [1, -1, 8, 8])], ["y"])


CASES = {"slice": _case_slice, "slice_opset9": _case_slice_opset9, "split": _case_split,
         "gather": _case_gather, "expand_tile": _case_expand_tile, "space_depth": _case_space_depth,
         "shuffle": _case_shuffle}


def _ort(path, x, disable_opt=False):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    if disable_opt:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    outs = [sess.run(None, {name: xi}) for xi in x]
    return [np.stack([o[k] for o in outs]) for k in range(len(outs[0]))]


def _as_list(y):
    return y if isinstance(y, list) else [y]


def check_float(path, out, x):
    want = _ort(path, x)
    compile_model(path, out, target="host", quant="float32", quiet=True)
    for board in ("reference", "host"):
        got = _as_list(simulate(out, board, x=x, quiet=True)[0])
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.reshape(w.shape), w, rtol=1e-4, atol=1e-5, err_msg=board)


@pytest.mark.parametrize("case", sorted(CASES))
def test_float_matches_onnxruntime(case, tmp_path):
    path = tmp_path / f"{case}.onnx"
    onnx.save(CASES[case](), str(path))
    x = RNG.standard_normal((3, 1, 3, 8, 8)).astype(np.float32)
    check_float(path, tmp_path / "out", x)


def test_layout_stays_nhwc_through_shuffle_and_slices(tmp_path):
    """Channel shuffle on an NHWC value is one transpose of the channel axis (no layout transposes
    around it), and the per-axis Slices an exporter writes merge into one strided copy."""
    path = tmp_path / "shuffle.onnx"
    onnx.save(_case_shuffle(), str(path))
    ops = [r["op"] for r in compile_model(path, tmp_path / "a", target="host", quant="float32",
                                          quiet=True).info["layers"]]
    assert ops.count("transpose") == 1, ops
    conv, w = _conv()
    nodes = [conv, helper.make_node("Slice", ["c", "s1", "e1", "a1"], ["y"]),
             helper.make_node("Slice", ["y", "s2", "e2", "a2", "st2"], ["z"])]
    model = _model(nodes, [w, _i("s1", [1]), _i("e1", [7]), _i("a1", [2]), _i("s2", [-1]), _i("e2", [0]),
                           _i("a2", [1]), _i("st2", [-2])], ["z"])
    path = tmp_path / "slices.onnx"
    onnx.save(model, str(path))
    x = RNG.standard_normal((2, 1, 3, 8, 8)).astype(np.float32)
    check_float(path, tmp_path / "b", x)
    ops = [r["op"] for r in compile_model(path, tmp_path / "b", target="host", quant="float32",
                                          quiet=True).info["layers"]]
    assert ops == ["conv2d", "slice"], ops


def _qdq(path, out_path, calib):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"x": c} for c in calib])

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(path), str(out_path), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True)


def check_qdq(model, tmp_path, calib, x):
    path, qdq = tmp_path / "f.onnx", tmp_path / "q.onnx"
    onnx.save(model, str(path))
    _qdq(path, qdq, calib)
    res = compile_model(qdq, tmp_path / "lib", target="host", quant="int8", calib=np.stack(calib), quiet=True)
    want = _ort(qdq, x, disable_opt=True)
    ref = _as_list(simulate(tmp_path / "lib", "reference", x=x, quiet=True)[0])
    host = _as_list(simulate(tmp_path / "lib", "host", x=x, quiet=True)[0])
    for k, (r, h, w) in enumerate(zip(ref, host, want)):
        assert np.array_equal(r, h), f"output {k}: host C differs from the golden model"
        q = res.info["outputs"][k]["quant"]
        wq = np.clip(np.round(w / q["scale"]) + q["zero_point"], -128, 127).reshape(r.shape)
        diff = np.abs(r.astype(np.int64) - wq)
        assert diff.max() <= 1, f"output {k}: {diff.max()} LSB from onnxruntime's QDQ model"
    return res


@pytest.mark.parametrize("case", ["slice", "split", "gather", "expand_tile", "shuffle"])
def test_int8_qdq_within_one_lsb_of_onnxruntime(case, tmp_path):
    calib = [RNG.uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32) for _ in range(16)]
    x = RNG.uniform(-1, 1, (4, 1, 3, 8, 8)).astype(np.float32)
    res = check_qdq(CASES[case](), tmp_path, calib, x)
    ops = {r["op"] for r in res.info["layers"]}
    assert ops & {"slice", "gather", "broadcast_to", "tile", "transpose"}, ops


# -- refusals --------------------------------------------------------------------------------------

def _two_input_model(nodes, shape_b=(2,)):
    g = helper.make_graph(nodes, "dd", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 2, 2]),
                                        helper.make_tensor_value_info("b", TensorProto.FLOAT, list(shape_b))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("nodes, node", [
    ([helper.make_node("Cast", ["b"], ["s"], to=TensorProto.INT64, name="shape_from_data"),
      helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape")], "shape_from_data"),
    ([helper.make_node("Cast", ["b"], ["i"], to=TensorProto.INT64, name="idx"),
      helper.make_node("Gather", ["x", "i"], ["y"], axis=1, name="pick")], "idx"),
])
def test_data_dependent_shape_refused_naming_node(nodes, node, tmp_path):
    path = tmp_path / "dd.onnx"
    onnx.save(_two_input_model(nodes), str(path))
    with pytest.raises(McuforgeError) as e:
        compile_model(path, tmp_path / "out", target="host", quant="float32", quiet=True)
    msg = str(e.value)
    assert "\n" not in msg and repr(node) in msg and "data" in msg, msg


def test_fpga_backends_refuse_movement_ops_in_one_line(tmp_path):
    from mcuforge.codegen.hls.project import write_hls_project
    from mcuforge.codegen.rtl.project import write_rtl_project
    path = tmp_path / "s.onnx"
    onnx.save(_case_slice_opset9(), str(path))
    calib = RNG.uniform(-1, 1, (8, 1, 3, 8, 8)).astype(np.float32)
    for write in (write_hls_project, write_rtl_project):
        with pytest.raises(McuforgeError) as e:
            write(path, tmp_path / write.__name__, calib=calib)
        msg = str(e.value)
        assert "\n" not in msg and "'slice'" in msg and "fixed-point FPGA backends" in msg, msg
