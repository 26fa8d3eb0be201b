"""TFLite INT4 weights (TensorType 17: two a byte, low nibble first) on CONV_2D, DEPTHWISE_CONV_2D
and FULLY_CONNECTED, as tflite-micro runs them: imported as int4 layers (attrs weight_bits 4),
byte-exact tflite-micro == golden == host C == QEMU Cortex-M4, flash counting the packed bytes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mcuforge.api import compile_model, load_model, simulate
from mcuforge.errors import McuforgeError
from mcuforge.frontend.tflite import load_tflite_bytes as _load_bytes
from mcuforge.sim.tflm import TflmModel

from tflite_builder import OP, ModelBuilder, conv_opts, fc_opts


def int4_model(seed=0, cin=5, c1=6, mult=2, fc_out=7, hw=(7, 6), wtype="int4", per_channel=True):
    """conv 3x3 (SAME, relu) -> depthwise 3x3 (multiplier, stride 2) -> fully connected, INT4 weights
    in [-7, 7], conv / depthwise per channel (or per tensor), FC per tensor; odd counts, so the
    last byte of a tensor is half used."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    h, w = hw
    x = b.tensor((1, h, w, cin), scale=0.04, zp=-5)
    s_x = 0.04

    def weights(shape, axis, n, per_channel=per_channel):
        scale = rng.uniform(0.01, 0.04, n) if per_channel else np.full(1, 0.025)
        data = rng.integers(-7, 8, shape)
        t = b.tensor(shape, dtype=wtype, scale=scale, zp=np.zeros(len(scale), int),
                     axis=axis if per_channel else None, data=data)
        return t, np.broadcast_to(scale, (n,))

    w1, s1 = weights((c1, 3, 3, cin), 0, c1)
    b1 = b.tensor((c1,), dtype="int32", scale=s_x * s1, zp=np.zeros(c1, int), axis=0,
                  data=rng.integers(-300, 300, c1))
    y1 = b.tensor((1, h, w, c1), scale=0.08, zp=-128)
    b.op(OP.CONV_2D, [x, w1, b1], [y1], **conv_opts(act="relu"))
    c2 = c1 * mult
    w2, s2 = weights((1, 3, 3, c2), 3, c2)
    b2 = b.tensor((c2,), dtype="int32", scale=0.08 * s2, zp=np.zeros(c2, int), axis=0,
                  data=rng.integers(-200, 200, c2))
    oh, ow = -(-h // 2), -(-w // 2)
    y2 = b.tensor((1, oh, ow, c2), scale=0.1, zp=3)
    b.op(OP.DEPTHWISE_CONV_2D, [y1, w2, b2], [y2], **conv_opts(stride=(2, 2), depth_multiplier=mult))
    k = oh * ow * c2
    # per-tensor: the installed tflite-micro refuses per-channel INT4 FULLY_CONNECTED weights
    # (fully_connected_common.cc: "filter->type != kTfLiteInt4" on the per-channel path)
    w3, s3 = weights((fc_out, k), 0, fc_out, per_channel=False)
    b3 = b.tensor((fc_out,), dtype="int32", scale=0.1 * s3[0], zp=0, data=rng.integers(-500, 500, fc_out))
    y3 = b.tensor((1, fc_out), scale=0.3, zp=-7)
    b.op(OP.FULLY_CONNECTED, [y2, w3, b3], [y3], **fc_opts())
    return b.build([x], [y3])


def _inputs(n, shape=(7, 6, 5), seed=3):
    return np.random.default_rng(seed).integers(-128, 128, (n,) + shape).astype(np.int8)


def _tflm(buf, x):
    m = TflmModel(buf)
    return np.stack([m.run(xi[None])[0].reshape(-1) for xi in x])


def test_tflm_runs_int4_like_int8_of_same_values():
    """The oracle really reads INT4: the same values stored as INT8 give the same bytes, and the
    packed file is smaller by about half of the weights."""
    x = _inputs(4)
    a, b = int4_model(wtype="int4"), int4_model(wtype="int8")
    assert np.array_equal(_tflm(a, x), _tflm(b, x))
    n_weights = 6 * 9 * 5 + 9 * 12 + 7 * 4 * 3 * 12
    assert len(b) - len(a) >= n_weights // 2 - 16


def test_import_marks_int4_layers():
    g = load_tflite_bytes(int4_model())
    layers = [n for n in g.topo_order() if n.op in ("conv2d", "dense")]
    assert [n.attrs.get("weight_bits") for n in layers] == [4, 4, 4]
    for n in layers:
        w = g.tensors[n.inputs[1]].data
        assert w.dtype == np.int8 and np.abs(w).max() == 7


def load_tflite_bytes(buf):
    return _load_bytes(buf, "m")


def check_int4_chain(tmp_path, board, target, n=5, **kw):
    buf = int4_model(**kw)
    path = tmp_path / "m.tflite"
    path.write_bytes(buf)
    res = compile_model(path, tmp_path / board, target=target, quiet=True)
    x = _inputs(n, (7, 6, kw.get("cin", 5)))
    theirs = _tflm(buf, x)
    ref, _ = simulate(tmp_path / board, board="reference", x=x, quiet=True)
    ours, _ = simulate(tmp_path / board, board=board, x=x, quiet=True)
    assert np.array_equal(ref.reshape(n, -1), theirs), "golden model differs from tflite-micro"
    assert np.array_equal(ours.reshape(n, -1), theirs), f"{board} differs from tflite-micro"
    assert len(np.unique(theirs)) > 3
    return res.info


def _need_qemu():
    from mcuforge.sim import toolchain
    try:
        toolchain.qemu_arm(), toolchain.arm_gcc()
    except McuforgeError as e:
        pytest.skip(f"no Cortex-M toolchain/QEMU here: {e}")


TF_FIXTURE = Path(__file__).parent / "corpus" / "fixtures" / "tf_int4_qat.tflite"


def test_tf_converter_int4_tflm_golden_qemu_m4(tmp_path):
    """Default-run representative: TensorFlow 2.21's converter wrote INT4 conv / depthwise / FC
    weights (corpus/make_int4_fixture.py); tflite-micro == golden == QEMU Cortex-M4 byte for byte."""
    _need_qemu()
    buf = TF_FIXTURE.read_bytes()
    res = compile_model(TF_FIXTURE, tmp_path / "m4", target="cortex-m4", quiet=True)
    layers = [l for l in res.info["layers"] if l["op"] in ("conv2d", "dense")]
    assert [l["weight_bits"] for l in layers] == [4, 4, 4] and all("_w4" in l["kernel"] for l in layers)
    x = _inputs(8, (8, 8, 3), seed=4)
    theirs = _tflm(buf, x)
    ref, _ = simulate(tmp_path / "m4", board="reference", x=x, quiet=True)
    ours, _ = simulate(tmp_path / "m4", board="mps2-an386", x=x, quiet=True)
    assert np.array_equal(ref.reshape(8, -1), theirs) and np.array_equal(ours.reshape(8, -1), theirs)
    assert len(np.unique(theirs)) > 5
    # flash: the weights at 4 bits (conv rows of 27 = three kernel rows of 9, each padded to 12 for
    # the DSP kernel's groups of 4: 36 nibbles, 18 bytes; depthwise 72 / 2; the single-row FC's radix
    # layout holds 4 channels a halfword, 10 outputs padded to 12: 12 * 128 / 2) + constants: the
    # convolution and depthwise 7 bytes a channel (int16 biases, TFLite's int32 multipliers), the
    # FC 9 (its exponents four a word: 8 * 10 + 12), + 4 for its sentinel word (128 -> 10 is a head,
    # dsp_fc_radix.py: head_ok); int8 storage would be 1568 + 12 a channel
    assert [l["weight_bytes"] for l in layers] == [8 * 18 + 7 * 8, 36 + 7 * 8, 12 * 128 // 2 + 8 * 10 + 12 + 4]


@pytest.mark.slow
def test_int4_tflm_golden_qemu_m4(tmp_path):
    """The builder's chain (odd sizes, depth multiplier 2, stride 2) on QEMU M4, packed flash."""
    _need_qemu()
    info = check_int4_chain(tmp_path, "mps2-an386", "cortex-m4")
    layers = [l for l in info["layers"] if l["op"] in ("conv2d", "dense")]
    assert [l["weight_bits"] for l in layers] == [4, 4, 4]
    assert all("_w4" in l["kernel"] for l in layers), [l["kernel"] for l in layers]
    # flash counts the packed bytes: the weights at 4 bits, each channel's row padded to whole 32-bit
    # words by the DSP conv kernel (conv2d_w4_dsp: 45 weights -> 24 bytes) in channel pairs, the
    # general depthwise kernel's padded tap pairs, the FC row's radix layout, dense for the
    # portable / _fast kernels; constants: int16 or int32 bias (whichever the layer's biases fit; the DSP FC row int32), the multiplier in int32
    # (TFLite's scales: not a 16-bit mantissa, so no uint16 form) and an int8 shift
    import re
    src = next((tmp_path / "mps2-an386").glob("*_weights.c")).read_text()
    for i, (l, n, row, ch) in enumerate(zip(layers, [6 * 45, 12 * 9, 7 * 144], [24, None, 72], [6, 12, 7])):
        bias16 = re.search(rf"_L{i}_bias16\[", src) is not None
        assert not re.search(rf"_L{i}_mult16\[", src)
        consts = ch * ((2 if bias16 else 4) + 4 + 1)
        if l["kernel"].endswith(("_dsp", "_dsp_head")) and l["op"] == "dense":
            # the single-row FC's radix layout: 4 channels a halfword per input (7 -> 8), its
            # constants packed in one int32 array: doubled bias and multiplier, exponents four a word;
            # 144 -> 7 is a head (dsp_fc_radix.py: head_ok): + the 8-channel loop's sentinel word
            want = 8 * 144 // 2 + 8 * ch + 4 * -(-ch // 4) + 4 * l["kernel"].endswith("_head")
        elif l["kernel"].endswith("_dsp") and row:
            want = (ch + ch % 2) * row + consts          # channel pairs (an odd last one padded)
        elif l["kernel"].endswith("_dsp_gen"):
            # the depth-multiplier-2 depthwise: the int8 general kernel's halfwords, each 3-tap row
            # padded to 2 tap pairs (12 a channel), 8 nibbles a word (dsp_gen_layout)
            want = 4 * -(-ch * 12 // 8) + consts
        else:
            want = -(-n // 2) + consts
        assert l["weight_bytes"] == want, (l["kernel"], l["weight_bytes"], want)


@pytest.mark.slow
@pytest.mark.parametrize("per_channel", [True, False])
def test_int4_tflm_golden_host(tmp_path, per_channel):
    info = check_int4_chain(tmp_path, "host", "host", n=8, per_channel=per_channel, seed=1)
    assert info["weight_bits"] and set(info["weight_bits"].values()) == {4}


@pytest.mark.slow
def test_int4_portable_and_m3(tmp_path):
    _need_qemu()
    check_int4_chain(tmp_path, "mps2-an385", "cortex-m3", seed=2, cin=3, c1=9, mult=1, fc_out=5)


def test_int4_refusals(tmp_path):
    b = ModelBuilder()
    x = b.tensor((1, 4, 4, 2), scale=0.05, zp=0)
    w = b.tensor((3, 1, 1, 2), dtype="int4", scale=np.full(3, 0.02), zp=np.zeros(3, int), axis=0,
                 data=np.array([[-8, 1], [2, 3], [4, 5]]).reshape(3, 1, 1, 2))
    y = b.tensor((1, 4, 4, 3), scale=0.1, zp=0)
    b.op(OP.CONV_2D, [x, w], [y], **conv_opts())
    with pytest.raises(McuforgeError, match=r"CONV_2D.*-8.*\[-7, 7\]"):
        load_tflite_bytes(b.build([x], [y]))
