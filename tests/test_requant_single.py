"""requant="single" (int8 from ONNX; the default for models quantized here since it matched the
oracle better, tests/test_requant_default.py): every requantization rounds the exact product once
instead of TFLite's double rounding. Outside oracle: onnxruntime's own QDQ model (ORT_DISABLE_ALL) agrees
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
    double = arith.multiply_by_quantized_multiplier(x, m, s)   # outside rounding("single"): TFLite's double
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
    double = compile_model(qdq, tmp_path / "double", calib=calib, quiet=True, requant="double")
    single = compile_model(qdq, tmp_path / "single", calib=calib, quiet=True)   # the default for ONNX
    assert (single.out_dir / "mcuforge_runtime" / "include" / "mcf_config.h").is_file()
    a_double, a_single = _agreement(double, x, want), _agreement(single, x, want)
    # measured: 44 % -> 100 % identical on 32 inputs; a wide margin against sample noise
    assert a_single >= 0.95 and a_single > a_double + 0.2, (a_double, a_single)


def test_single_rounding_refused_for_tflite(tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(conv())
    with pytest.raises(McuforgeError, match="requant='single' is for int8 models quantized from ONNX"):
        compile_model(path, tmp_path / "lib", quiet=True, requant="single")


# Every corpus network (TorchScript export, onnxruntime's QDQ model, the fixture inputs) under
# requant="single", host C == golden model, against onnxruntime: (share identical, share within
# 1 LSB) at least, as measured. The left-overs: mobilenet_v2 (87.5 % within 1 LSB) and unet
# (99.99 %) are not listed: onnxruntime's float32 Add lands on the other side of a near-tie now
# and then (2 of the 65,536 input pairs of mobilenet_v2's first Add, each a fraction of .5 or
# .500001), and mobilenet_v2 amplifies such a flip to 3 LSB at the output (docs/int16.md); unet's
# bilinear Resize weighs in float32. requant="ort" reproduces both: tests/test_ort_float.py.
SINGLE_CORPUS = {"ds_cnn": (1.0, 1.0), "squeezenet": (1.0, 1.0), "mobilenet_v1": (1.0, 1.0), "resnet": (1.0, 1.0),
                 "mnasnet": (1.0, 1.0), "efficientnet_b0": (1.0, 1.0), "efficientnet_lite": (1.0, 1.0),
                 "shufflenet_v2": (1.0, 1.0), "tiny_yolo": (1.0, 1.0), "autoencoder": (0.99, 1.0),
                 "mobilenet_v3_small": (0.9, 1.0), "kwt": (0.45, 1.0)}


@pytest.mark.slow
@pytest.mark.parametrize("net", list(SINGLE_CORPUS))
def test_single_rounding_corpus_within_1_lsb_of_onnxruntime(net, tmp_path):
    r = check.onnx_int8(net, "ts", tmp_path, requant="single")
    print(f"\n{net}.ts single: {r['exact']:.4f} identical, {r['within1']:.4f} within 1 LSB, max {r['max_lsb']} LSB")
    exact, within1 = SINGLE_CORPUS[net]
    assert r["within1"] >= within1 and r["exact"] >= exact, r


def test_single_rounding_efficientnet_block_identical_to_onnxruntime(tmp_path):
    """The squeeze-excite network, fast: golden model (single rounding) identical to onnxruntime's
    QDQ model on every output. Before: 28 % identical, up to 3 LSB off, because its sigmoids were
    put on TFLite's fixed 1/256 grid instead of the model's and its global pools rounded twice
    (to the input's grid, then to the model's 10x finer one)."""
    from mcuforge.api import prepare_graph
    from mcuforge.reference.executor import Executor
    net = "efficientnet_b0"
    calib, x = check.samples(net)
    qdq = check.ort_qdq_model(check.onnx_path(net, "ts"), calib, tmp_path / "qdq.onnx")
    want = check.ort_run(qdq, x, disable_opt=True)[0]
    g, _ = prepare_graph(qdq, calib=calib, quiet=True, requant="single")
    ops = {n.op for n in g.nodes.values()}
    assert "mean" in ops and "requantize" not in ops
    (inp,), (out,) = g.inputs, g.outputs
    qi, qo = g.tensors[inp].quant, g.tensors[out].quant
    xq = np.clip(np.round(x / qi.scale[0]) + qi.zero_point[0], -128, 127).astype(np.int8)
    perm = g.meta.get("io_perm", {}).get(inp)
    xq = xq.transpose(perm) if perm else xq
    ex = Executor(g)
    got = np.concatenate([np.asarray(ex.run({inp: xq[i:i + 1]})[out]).reshape(1, -1) for i in range(len(x))])
    wq = np.clip(np.round(want / qo.scale[0]) + qo.zero_point[0], -128, 127).reshape(got.shape)
    assert np.array_equal(got, wq)
