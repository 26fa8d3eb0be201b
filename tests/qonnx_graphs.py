"""Small QONNX models written with onnx.helper (no Brevitas needed) and qonnx's own executor as the
oracle: input Quant -> Conv (Quant on the weights, optional bias) -> Relu? -> output Quant or Trunc."""
from __future__ import annotations

from pathlib import Path

import numpy as np

DOMAIN = "qonnx.custom_op.general"


def quant_node(name, src, out, scale, bits, signed=True, narrow=False, rounding="ROUND", zp=0.0):
    from onnx import helper, numpy_helper
    inits = [numpy_helper.from_array(np.asarray(v, np.float32), f"{name}_{k}")
             for k, v in (("s", scale), ("z", zp), ("b", float(bits)))]
    node = helper.make_node("Quant", [src, f"{name}_s", f"{name}_z", f"{name}_b"], [out], name=name, domain=DOMAIN,
                            signed=int(signed), narrow=int(narrow), rounding_mode=rounding)
    return node, inits


def conv_model(path: Path, *, x_q: dict, w_q: dict, out_q: dict | None, relu=False, cin=2, cout=3, bias=None,
               trunc: dict | None = None, bipolar_weights=False, seed=0) -> Path:
    """x [1, cin, 5, 5] -> Quant(x_q) -> Conv 3x3 pad 1 with Quant(w_q) weights -> [Relu] -> Quant(out_q) or
    Trunc(trunc) -> y. The *_q dicts hold quant_node's keyword arguments."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto
    rng = np.random.default_rng(seed)
    nodes, inits = [], [numpy_helper.from_array(rng.normal(0, 0.5, (cout, cin, 3, 3)).astype(np.float32), "w")]
    n, i = quant_node("qx", "x", "xq", **x_q)
    nodes.append(n), inits.extend(i)
    if bipolar_weights:
        inits.append(numpy_helper.from_array(np.asarray(w_q["scale"], np.float32), "wb_s"))
        nodes.append(helper.make_node("BipolarQuant", ["w", "wb_s"], ["wq"], name="qw", domain=DOMAIN))
    else:
        n, i = quant_node("qw", "w", "wq", **w_q)
        nodes.append(n), inits.extend(i)
    conv_in = ["xq", "wq"]
    if bias is not None:
        inits.append(numpy_helper.from_array(np.asarray(bias, np.float32), "bias"))
        conv_in.append("bias")
    nodes.append(helper.make_node("Conv", conv_in, ["c"], name="conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3]))
    cur = "c"
    if relu:
        nodes.append(helper.make_node("Relu", [cur], ["r"], name="relu"))
        cur = "r"
    if out_q is not None:
        n, i = quant_node("qy", cur, "y", **out_q)
        nodes.append(n), inits.extend(i)
    elif trunc is not None:
        names = ["t_s", "t_z", "t_ib", "t_os", "t_ob"]
        vals = [trunc["scale"], 0.0, trunc["in_bits"], trunc["out_scale"], trunc["out_bits"]]
        inits.extend(numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in zip(names, vals))
        nodes.append(helper.make_node("Trunc", [cur] + names, ["y"], name="trunc", domain=DOMAIN,
                                      rounding_mode=trunc.get("rounding", "FLOOR"), signed=1, narrow=0))
    else:
        nodes.append(helper.make_node("Identity", [cur], ["y"], name="out"))
    graph = helper.make_graph(nodes, "qonnx_conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, 5, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(DOMAIN, 2)])
    onnx.save(model, str(path))
    return path


def qonnx_run(path: Path, x: np.ndarray) -> np.ndarray:
    """qonnx's executor, one sample at a time (x: [N, ...] in the model's layout)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes
    mw = ModelWrapper(str(path)).transform(InferShapes())
    iname, oname = mw.graph.input[0].name, mw.graph.output[0].name
    return np.concatenate([execute_onnx(mw, {iname: x[i:i + 1].astype(np.float32)})[oname] for i in range(len(x))])
