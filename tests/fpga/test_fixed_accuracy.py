"""Fixed-point accuracy of the small CNN on its test set, against the float model in torch (the
outside anchor of the golden model's fixed-point chain)."""
import numpy as np

import fpga_models as models
from mcuforge.codegen.fpga.layout import to_graph_layout
from mcuforge.codegen.fpga.prepare import prepare_fixed
from mcuforge.quant.fixed import input_to_raw
from mcuforge.reference.executor import Executor


def fixed_accuracy(trained) -> float:
    g = prepare_fixed(trained.onnx, calib=trained.calib)
    name = g.inputs[0]
    x = to_graph_layout(g, name, trained.x_test)  # NCHW -> the graph's NHWC when it has images
    ex = Executor(g)
    preds = [int(np.argmax(ex.run({name: input_to_raw(g, name, x[i:i + 1])})[g.outputs[0]])) for i in range(len(x))]
    return float(np.mean(np.array(preds) == trained.y_test))


def test_cnn_fixed_accuracy_close_to_float(cnn):
    float_acc = models.float_accuracy(cnn.module, cnn.x_test, cnn.y_test)
    acc = fixed_accuracy(cnn)
    assert float_acc > 0.85, "the CNN did not train"
    assert abs(acc - float_acc) <= 0.02, (acc, float_acc)


def test_mlp_fixed_accuracy_close_to_float(mlp):
    float_acc = models.float_accuracy(mlp.module, mlp.x_test, mlp.y_test)
    assert float_acc > 0.9
    assert abs(fixed_accuracy(mlp) - float_acc) <= 0.02
