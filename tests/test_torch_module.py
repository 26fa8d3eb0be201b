"""compile_model / simulate straight from a torch.nn.Module (issue 9 item 4): the module is exported
with torch's dynamo exporter inside; example inputs and calibration samples may be torch tensors.
Oracle: the module itself (float32, rel 1e-4) and its float output for int8 (within 2 output LSB)."""
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")

from corpus.nets import build, input_batch  # noqa: E402
from mcuforge.api import compile_model, simulate  # noqa: E402
from mcuforge.errors import McuforgeError  # noqa: E402


@pytest.fixture(scope="module")
def ds_cnn():
    model, x = build("ds_cnn")
    return model, x


def test_float32_module_matches_torch(ds_cnn, tmp_path):
    model, x = ds_cnn
    res = compile_model(model, tmp_path / "lib", quant="float32", example_inputs=x, quiet=True)
    assert res.info["source"] == "dscnn.onnx" and res.graph.name == "dscnn"
    xs = torch.from_numpy(input_batch("ds_cnn", 4))
    with torch.no_grad():
        want = model(xs).numpy()
    got, _ = simulate(tmp_path / "lib", "host", xs)  # a torch tensor goes in as it is
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert not model.training  # left in the mode it came in


@pytest.mark.slow
def test_int8_module_with_tensor_calibration(ds_cnn, tmp_path):
    model, x = ds_cnn
    calib = torch.from_numpy(input_batch("ds_cnn", 16, seed=3))
    res = compile_model(model, tmp_path / "lib", quant="int8", example_inputs=x.numpy(), calib=calib, quiet=True)
    q = res.info["outputs"][0]["quant"]
    xs = torch.from_numpy(input_batch("ds_cnn", 8, seed=4))
    with torch.no_grad():
        want = model(xs).numpy()
    got, _ = simulate(tmp_path / "lib", "host", xs)
    assert got.dtype == np.int8 and got.shape == want.shape
    deq = (got.astype(np.float64) - q["zero_point"]) * q["scale"]
    err = np.abs(deq - want) / q["scale"]
    print(f"\nint8 vs torch float: max {err.max():.2f} LSB, mean {err.mean():.2f}")
    assert err.max() <= 4 and err.mean() <= 1.0
    assert np.array_equal(np.argmax(deq, 1), np.argmax(want, 1))


def test_module_needs_example_inputs(ds_cnn, tmp_path):
    with pytest.raises(McuforgeError, match="example_inputs"):
        compile_model(ds_cnn[0], tmp_path / "lib", quant="float32", quiet=True)
    assert not (tmp_path / "lib").exists()


@pytest.mark.slow  # torch.export tries twice (strict and non-strict) before it gives up
def test_export_failure_is_one_line(tmp_path):
    class DataDependent(torch.nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x  # control flow on data: torch.export refuses it

    with pytest.raises(McuforgeError) as e:
        compile_model(DataDependent(), tmp_path / "lib", quant="float32", example_inputs=torch.randn(1, 4), quiet=True)
    msg = str(e.value)
    assert "\n" not in msg and "DataDependent" in msg and "data-dependent" in msg
    assert not (tmp_path / "lib").exists()


def test_missing_onnxscript_is_a_clear_error(ds_cnn, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # import onnxscript -> ImportError
    with pytest.raises(McuforgeError, match="pip install onnxscript"):
        compile_model(ds_cnn[0], tmp_path / "lib", quant="float32", example_inputs=ds_cnn[1], quiet=True)
