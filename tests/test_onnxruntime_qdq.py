"""Anchor of the int8 chain to an outside oracle: onnxruntime's own QDQ quantization of the example
CNN, imported with its scales, must agree with our int8 code within 1 LSB on 99% of values
(onnxruntime run without graph optimizations, so it simulates quantization exactly)."""
import numpy as np

from mcuforge.api import compile_model, simulate


def _ort_qdq_model(onnx_path, calib, out_path):
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"image": calib[i:i + 1]} for i in range(len(calib))])

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(onnx_path), str(out_path), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True)


def test_int8_agrees_with_onnxruntime_qdq(mnist, tmp_path):
    import onnxruntime as ort
    onnx_path, (xtr, _, xte, _) = mnist
    qdq = tmp_path / "mnist_qdq.onnx"
    _ort_qdq_model(onnx_path, xtr[:100], qdq)
    # scales come from the QDQ model itself; calibration only fills tensors it leaves unannotated
    res = compile_model(qdq, tmp_path / "lib", quant="int8", calib=xtr[:100], quiet=True)
    out_q = res.info["outputs"][0]["quant"]

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(qdq), opts, providers=["CPUExecutionProvider"])
    x = xte[:200]
    ort_out = np.concatenate([sess.run(None, {"image": x[i:i + 1]})[0] for i in range(len(x))])
    ort_q = np.round(ort_out / out_q["scale"]) + out_q["zero_point"]

    ours, _ = simulate(tmp_path / "lib", "host", x)
    diff = np.abs(ours.astype(np.int64) - ort_q.astype(np.int64))
    print(f"\nours vs onnxruntime QDQ: {np.mean(diff == 0):.4f} identical, {np.mean(diff <= 1):.4f} within 1 LSB, "
          f"max {diff.max()} LSB")
    assert np.mean(diff <= 1) >= 0.99
