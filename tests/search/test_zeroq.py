"""ZeroQ: the torch interpreter of the ONNX model agrees with onnxruntime, distillation lowers
the BatchNorm-statistics loss, and the distilled data calibrates a working int8 model."""
import numpy as np
import pytest

from mcuforge.errors import McuforgeError


def test_torch_interpreter_matches_onnxruntime(digits_cnn):
    import onnxruntime as ort
    import torch

    from mcuforge.search.zeroq import TorchOnnx
    path, _, (_, _, xte, _) = digits_cnn
    net = TorchOnnx(path)
    assert len(net.bn_nodes) >= 5
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = np.concatenate([sess.run(None, {"image": xte[i:i + 1]})[0] for i in range(6)])
    with torch.no_grad():
        got = net.run(torch.from_numpy(xte[:6]))[0][0].numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_distillation_lowers_the_batchnorm_loss_and_calibrates(digits_cnn, evaluator):
    from mcuforge.search.evaluate import Evaluator
    from mcuforge.search.zeroq import distill
    path, _, (xtr, _, xte, yte) = digits_cnn
    x, info = distill(path, n=24, iters=40, seed=0, input_range=(0.0, 1.0))
    assert x.shape == (24, 1, 8, 8) and x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    assert info["loss_end"] < 0.5 * info["loss_start"]
    ev = Evaluator(path, xte[:200], yte[:200], xtr[:128], distilled=x)
    cfg = dict(calib="minmax", clip=1.0, weights="per_channel", acts="asymmetric", n_calib=128)
    real = evaluator(cfg)["accuracy"]
    distilled = ev(dict(cfg, data="distilled"))["accuracy"]
    print(f"\nreal-data calibration {real:.3f}, distilled (40 steps) {distilled:.3f}")
    assert real > 0.8 and distilled > real - 0.05


def test_a_model_without_batchnorm_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from mcuforge.search.zeroq import TorchOnnx
    node = helper.make_node("Relu", ["x"], ["y"])
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4])])
    onnx.save(helper.make_model(g), tmp_path / "m.onnx")
    with pytest.raises(McuforgeError, match="BatchNormalization"):
        TorchOnnx(tmp_path / "m.onnx")
