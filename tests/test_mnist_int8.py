"""The example CNN end to end: int8 accuracy against float, and the generated C bit-exact with the
golden model on the host and on every emulated Cortex-M board."""
import numpy as np
import pytest

from mcuforge.api import simulate

BOARDS = ["mps2-an385", "mps2-an500", "mps2-an505", "mps3-an547", "microbit"]


def test_int8_accuracy_within_one_point_of_float(mnist, mnist_int8):
    import mnist_cnn
    onnx_path, (_, _, xte, yte) = mnist
    acc_float = mnist_cnn.onnx_accuracy(onnx_path, xte, yte)
    y_host, _ = simulate(mnist_int8, "host", xte, quiet=True)
    assert y_host.shape == (len(xte), 10) and y_host.dtype == np.int8
    acc_int8 = float((y_host.argmax(1) == yte).mean())
    print(f"\nMNIST-5k test set (1000 images): float {acc_float:.4f}, int8 host build {acc_int8:.4f}")
    assert acc_float > 0.9
    assert acc_int8 >= acc_float - 0.01


def test_qemu_m4_matches_golden_and_host_on_50_images(mnist, mnist_int8):
    _, (_, _, xte, _) = mnist
    x = xte[:50]
    y_ref, _ = simulate(mnist_int8, "reference", x)
    y_host, _ = simulate(mnist_int8, "host", x)
    y_m4, info = simulate(mnist_int8, "mps2-an386", x)
    assert np.array_equal(y_ref, y_host)
    assert np.array_equal(y_ref, y_m4)
    assert len(info["instructions_per_inference"]) == 50
    assert info["instructions"] > info["macs"] / 4  # a real measurement, not a placeholder
    assert info["flash_bytes"] > info["arena_bytes"] > 0
    assert info["ram_bytes"] >= info["arena_bytes"] + info["stack_bytes"]


@pytest.mark.parametrize("board", BOARDS)
def test_every_board_returns_the_same_bytes(mnist, mnist_int8, board):
    _, (_, _, xte, _) = mnist
    x = xte[:3]
    y_ref, _ = simulate(mnist_int8, "reference", x)
    y_board, info = simulate(mnist_int8, board, x)
    assert np.array_equal(y_ref, y_board)
    assert info["instructions"] > 0


def test_float32_build_matches_onnxruntime(mnist, tmp_path):
    import onnxruntime as ort

    from mcuforge.api import compile_model
    onnx_path, (_, _, xte, _) = mnist
    compile_model(onnx_path, tmp_path / "f32", target="cortex-m4", quant="float32", quiet=True)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    x = xte[:8]
    expected = np.concatenate([sess.run(None, {"image": x[i:i + 1]})[0] for i in range(len(x))])
    y_host, _ = simulate(tmp_path / "f32", "host", x)
    y_m4, _ = simulate(tmp_path / "f32", "mps2-an386", x[:2])
    np.testing.assert_allclose(y_host, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(y_m4, expected[:2], rtol=1e-4, atol=1e-4)
