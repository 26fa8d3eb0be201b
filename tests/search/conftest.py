"""A small MobileNet-style CNN on scikit-learn's digits, trained once per session (BatchNorm kept
in its ONNX file for ZeroQ), and an Evaluator over 200 of its test digits."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def digits_cnn(tmp_path_factory):
    """(onnx path, float test accuracy, (x_train, y_train, x_test, y_test))"""
    import digits_cnns
    return digits_cnns.trained_onnx("mobilenet", tmp_path_factory.mktemp("digits"), epochs=6, width=8)


@pytest.fixture(scope="session")
def evaluator(digits_cnn):
    from mcuforge.search.evaluate import Evaluator
    path, _, (xtr, _, xte, yte) = digits_cnn
    return Evaluator(path, xte[:200], yte[:200], xtr[:128])
