"""Shared fixtures: the trained MNIST example model (trained once per test session)."""
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))


@pytest.fixture(scope="session")
def mnist(tmp_path_factory):
    """(onnx_path, (x_train, y_train, x_test, y_test)) of the example CNN."""
    import mnist_cnn
    out = tmp_path_factory.mktemp("mnist")
    return mnist_cnn.trained_model(out)


@pytest.fixture(scope="session")
def mnist_int8(mnist, tmp_path_factory):
    """The example CNN compiled to int8 for Cortex-M4, calibrated on 200 training images."""
    from mcuforge.api import compile_model
    onnx_path, (xtr, _, _, _) = mnist
    out = tmp_path_factory.mktemp("mnist_int8") / "lib"
    compile_model(onnx_path, out, target="cortex-m4", quant="int8", calib=xtr[:200], quiet=True)
    return out


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
