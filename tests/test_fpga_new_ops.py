"""Issue 9's ops on the FPGA backends: none of them lowers to the fixed-point HLS / RTL layer
libraries, so each must be refused in one line naming the op, the node and the backends, before
any project is written. The op list is the registry itself, so an op added later is covered."""
import numpy as np
import pytest

from mcuforge.errors import UnsupportedOpError
from mcuforge.ir.graph import Graph, Node
from mcuforge.ir.ops import OPS
from mcuforge.ir.tensor import Tensor
from mcuforge.quant.fixed import FIXED_OPS, quantize_fixed

TRAINING = {"act_grad", "avgpool_grad", "conv2d_grad_input", "conv2d_grad_weight", "dense_grad_input",
            "dense_grad_weight", "grad_add", "grad_sum", "mean_grad", "mse_loss", "sgd_update", "softmax_xent"}
INTERNAL = {"lut", "patch_paste", "batchnorm"}   # made by passes after import / folded away
NEW_OPS = sorted(set(OPS) - FIXED_OPS - TRAINING - INTERNAL)


def test_the_fixed_point_set_is_what_both_libraries_lower():
    from mcuforge.codegen.rtl.layers import RTL_OPS
    assert set(RTL_OPS) == FIXED_OPS
    # (hardswish lowers since the QFX layers: it is in the fixed-point set, not refused)
    assert "hardswish" in FIXED_OPS
    assert {"log_softmax", "div", "resize", "conv_transpose2d", "softmax"} <= set(NEW_OPS)


@pytest.mark.parametrize("op", NEW_OPS)
def test_issue9_op_refused_in_one_line(op):
    g = Graph("one_op")
    g.add_tensor(Tensor("x", (1, 8), "float32"))
    g.add_tensor(Tensor("y", (1, 8), "float32"))
    g.inputs, g.outputs = ["x"], ["y"]
    g.add_node(Node(f"the_{op}", op, ["x"], ["y"]))
    with pytest.raises(UnsupportedOpError) as e:
        quantize_fixed(g, {"x": (-1.0, 1.0), "y": (-1.0, 1.0)})
    msg = str(e.value)
    assert f"unsupported op '{op}' at node 'the_{op}'" in msg and "FPGA backends (HLS and RTL)" in msg
    assert "\n" not in msg


@pytest.mark.parametrize("backend", ["hls", "rtl"])
def test_project_writers_refuse_before_writing(backend, tmp_path):
    """LogSoftmax through `mcuforge hls` / `mcuforge rtl`: the refusal, and no output directory."""
    import onnx
    from onnx import TensorProto, helper
    if backend == "hls":
        from mcuforge.codegen.hls.project import write_hls_project as write
    else:
        from mcuforge.codegen.rtl.project import write_rtl_project as write
    nodes = [helper.make_node("Gemm", ["x", "W"], ["h"], name="fc"),
             helper.make_node("LogSoftmax", ["h"], ["y"], name="the_log_softmax", axis=1)]
    w = helper.make_tensor("W", TensorProto.FLOAT, [8, 4], np.linspace(-1, 1, 32).tolist())
    graph = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [w])
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(tmp_path / "m.onnx"))
    with pytest.raises(UnsupportedOpError, match=r"'log_softmax' at node 'the_log_softmax'.*HLS and RTL") as e:
        write(tmp_path / "m.onnx", tmp_path / "out", calib=np.zeros((2, 1, 8), np.float32))
    assert "\n" not in str(e.value) and not (tmp_path / "out").exists()
