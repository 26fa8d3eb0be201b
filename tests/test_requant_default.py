"""The default requantization rounding follows the model's origin (api._set_requant):
- a model quantized here (ONNX float + calibration, ONNX QDQ, QONNX, torch) rounds once, as the
  oracle of such a model, onnxruntime's QDQ model (ORT_DISABLE_ALL), computes;
- a .tflite model (int8 or 16x8) keeps TFLite's double rounding, byte-exact with tflite-micro.
`--requant double|single` overrides for ONNX; single stays refused for .tflite. Each default is
checked against its outside oracle, and against the other rounding to show that it matters."""
import json

import numpy as np
import pytest

from mcuforge.api import compile_model, prepare_graph, simulate
from mcuforge.errors import McuforgeError
from mcuforge.reference.executor import Executor

from corpus import check


def _golden(g, xq):
    """Golden-model outputs, one row per sample, of int8 user-layout inputs xq (N, 1, ...)."""
    (inp,), (out,) = g.inputs, g.outputs
    perm = g.meta.get("io_perm", {}).get(inp)
    ex = Executor(g)
    return np.stack([np.asarray(ex.run({inp: xi.transpose(perm) if perm else xi})[out]).reshape(-1) for xi in xq])


def _quantize_input(g, x):
    q = g.tensors[g.inputs[0]].quant
    xq = np.clip(np.round(x / q.scale[0]) + q.zero_point[0], -128, 127).astype(np.int8)
    return xq[:, None]


def test_onnx_default_is_single_rounding_and_matches_onnxruntime(tmp_path):
    net = "ds_cnn"
    calib, x = check.samples(net)
    qdq = check.ort_qdq_model(check.onnx_path(net, "ts"), calib, tmp_path / "qdq.onnx")
    want = check.ort_run(qdq, x, disable_opt=True)[0]
    g, _ = prepare_graph(qdq, calib=calib, quiet=True)
    gd, _ = prepare_graph(qdq, calib=calib, quiet=True, requant="double")
    assert g.meta["requant"] == "single" and gd.meta["requant"] == "double"
    qo = g.tensors[g.outputs[0]].quant
    y, yd = _golden(g, _quantize_input(g, x)), _golden(gd, _quantize_input(gd, x))
    wq = np.clip(np.round(want / qo.scale[0]) + qo.zero_point[0], -128, 127).reshape(y.shape)
    # measured: default 48 / 48 outputs identical to onnxruntime, double rounding 45 / 48
    assert np.array_equal(y, wq)
    assert not np.array_equal(yd, wq)


def test_tflite_default_stays_double_rounding_byte_exact_with_tflite_micro():
    from mcuforge.sim.tflm import TflmModel
    path = check.tflite_path("keras_resnet")
    g, _ = prepare_graph(path, quiet=True)
    assert g.meta["requant"] == "double"
    inp = g.inputs[0]
    perm = g.meta.get("io_perm", {}).get(inp)
    shape = g.tensors[inp].shape
    user = tuple(shape[i] for i in np.argsort(perm)) if perm else tuple(shape)
    xq = np.random.default_rng(0).integers(-128, 128, (8,) + user, dtype=np.int8)
    tflm = TflmModel(path.read_bytes(), arena_size=1 << 21)
    want = np.stack([np.asarray(tflm.run(xi)[0]).reshape(-1) for xi in xq])
    assert np.array_equal(_golden(g, xq), want)
    # the single rounding is not what tflite-micro computes (measured: 91 % of the outputs equal)
    g.meta["requant"] = "single"
    assert not np.array_equal(_golden(g, xq), want)
    with pytest.raises(McuforgeError, match="keeps TFLite Micro's double rounding"):
        prepare_graph(path, quiet=True, requant="single")


def test_default_reaches_model_json_config_header_and_c(tmp_path):
    """Float ONNX + calibration through the CLI without --requant: single rounding in model.json,
    graph.json and mcf_config.h, host C == golden; --requant double switches all three."""
    from mcuforge.cli import main
    net = "ds_cnn"
    calib, x = check.samples(net)
    np.save(tmp_path / "calib.npy", calib)
    src = str(check.onnx_path(net, "dynamo"))
    outs = {}
    for mode, extra in (("single", []), ("double", ["--requant", "double"])):
        out = tmp_path / mode
        assert main(["compile", src, "-o", str(out), "--calib", str(tmp_path / "calib.npy"), "--no-report"] + extra) == 0
        assert json.loads((out / "model.json").read_text())["requant"] == mode
        assert json.loads((out / "graph.json").read_text())["meta"]["requant"] == mode
        config = out / "mcuforge_runtime" / "include" / "mcf_config.h"   # absent: mcf_arith.h's 0
        assert ("#define MCF_SINGLE_ROUNDING 1" in config.read_text()) if mode == "single" else not config.exists()
        got, _ = simulate(out, "host", x, quiet=True)
        ref, _ = simulate(out, "reference", x, quiet=True)
        assert np.array_equal(got, ref)
        outs[mode] = got
    assert not np.array_equal(outs["single"], outs["double"])


def test_int16_keeps_double_rounding(tmp_path):
    """16x8 models come from .tflite only (TFLite's scheme, tflite-micro the oracle): double
    rounding, single refused; an ONNX QDQ model with int16 activations is refused in one line."""
    import onnx
    from onnx import TensorProto, helper
    path = check.FIXTURES / "keras_ds_cnn_int16.tflite"
    g, _ = prepare_graph(path, quiet=True)
    assert g.meta["requant"] == "double" and any(t.dtype == "int16" for t in g.tensors.values())
    with pytest.raises(McuforgeError, match="requant='single' is for int8 models"):
        prepare_graph(path, quiet=True, requant="single")
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q16"),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["d"], name="dq16"),
             helper.make_node("Relu", ["d"], ["y"], name="relu")]
    inits = [helper.make_tensor("s", TensorProto.FLOAT, [], [0.001]),
             helper.make_tensor("z", TensorProto.INT16, [], [0])]
    graph = helper.make_graph(nodes, "q16", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]), tmp_path / "q16.onnx")
    with pytest.raises(McuforgeError, match="QuantizeLinear.*q16.*int16"):
        prepare_graph(tmp_path / "q16.onnx", calib=np.zeros((2, 1, 8), np.float32), quiet=True)


def test_search_evaluator_uses_the_default(tmp_path):
    """The quantization search measures accuracy on the rounding that compile_best then builds."""
    from mcuforge.search.evaluate import Evaluator
    calib, x = check.samples("ds_cnn")
    ev = Evaluator(check.onnx_path("ds_cnn", "ts"), x, np.zeros(len(x), np.int64), calib)
    q = ev.quantize({"calib": "minmax", "weights": "per_channel"})
    assert q.meta["requant"] == "single"


def test_training_refuses_single_rounding(tmp_path, capsys):
    """The on-device training step's int8 kernels implement TFLite's rounding only: asking for
    single is an error naming the reason, not silently ignored."""
    from mcuforge.cli import main
    src = str(check.onnx_path("autoencoder", "ts"))
    assert main(["compile", src, "-o", str(tmp_path / "t"), "--train", "--update", "all",
                 "--requant", "single"]) == 1
    assert "training step keeps TFLite's double rounding" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()
