"""TFLite's 16x8 scheme (int16 activations, int8 weights, int64 / int32 bias) byte-exact with
tflite-micro: the golden model on every single-op model of int16_models.CASES, the generated C
on the host for TensorFlow-converted networks (tests/corpus/make_int16_fixtures.py) and the ops
they do not reach, and under QEMU on a Cortex-M4 for one network. Range proofs refuse a 16x8
layer whose arithmetic would leave TFLite's bounds, naming it."""
from pathlib import Path

import numpy as np
import pytest

from mcuforge.api import compile_model, simulate
from mcuforge.errors import McuforgeError, UnsupportedOpError
from mcuforge.frontend.tflite import load_tflite_bytes
from mcuforge.reference.executor import Executor
from mcuforge.sim.tflm import TflmModel

from int16_models import CASES, conv, model_inputs, transpose_conv, unary
from tflite_builder import OP

FIXTURES = Path(__file__).parent / "corpus" / "fixtures"
NETS = ("mix16", "keras_ds_cnn", "keras_resnet")


def _tflm_outputs(buf, samples):
    t = TflmModel(buf, arena_size=1 << 21)
    return [t.run(*s)[0] for s in samples]


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_matches_tflite_micro(case):
    fn, scale = CASES[case]
    buf = fn()
    g = load_tflite_bytes(buf)
    ex = Executor(g)
    samples = model_inputs(buf, 4, scale)
    for k, (s, want) in enumerate(zip(samples, _tflm_outputs(buf, samples))):
        got = ex.run(dict(zip(g.inputs, s)))[g.outputs[0]]
        assert got.dtype == want.dtype, case
        assert np.array_equal(got.reshape(want.shape), want), f"{case}: sample {k} differs"


def _c_matches(buf, tmp_path, board="host", n=3, scale=1.0):
    path = tmp_path / "m.tflite"
    path.write_bytes(buf)
    res = compile_model(path, tmp_path / "lib", target="cortex-m4", quiet=True)
    samples = model_inputs(buf, n, scale)
    batches = [np.stack([s[k] for s in samples]) for k in range(len(samples[0]))]
    ours, info = simulate(tmp_path / "lib", board, batches if len(batches) > 1 else batches[0], quiet=True)
    for k, want in enumerate(_tflm_outputs(buf, samples)):
        assert ours[k].dtype == want.dtype
        assert np.array_equal(ours[k].reshape(want.shape), want), f"sample {k} differs on {board}"
    return res, info


@pytest.mark.parametrize("net", NETS)
def test_converted_network_c_byte_exact(net, tmp_path):
    """TensorFlow's converter output (16x8) through the host C build == tflite-micro."""
    res, _ = _c_matches((FIXTURES / f"{net}_int16.tflite").read_bytes(), tmp_path, scale=0.3)
    assert {io["dtype"] for io in res.info["inputs"] + res.info["outputs"]} == {"int16"}


def test_mix16_on_cortex_m4(tmp_path):
    _, info = _c_matches((FIXTURES / "mix16_int16.tflite").read_bytes(), tmp_path, board="mps2-an386", n=2,
                         scale=0.3)
    assert info["instructions"] > 0


@pytest.mark.parametrize("case", ["depthwise_m1_odd", "conv_bias32"])
def test_dsp_variants_on_cortex_m4(case, tmp_path):
    """The DSP kernels (SMLALD conv over a gathered window, two-channel depthwise) on their edge
    cases: an odd channel count (the scalar tail) and an int32 bias."""
    fn, scale = CASES[case]
    res, _ = _c_matches(fn(), tmp_path, board="mps2-an386", n=2, scale=scale)
    assert any(l.endswith("_s16_dsp.c") for l in res.info["runtime_sources"])


# single-op cases the converted networks do not reach (the full sweep is the slow test below)
C_EXTRA = ("conv_bias32", "sub", "quantize_s8_s16", "quantize_s16_s8", "add_broadcast_relu", "float_io")


@pytest.mark.parametrize("case", C_EXTRA)
def test_single_op_c_byte_exact(case, tmp_path):
    fn, scale = CASES[case]
    _c_matches(fn(), tmp_path, scale=scale)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(set(CASES) - set(C_EXTRA)))
def test_single_op_c_byte_exact_all(case, tmp_path):
    fn, scale = CASES[case]
    _c_matches(fn(), tmp_path, scale=scale)


@pytest.mark.slow
def test_mobilenet_v1_16x8(tmp_path):
    _c_matches((FIXTURES / "keras_mobilenet_v1_int16.tflite").read_bytes(), tmp_path, n=2, scale=0.3)


def test_int16_accumulator_beyond_2_pow_47_is_refused(tmp_path):
    g = load_tflite_bytes(conv())
    b = next(t for t in g.tensors.values() if t.dtype == "int64")
    b.data = b.data.copy()
    b.data[0] = 1 << 47
    with pytest.raises(McuforgeError, match=r"conv2d node .*int64 accumulator can reach .*2\^47"):
        compile_model(g, tmp_path / "lib", target="host", quiet=True)
    assert not (tmp_path / "lib").exists()


def test_int16_requantization_overflow_is_refused(tmp_path):
    g = load_tflite_bytes(conv())
    out = g.tensors[g.outputs[0]]
    out.quant = type(out.quant)(out.quant.s * 1e-6, 0)
    with pytest.raises(McuforgeError, match=r"conv2d node .*overflows int32"):
        compile_model(g, tmp_path / "lib", target="host", quiet=True)


@pytest.mark.parametrize("make", [lambda: conv(depthwise=True, bias="int32"), lambda: transpose_conv(bias="int32")])
def test_int32_bias_on_16x8_depthwise_and_transpose_conv_is_refused(make, tmp_path):
    """tflite-micro reads those biases as int64 whatever their type; refused naming the layer."""
    with pytest.raises(McuforgeError, match=r"node .*needs an int64 bias"):
        compile_model(load_tflite_bytes(make()), tmp_path / "lib", target="host", quiet=True)


def test_int16_logistic_needs_its_output_grid():
    with pytest.raises(McuforgeError, match="int16 LOGISTIC needs output scale 1/32768"):
        load_tflite_bytes(unary(OP.LOGISTIC, 0.0003, out_scale=1 / 256))


def test_int16_op_without_16x8_semantics_fails_in_one_line(tmp_path):
    """An int16 op without 16x8 semantics here (LEAKY_RELU) is refused naming op and node."""
    with pytest.raises(UnsupportedOpError) as e:
        compile_model(load_tflite_bytes(unary(OP.LEAKY_RELU, 0.0003, out_scale=0.0002)), tmp_path / "lib",
                      target="host", quiet=True)
    msg = str(e.value)
    assert "leakyrelu" in msg and "int16" in msg and "\n" not in msg
