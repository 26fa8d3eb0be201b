"""Shared, expensive fixtures of the FPGA tests: trained models (once per session) and the
generated projects with their builds (once per module that uses them)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import fpga_models as models  # noqa: E402


class Trained:
    def __init__(self, module, onnx: Path, calib: np.ndarray, x_test, y_test):
        self.module, self.onnx, self.calib, self.x_test, self.y_test = module, onnx, calib, x_test, y_test


@pytest.fixture(scope="session")
def digits():
    return models.digits()


@pytest.fixture(scope="session")
def mlp(digits, tmp_path_factory):
    xtr, ytr, xte, yte = digits
    m = models.train(models.mlp_module(), xtr, ytr, epochs=10)
    path = models.export(m, tmp_path_factory.mktemp("mlp") / "mlp.onnx")
    return Trained(m, path, xtr[:128], xte, yte)


@pytest.fixture(scope="session")
def cnn(digits, tmp_path_factory):
    xtr, ytr, xte, yte = digits
    m = models.train(models.cnn_module(), xtr, ytr, epochs=12)
    path = models.export(m, tmp_path_factory.mktemp("cnn") / "cnn.onnx")
    return Trained(m, path, xtr[:128], xte, yte)
