"""requant="single" (int8 from ONNX): every requantization rounds the exact product once instead of
TFLite's double rounding. Outside oracle: onnxruntime's own QDQ model (ORT_DISABLE_ALL) agrees
with it far more often end to end (benchmarks/qdq_gap.py, docs/int16.md); the generated C equals
the golden model byte for byte; a .tflite model refuses the option."""
import numpy as np
import pytest

from mcuforge.api import compile_model, simulate
from mcuforge.errors import McuforgeError

from corpus import check
from int16_models import conv

NET = "resnet"


def test_single_rounding_is_one_rounding_of_the_exact_product():
    from fractions import Fraction
    from mcuforge.reference import arith
    rng = np.random.default_rng(3)
    x = rng.integers(-(1 << 24), 1 << 24, 4000)
    m = rng.integers(1 << 30, (1 << 31) - 1, 4000)
    s = rng.integers(-20, 3, 4000)
    with arith.rounding("single"):
        got = arith.multiply_by_quantized_multiplier(x, m, s)
    want = [int(np.floor(Fraction(int(a) * int(b)) * Fraction(2) ** (int(e) - 31) + Fraction(1, 2)))
            if (int(a) << max(int(e), 0)) < (1 << 31) else None for a, b, e in zip(x, m, s)]
    ok = [w is None or g == w for g, w in zip(got.tolist(), want)]
    assert all(ok)
    double = arith.multiply_by_quantized_multiplier(x, m, s)   # the default is TFLite's double rounding
    assert np.any(double != got)


def test_single_rounding_c_equals_golden(tmp_path):
    calib, x = check.samples("autoencoder")
    res = compile_model(check.onnx_path("autoencoder", "ts"), tmp_path / "lib", calib=calib, quiet=True,
                        requant="single")
    assert (res.out_dir / "mcuforge_runtime" / "include" / "mcf_config.h").is_file()
    got, _ = simulate(res.out_dir, "host", x, quiet=True)
    ref, _ = simulate(res.out_dir, "reference", x, quiet=True)
    assert np.array_equal(got, ref)


def _agreement(res, x, want):
    q = res.info["outputs"][0]["quant"]
    wq = np.clip(np.round(want / q["scale"]) + q["zero_point"], -128, 127)
    got, _ = simulate(res.out_dir, "host", x, quiet=True)
    ref, _ = simulate(res.out_dir, "reference", x, quiet=True)
    assert np.array_equal(got, ref), "host C differs from the golden model"
    return float(np.mean(got.reshape(wq.shape) == wq))


@pytest.mark.slow
def test_single_rounding_matches_onnxruntime_qdq(tmp_path):
    calib, _ = check.samples(NET)
    x = (np.random.default_rng(7).standard_normal((12,) + calib.shape[1:]) * calib.std()
         + calib.mean()).astype(np.float32)
    qdq = check.ort_qdq_model(check.onnx_path(NET, "ts"), calib, tmp_path / "qdq.onnx")
    want = check.ort_run(qdq, x, disable_opt=True)[0]
    double = compile_model(qdq, tmp_path / "double", calib=calib, quiet=True)
    single = compile_model(qdq, tmp_path / "single", calib=calib, quiet=True, requant="single")
    assert (single.out_dir / "mcuforge_runtime" / "include" / "mcf_config.h").is_file()
    a_double, a_single = _agreement(double, x, want), _agreement(single, x, want)
    # measured: 44 % -> 100 % identical on 32 inputs; a wide margin against sample noise
    assert a_single >= 0.95 and a_single > a_double + 0.2, (a_double, a_single)


def test_single_rounding_refused_for_tflite(tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(conv())
    with pytest.raises(McuforgeError, match="requant='single' is for int8 models quantized from ONNX"):
        compile_model(path, tmp_path / "lib", quiet=True, requant="single")
